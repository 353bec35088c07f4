"""PutObject, GetObject, HeadObject, DeleteObject.

A key ending in ``/`` is a directory marker: it holds no bytes, so a PUT with a body there is
refused; reading it gives an empty object. Every other key is a file of the namespace.
"""

from __future__ import annotations

import contextlib
import logging
import re

from aiohttp import web

from gateway.s3.errors import S3Error
from gateway.s3.headers import (
    check_read_conditions,
    check_write_conditions,
    parse_range,
    range_hint,
    user_metadata,
)
from gateway.s3.ops.common import (
    EMPTY_MD5,
    TAGGING_META,
    acl_meta,
    is_marker_key,
    no_such_key,
    object_headers,
    quoted,
    refuse_unsupported,
    stat_key,
    tagging_from_header,
    wire_errors,
)
from gateway.s3.request import S3Request
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import DirEntry, FileEntry

log = logging.getLogger("gateway.ops.object")

MAX_PUT_BYTES = 5 * 1024 ** 3  # S3's largest single PUT; larger objects go multipart
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what no header value may hold

_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def _check_version(s3: S3Request) -> None:
    version = s3.query.get("versionId")
    if version is not None and version != "null":
        raise S3Error("InvalidArgument", "Invalid version id specified",
                      ArgumentName="versionId", ArgumentValue=version)


async def put_object(s3: S3Request) -> web.Response:
    s3.check_key()
    refuse_unsupported(s3.headers)
    if_absent, if_match = check_write_conditions(s3.headers)
    payload = s3.payload(max_bytes=MAX_PUT_BYTES)
    if is_marker_key(s3.key):
        return await _put_marker(s3)
    meta = user_metadata(s3.headers) | acl_meta(s3.headers)
    tagging = tagging_from_header(s3.headers.get("x-amz-tagging"))
    if tagging:
        meta[TAGGING_META] = tagging
    content_type = s3.headers.get("Content-Type")
    try:
        entry = await s3.fs.write_file(s3.object_path, payload, parents=True, require_top=True,
                                       content_type=content_type, meta=meta,
                                       if_absent=if_absent, if_md5=if_match,
                                       finish=payload.finish)
    except WireError as err:
        if err.code is ErrorCode.NOT_FOUND:
            raise S3Error("NoSuchBucket", BucketName=s3.bucket) from err
        if err.code is ErrorCode.PRECONDITION_FAILED and if_match:
            await raise_if_missing(s3)
        raise
    headers = {"ETag": quoted(entry.md5), **payload.checksum_meta}
    return web.Response(status=200, headers=headers)


async def raise_if_missing(s3: S3Request) -> None:
    """A compare-and-swap write of a key that does not exist: S3 says NoSuchKey, not 412."""
    st = await stat_key(s3, s3.bucket, s3.key)
    if st.file is None:
        raise S3Error("NoSuchKey", Key=s3.key)


async def _put_marker(s3: S3Request) -> web.Response:
    payload = s3.payload()
    async for piece in payload:
        if piece:
            raise S3Error("InvalidRequest", "A key ending in '/' is a directory in Plenilune "
                          "and holds no data")
    with wire_errors("bucket"):
        await s3.fs.mkdir(s3.object_path, parents=True, exist_ok=True, mark_parents=False,
                          require_top=True)
    return web.Response(status=200, headers={"ETag": quoted(EMPTY_MD5)})


async def _lookup(s3: S3Request, *, with_blocks: bool, offset: int = 0,
                  length: int | None = None) -> FileEntry | DirEntry:
    s3.check_key()
    _check_version(s3)
    st = await stat_key(s3, s3.bucket, s3.key, with_blocks=with_blocks, offset=offset,
                        length=length)
    if is_marker_key(s3.key):
        if st.dir is not None and st.dir.marker:
            return st.dir
    elif st.file is not None:
        return st.file
    await no_such_key(s3, s3.bucket, s3.key)


def _read_headers(s3: S3Request, entry: FileEntry | DirEntry) -> dict[str, str]:
    part_number = s3.query.get("partNumber")
    if part_number is not None and part_number != "1":
        from gateway.s3.ops.multipart import part_number_of  # multipart imports this module

        number = part_number_of(s3)  # a malformed one is InvalidArgument, as in S3
        md5 = entry.md5 if isinstance(entry, FileEntry) else ""
        _, dash, count = md5.rpartition("-")
        parts = int(count) if dash and count.isdigit() else 1
        if number > parts:
            raise S3Error("InvalidPartNumber", PartNumberRequested=str(number),
                          ActualPartCount=str(parts))
        raise S3Error("NotImplemented", "Reading a single part is not supported")
    checksum_mode = s3.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    headers = object_headers(entry, with_checksums=checksum_mode)
    etag = headers["ETag"].strip('"')
    check_read_conditions(s3.headers, etag=etag, last_modified=entry.mtime)
    for param, header in _RESPONSE_OVERRIDES.items():
        if param in s3.query:
            value = s3.query[param]
            if _CONTROL.search(value):  # would be a header injection (aiohttp refuses: a 500)
                raise S3Error("InvalidArgument", f"Invalid value for {param}",
                              ArgumentName=param)
            headers[header] = value
    return {**s3.response_headers(), **headers}


async def head_object(s3: S3Request) -> web.Response:
    entry = await _lookup(s3, with_blocks=False)
    headers = _read_headers(s3, entry)
    size = entry.size if isinstance(entry, FileEntry) else 0
    span = parse_range(s3.headers.get("Range"), size)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{size}"
        _drop_checksums(headers)
        size = span[1] - span[0]
    headers["Content-Length"] = str(size)
    return web.Response(status=status, headers=headers)


def _drop_checksums(headers: dict[str, str]) -> None:
    """A ranged read never carries the whole object's checksum."""
    for name in [h for h in headers if h.startswith("x-amz-checksum-")]:
        del headers[name]


async def get_object(s3: S3Request) -> web.StreamResponse:
    offset, length = range_hint(s3.headers.get("Range"))
    entry = await _lookup(s3, with_blocks=True, offset=offset, length=length)
    headers = _read_headers(s3, entry)
    if isinstance(entry, DirEntry):
        return web.Response(status=200, headers={**headers, "Content-Length": "0"})
    span = parse_range(s3.headers.get("Range"), entry.size)
    start, end, status = 0, entry.size, 200
    if span is not None:
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size}"
        _drop_checksums(headers)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    chunks = s3.fs.read_file(entry, start, end - start, path=s3.object_path)
    async with contextlib.aclosing(chunks):
        # The first bytes come before the status line goes out, so a read that fails at
        # once (no live replica) still gets a proper error response.
        first = await anext(chunks, None)
        await response.prepare(s3.request)
        try:
            if first is not None:
                await response.write(first)
            async for chunk in chunks:
                await response.write(chunk)
        except (ConnectionResetError, WireError, OSError) as exc:
            # The status line is gone: all that is left is to cut the body short, which
            # every client sees as a failed read rather than a short object.
            log.warning("GET %s failed after %d bytes were promised: %s", s3.object_path,
                        end - start, exc)
            if s3.request.transport is not None:
                s3.request.transport.close()
            return response
    await response.write_eof()
    return response


async def delete_object(s3: S3Request) -> web.Response:
    s3.check_key()
    _check_version(s3)
    refuse_unsupported({k: v for k, v in s3.headers.items() if k.lower() != "x-amz-acl"})
    try:
        if is_marker_key(s3.key):
            await s3.fs.rmdir(s3.object_path, unmark=True)
        else:
            await s3.fs.delete_file(s3.object_path)
    except WireError as err:
        # Deleting what is not there succeeds in S3.
        if err.code not in (ErrorCode.NOT_FOUND, ErrorCode.NOT_A_DIRECTORY,
                            ErrorCode.IS_A_DIRECTORY):
            raise
        if err.code is ErrorCode.NOT_FOUND:
            await s3.require_bucket()
    return web.Response(status=204)
