"""Object tagging (Put/Get/DeleteObjectTagging), object ACLs and GetObjectAttributes.

Tags live in the object's metadata as the query string S3 takes in ``x-amz-tagging``;
changing them rewrites only that entry, never the object's blocks or its Last-Modified.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.headers import http_date
from gateway.s3.ops.common import (
    TAGGING_META,
    check_tags,
    checksums_by_algorithm,
    no_such_key,
    object_grants,
    parse_tags,
    requested_acl,
    stat_key,
)
from gateway.s3.request import ACL_META, S3Request
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import FileEntry, UpdateFileRequest


async def _file(s3: S3Request) -> FileEntry:
    s3.check_key()
    st = await stat_key(s3, s3.bucket, s3.key)
    if st.file is None:
        await no_such_key(s3, s3.bucket, s3.key)
    return st.file


async def _update(s3: S3Request, req: UpdateFileRequest) -> None:
    try:
        await s3.fs.nameserver.update_file(req)
    except WireError as err:
        if err.code in (ErrorCode.NOT_FOUND, ErrorCode.NOT_A_DIRECTORY,
                        ErrorCode.IS_A_DIRECTORY):
            await no_such_key(s3, s3.bucket, s3.key)
        raise


async def put_object_tagging(s3: S3Request) -> web.Response:
    s3.check_key()
    tags = xml.parse_tagging(await s3.read_xml())
    check_tags(tags)
    if tags:
        req = UpdateFileRequest(path=s3.object_path, set_meta={TAGGING_META: urlencode(tags)})
    else:
        req = UpdateFileRequest(path=s3.object_path, delete_meta=[TAGGING_META])
    await _update(s3, req)
    return web.Response(status=200)


async def get_object_tagging(s3: S3Request) -> web.Response:
    entry = await _file(s3)
    tags = parse_tags(entry.meta.get(TAGGING_META, ""))
    return web.Response(body=xml.tagging(tags=tags), content_type="application/xml")


async def delete_object_tagging(s3: S3Request) -> web.Response:
    await _update(s3, UpdateFileRequest(path=s3.object_path, delete_meta=[TAGGING_META]))
    return web.Response(status=204)


async def get_object_acl(s3: S3Request) -> web.Response:
    entry = await _file(s3)
    await s3.bucket_rules()  # the owner shown is the bucket's (plen/access.py Rule 3)
    grants = object_grants(s3.owner, entry.meta.get(ACL_META))
    return web.Response(body=xml.access_control_policy(owner=s3.owner, grants=grants),
                        content_type="application/xml")


async def put_object_acl(s3: S3Request) -> web.Response:
    await _file(s3)
    acl = await requested_acl(s3, on_object=True)
    if acl == "private":
        req = UpdateFileRequest(path=s3.object_path, delete_meta=[ACL_META])
    else:
        req = UpdateFileRequest(path=s3.object_path, set_meta={ACL_META: acl})
    await _update(s3, req)
    return web.Response(status=200)


async def get_object_attributes(s3: S3Request) -> web.Response:
    entry = await _file(s3)
    wanted = {a.strip() for a in s3.headers.get("x-amz-object-attributes", "").split(",")}
    if not wanted - {""}:
        raise S3Error("InvalidArgument", "Invalid attribute name specified.")
    object_checksums = checksums_by_algorithm(entry.meta)
    body = xml.get_object_attributes_response(
        etag=entry.md5 if "ETag" in wanted else None,
        checksums=object_checksums if "Checksum" in wanted and object_checksums else None,
        object_size=entry.size if "ObjectSize" in wanted else None,
        storage_class="STANDARD" if "StorageClass" in wanted else None,
        parts=_parts(entry) if "ObjectParts" in wanted else None)
    return web.Response(body=body, content_type="application/xml",
                        headers={"Last-Modified": http_date(entry.mtime)})


def _parts(entry: FileEntry) -> xml.ObjectParts | None:
    """The part count of a multipart object (its ETag ends in ``-N``); None otherwise."""
    _, dash, count = entry.md5.rpartition("-")
    return xml.ObjectParts(parts_count=int(count)) if dash and count.isdigit() else None
