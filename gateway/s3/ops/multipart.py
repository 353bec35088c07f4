"""Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.

Parts are stored as blocks as they arrive; Complete is one nameserver commit that makes the
object of the listed parts by sharing their blocks, in constant time whatever the size.
"""

from __future__ import annotations

from aiohttp import web

from gateway.s3 import checksums, xml
from gateway.s3.errors import S3Error, from_wire
from gateway.s3.headers import check_write_conditions, user_metadata
from gateway.s3.ops.common import (
    TAGGING_META,
    acl_meta,
    checksums_by_algorithm,
    quoted,
    refuse_marker_key,
    refuse_unsupported,
    tagging_from_header,
    wire_errors,
)
from gateway.s3.ops.listing import encoding_of, max_keys_of
from gateway.s3.ops.object import raise_if_missing
from gateway.s3.request import S3Request
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AbortUploadRequest,
    CompletePart,
    CompleteUploadRequest,
    CreateUploadRequest,
    ListPartsRequest,
    ListUploadsRequest,
    PartEntry,
)

MAX_PART_NUMBER = 10_000
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_BYTES = 5 * 1024 ** 3
MAX_OBJECT_BYTES = 5 * 1024 ** 4
CHECKSUM_ALGORITHM_META = "x-amz-checksum-algorithm"


def _decimal(raw: str, max_digits: int) -> int | None:
    """ASCII digits only (str.isdigit also takes '²', which int() refuses), and few of them
    (int() of thousands of digits is refused)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > max_digits:
        return None
    return int(raw)


def part_number_of(s3: S3Request) -> int:
    raw = s3.query.get("partNumber", "")
    number = _decimal(raw, 6)
    if number is None or not 1 <= number <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, "
                      "inclusive", ArgumentName="partNumber", ArgumentValue=raw)
    return number


def upload_id_of(s3: S3Request) -> str:
    upload_id = s3.query.get("uploadId", "")
    if not upload_id:
        raise S3Error("NoSuchUpload", UploadId=upload_id)
    return upload_id


async def create_multipart_upload(s3: S3Request) -> web.Response:
    s3.check_key()
    refuse_unsupported(s3.headers)
    refuse_marker_key(s3.key)
    meta = user_metadata(s3.headers) | acl_meta(s3.headers)
    tagging = tagging_from_header(s3.headers.get("x-amz-tagging"))
    if tagging:
        meta[TAGGING_META] = tagging
    algorithm = s3.headers.get("x-amz-checksum-algorithm")
    headers = {}
    if algorithm is not None:
        algorithm = algorithm.upper()
        if algorithm not in checksums.ALGORITHMS:
            raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported.")
        meta[CHECKSUM_ALGORITHM_META] = algorithm
        headers["x-amz-checksum-algorithm"] = algorithm
    with wire_errors("bucket"):
        resp = await s3.fs.nameserver.create_upload(CreateUploadRequest(
            path=s3.object_path, content_type=s3.headers.get("Content-Type"), meta=meta))
    body = xml.initiate_multipart_upload_result(bucket=s3.bucket, key=s3.key,
                                                upload_id=resp.upload.upload_id)
    return web.Response(body=body, content_type="application/xml", headers=headers)


async def upload_part(s3: S3Request) -> web.Response:
    s3.check_key()
    part_number = part_number_of(s3)
    upload_id = upload_id_of(s3)
    payload = s3.payload(max_bytes=MAX_PART_BYTES)
    with wire_errors("upload"):
        part = await s3.fs.write_part(s3.object_path, upload_id, part_number, payload,
                                      finish=payload.finish)
    return web.Response(status=200, headers={"ETag": quoted(part.md5), **payload.checksum_meta})


async def _all_parts(s3: S3Request, upload_id: str) -> dict[int, PartEntry]:
    parts: dict[int, PartEntry] = {}
    after = 0
    while True:
        with wire_errors("upload"):
            page = await s3.fs.nameserver.list_parts(ListPartsRequest(
                path=s3.object_path, upload_id=upload_id, after=after))
        parts.update((p.part_number, p) for p in page.parts)
        if not page.truncated or not page.parts:
            return parts
        after = page.parts[-1].part_number


async def complete_multipart_upload(s3: S3Request) -> web.Response:
    s3.check_key()
    upload_id = upload_id_of(s3)
    if_absent, if_match = check_write_conditions(s3.headers)
    listed = xml.parse_complete_multipart_upload(await s3.read_xml())
    stored = await _all_parts(s3, upload_id)
    total = sum(stored[n].size for n in {n for n, _, _ in listed} if n in stored)
    if total > MAX_OBJECT_BYTES:
        raise S3Error("EntityTooLarge", ProposedSize=str(total),
                      MaxSizeAllowed=str(MAX_OBJECT_BYTES))
    meta: dict[str, str] = {}
    for algorithm in checksums.ALGORITHMS:
        name = checksums.header_name(algorithm)
        values = [stored[n].checksums.get(name) if n in stored else None for n, _, _ in listed]
        if values and all(values):
            meta[name] = checksums.composite(algorithm, [v for v in values if v])
    try:
        resp = await s3.fs.nameserver.complete_upload(CompleteUploadRequest(
            path=s3.object_path, upload_id=upload_id,
            parts=[CompletePart(part_number=n, md5=etag) for n, etag, _ in listed],
            min_part_bytes=MIN_PART_BYTES, meta=meta, if_absent=if_absent, if_md5=if_match))
    except WireError as err:
        if err.code is ErrorCode.PRECONDITION_FAILED and if_match:
            await raise_if_missing(s3)
        raise from_wire(err, "upload") from err
    location = f"http://{s3.request.host}/{s3.bucket}/{s3.key}"
    body = xml.complete_multipart_upload_result(location=location, bucket=s3.bucket,
                                                key=s3.key, etag=resp.file.md5,
                                                checksums=checksums_by_algorithm(meta),
                                                checksum_type="COMPOSITE" if meta else None)
    return web.Response(body=body, content_type="application/xml")


async def abort_multipart_upload(s3: S3Request) -> web.Response:
    with wire_errors("upload"):
        await s3.fs.nameserver.abort_upload(AbortUploadRequest(
            path=s3.object_path, upload_id=upload_id_of(s3)))
    return web.Response(status=204)


async def list_parts(s3: S3Request) -> web.Response:
    upload_id = upload_id_of(s3)
    max_parts = max_keys_of(s3, "max-parts")
    marker_raw = s3.query.get("part-number-marker", "0") or "0"
    if _decimal(marker_raw, 9) is None:
        raise S3Error("InvalidArgument", "Provided part-number-marker not an integer",
                      ArgumentName="part-number-marker", ArgumentValue=marker_raw)
    with wire_errors("upload"):
        page = await s3.fs.nameserver.list_parts(ListPartsRequest(
            path=s3.object_path, upload_id=upload_id, after=int(marker_raw),
            limit=max(max_parts, 1)))
    parts = page.parts[:max_parts]
    truncated = page.truncated or len(page.parts) > max_parts
    algorithm = page.upload.meta.get(CHECKSUM_ALGORITHM_META)
    body = xml.list_parts_result(
        bucket=s3.bucket, key=s3.key, upload_id=upload_id, part_number_marker=int(marker_raw),
        next_part_number_marker=parts[-1].part_number if parts else 0, max_parts=max_parts,
        is_truncated=truncated, owner=await s3.bucket_owner(), checksum_algorithm=algorithm,
        parts=[xml.PartInfo(part_number=p.part_number, last_modified=p.mtime, etag=p.md5,
                            size=p.size, checksums=checksums_by_algorithm(p.checksums))
               for p in parts])
    return web.Response(body=body, content_type="application/xml")


async def list_multipart_uploads(s3: S3Request) -> web.Response:
    prefix = s3.query.get("prefix", "")
    delimiter = s3.query.get("delimiter", "")
    encoding = encoding_of(s3)
    max_uploads = max_keys_of(s3, "max-uploads")
    key_marker = s3.query.get("key-marker", "")
    upload_id_marker = s3.query.get("upload-id-marker", "") if key_marker else ""
    owner = await s3.bucket_owner()
    uploads: list[xml.UploadInfo] = []
    common: list[str] = []
    truncated = False
    next_key, next_id = key_marker or None, upload_id_marker or None
    while not truncated and max_uploads > 0:
        with wire_errors("bucket"):
            page = await s3.fs.nameserver.list_uploads(ListUploadsRequest(
                bucket=s3.bucket, prefix=prefix, key_marker=next_key,
                upload_id_marker=next_id, limit=max_uploads + 1))
        skipped_to = None
        for upload in page.uploads:
            if len(uploads) + len(common) >= max_uploads:
                truncated = True
                break
            at = upload.key.find(delimiter, len(prefix)) if delimiter else -1
            if at >= 0:
                cp = upload.key[: at + len(delimiter)]
                if cp not in common:
                    common.append(cp)
                next_key, next_id = cp + "\U0010ffff", None
                skipped_to = cp
                break
            uploads.append(xml.UploadInfo(key=upload.key, upload_id=upload.upload_id,
                                          initiated=upload.initiated, owner=owner))
            next_key, next_id = upload.key, upload.upload_id
        if skipped_to is None and not truncated and not page.truncated:
            break
    if max_uploads == 0:
        await s3.require_bucket()
    last_key = next_key if next_key is None or not next_key.endswith("\U0010ffff") \
        else next_key[:-1]
    body = xml.list_multipart_uploads_result(
        bucket=s3.bucket, key_marker=key_marker, upload_id_marker=upload_id_marker,
        next_key_marker=last_key if truncated else None,
        next_upload_id_marker=next_id if truncated else None, prefix=prefix,
        delimiter=delimiter or None, max_uploads=max_uploads, is_truncated=truncated,
        uploads=uploads, common_prefixes=common, encoding_type=encoding)
    return web.Response(body=body, content_type="application/xml")

