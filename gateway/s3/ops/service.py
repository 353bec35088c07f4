"""ListBuckets: the top-level directories of the namespace."""

from __future__ import annotations

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.ops.common import wire_errors
from gateway.s3.request import S3Request
from plen.wire.namespace import DirEntry


async def list_buckets(s3: S3Request) -> web.Response:
    """Root sees every bucket; anyone else the buckets they own (plen/access.py)."""
    buckets: list[tuple[str, float]] = []
    with wire_errors("bucket"):
        if s3.principal.root:
            async for entry in s3.fs.iter_dir("/"):
                if isinstance(entry, DirEntry):
                    buckets.append((entry.name, entry.mtime))
        else:
            mine = await s3.fs.nameserver.list_buckets(owner=s3.principal.user)
            buckets = [(b.name, b.mtime) for b in mine.buckets]
    return web.Response(body=xml.list_all_my_buckets_result(owner=s3.owner, buckets=buckets),
                        content_type="application/xml")
