"""DeleteObjects: up to 1,000 keys in one request, deleted a bounded number at a time."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import from_wire
from gateway.s3.ops.common import is_marker_key
from gateway.s3.request import S3Request
from plen.access import DELETE_OBJECT
from plen.wire.errors import ErrorCode, WireError

CONCURRENCY = 32
_GONE = (ErrorCode.NOT_FOUND, ErrorCode.NOT_A_DIRECTORY, ErrorCode.IS_A_DIRECTORY)


async def delete_objects(s3: S3Request) -> web.Response:
    quiet, objects = xml.parse_delete(await s3.read_xml())
    await s3.require_bucket()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def delete(key: str) -> tuple[str, str] | None:
        path = f"{s3.bucket_path}/{key}"
        async with limit:
            if not await s3.may(DELETE_OBJECT, key=key):
                return "AccessDenied", "Access Denied"
            try:
                if is_marker_key(key):
                    await s3.fs.rmdir(path, unmark=True)
                else:
                    await s3.fs.delete_file(path)
            except WireError as err:
                if err.code in _GONE:
                    return None  # deleting what is not there succeeds, as in S3
                s3err = from_wire(err, "key")
                return s3err.code, s3err.message
        return None

    results = await asyncio.gather(*(delete(key) for key, _ in objects))
    deleted = [key for (key, _), failed in zip(objects, results) if failed is None]
    errors = [(key, *failed) for (key, _), failed in zip(objects, results) if failed is not None]
    body = xml.delete_result(deleted=[] if quiet else deleted, errors=errors)
    return web.Response(body=body, content_type="application/xml")
