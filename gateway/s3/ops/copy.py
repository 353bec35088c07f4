"""CopyObject and UploadPartCopy: metadata operations that share the source's blocks.

No byte is copied, whatever the size: the destination (or the part) references the same
blocks, whole or as slices for a ranged part copy, and the nameserver's commit checks that
the source did not change in between.
"""

from __future__ import annotations

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.headers import (
    check_read_conditions,
    check_write_conditions,
    parse_copy_source,
    parse_copy_source_range,
    user_metadata,
)
from gateway.s3.ops.common import (
    CONTENT_META,
    TAGGING_META,
    acl_meta,
    checksums_by_algorithm,
    is_marker_key,
    no_such_key,
    refuse_marker_key,
    refuse_unsupported,
    stat_key,
    tagging_from_header,
    wire_errors,
)
from gateway.s3.request import ACL_META, S3Request
from plen.access import GET_OBJECT
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import FileEntry

_SOURCE_CONDITIONS = {
    "x-amz-copy-source-if-match": "If-Match",
    "x-amz-copy-source-if-none-match": "If-None-Match",
    "x-amz-copy-source-if-modified-since": "If-Modified-Since",
    "x-amz-copy-source-if-unmodified-since": "If-Unmodified-Since",
}


async def _source(s3: S3Request) -> tuple[str, str, FileEntry]:
    """(source bucket, source key, its entry), with the copy-source conditions checked."""
    header = s3.headers.get("x-amz-copy-source", "")
    bucket, key, version = parse_copy_source(header)
    if version is not None and version != "null":
        raise S3Error("NoSuchVersion", Key=key, VersionId=version)
    if is_marker_key(key):
        raise S3Error("InvalidRequest", "A key ending in '/' is a directory in Plenilune and "
                      "cannot be a copy source")
    st = await stat_key(s3, bucket, key)
    if st.file is None:
        if not await s3.may(GET_OBJECT, bucket, key):
            raise S3Error("AccessDenied")
        await no_such_key(s3, bucket, key)
    await s3.require(GET_OBJECT, bucket, key, st.file)
    conditions = {plain: s3.headers[h] for h, plain in _SOURCE_CONDITIONS.items()
                  if h in s3.headers}
    try:
        check_read_conditions(conditions, etag=st.file.md5, last_modified=st.file.mtime)
    except S3Error as err:
        if err.code == "NotModified":  # S3 answers 412 for every failed copy condition
            raise S3Error("PreconditionFailed", Condition="x-amz-copy-source-if-none-match")
        raise
    return bucket, key, st.file


async def copy_object(s3: S3Request) -> web.Response:
    s3.check_key()
    refuse_unsupported(s3.headers)
    refuse_marker_key(s3.key)
    src_bucket, src_key, src = await _source(s3)
    directive = s3.headers.get("x-amz-metadata-directive", "COPY").upper()
    tagging_directive = s3.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tagging_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    if (src_bucket, src_key) == (s3.bucket, s3.key) and directive == "COPY" \
            and tagging_directive == "COPY" and "x-amz-storage-class" not in s3.headers:
        raise S3Error("InvalidRequest",
                      "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website "
                      "redirect location or encryption attributes.")
    if_absent, if_match = check_write_conditions(s3.headers)
    content_type = None
    meta = None
    # An ACL is never copied (S3): the copy gets the request's x-amz-acl, or none.
    if directive == "REPLACE" or tagging_directive == "REPLACE" or ACL_META in src.meta \
            or "x-amz-acl" in s3.headers:
        meta = {k: v for k, v in src.meta.items() if k in CONTENT_META}
        if directive == "REPLACE":
            meta.update(user_metadata(s3.headers))
            content_type = s3.headers.get("Content-Type")
        else:
            meta.update({k: v for k, v in src.meta.items() if k not in CONTENT_META})
        meta.pop(TAGGING_META, None)
        meta.pop(ACL_META, None)
        meta.update(acl_meta(s3.headers))
        tagging = (tagging_from_header(s3.headers.get("x-amz-tagging"))
                   if tagging_directive == "REPLACE" else src.meta.get(TAGGING_META))
        if tagging:
            meta[TAGGING_META] = tagging
    if if_absent or if_match:
        await _check_destination(s3, if_absent, if_match)
    try:
        entry = await s3.fs.copy_file(f"/{src_bucket}/{src_key}", s3.object_path, parents=True,
                                      require_top=True, content_type=content_type, meta=meta)
    except WireError as err:
        if err.code is ErrorCode.NOT_FOUND:
            await s3.require_bucket()
            raise S3Error("NoSuchKey", Key=src_key) from err
        if err.code is ErrorCode.CONFLICT:
            raise S3Error("OperationAborted", "The source changed during the copy; try again")
        raise
    return web.Response(body=xml.copy_object_result(etag=entry.md5, last_modified=entry.mtime,
                                                    checksums=checksums_by_algorithm(entry.meta)),
                        content_type="application/xml")


async def _check_destination(s3: S3Request, if_absent: bool, if_match: str | None) -> None:
    st = await stat_key(s3, s3.bucket, s3.key)
    if if_absent and st.file is not None:
        raise S3Error("PreconditionFailed", Condition="If-None-Match")
    if if_match and (st.file is None or st.file.md5 != if_match.strip('"')):
        raise S3Error("PreconditionFailed", Condition="If-Match")


async def upload_part_copy(s3: S3Request) -> web.Response:
    from gateway.s3.ops.multipart import part_number_of, upload_id_of

    s3.check_key()
    part_number = part_number_of(s3)
    upload_id = upload_id_of(s3)
    src_bucket, src_key, src = await _source(s3)
    span = parse_copy_source_range(s3.headers.get("x-amz-copy-source-range"), src.size)
    start, end = span if span is not None else (0, src.size)
    with wire_errors("upload"):
        part = await s3.fs.copy_part(s3.object_path, upload_id, part_number,
                                     f"/{src_bucket}/{src_key}", start, end)
    return web.Response(body=xml.copy_part_result(etag=part.md5, last_modified=part.mtime),
                        content_type="application/xml")
