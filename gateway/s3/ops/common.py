"""What several operation families share: wire-error translation, object headers, tags."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import NoReturn
from urllib.parse import parse_qsl, urlencode

from gateway.s3 import checksums
from gateway.s3.acl import parse_access_control_policy
from gateway.s3.errors import S3Error, from_wire
from gateway.s3.headers import STORED_HEADERS, http_date
from gateway.s3.request import ACL_META, S3Request
from gateway.s3.xml import Owner
from plen.access import OWNER, acl_grants, canned_acl
from plen.wire.errors import WireError
from plen.wire.namespace import DirEntry, FileEntry, StatResponse

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
TAGGING_META = "x-amz-tagging"  # kept as the query string S3 takes in x-amz-tagging
MAX_TAGS = 10
_CHECKSUM_HEADERS = tuple(checksums.header_name(a) for a in checksums.ALGORITHMS)
# Headers that describe the object and keep their stored value whatever a COPY replaces.
CONTENT_META = _CHECKSUM_HEADERS


@contextlib.contextmanager
def wire_errors(context: str, **fields: str) -> Iterator[None]:
    """Wire errors raised inside become the S3 error they mean for ``context``; ``fields``
    (e.g. BucketName) go into the error document."""
    try:
        yield
    except WireError as err:
        s3err = from_wire(err, context)
        if s3err.status < 500:
            s3err.fields.update(fields)
        raise s3err from err


async def stat_key(s3: S3Request, bucket: str, key: str, *, with_blocks: bool = False,
                   offset: int = 0, length: int | None = None) -> StatResponse:
    """The namespace's answer for an object path; a key below a file is NoSuchKey."""
    with wire_errors("key", Key=key):
        return await s3.fs.stat(f"/{bucket}/{key}", with_blocks=with_blocks, offset=offset,
                                length=length)


async def no_such_key(s3: S3Request, bucket: str, key: str) -> NoReturn:
    """The key is not there: NoSuchBucket if its bucket is not either, else NoSuchKey."""
    await s3.require_bucket(bucket)
    raise S3Error("NoSuchKey", Key=key)


def quoted(etag: str) -> str:
    return f'"{etag}"'


def is_marker_key(key: str) -> bool:
    return key.endswith("/")


def refuse_marker_key(key: str) -> None:
    """A key ending in ``/`` is a directory of the namespace, which holds no bytes."""
    if is_marker_key(key):
        raise S3Error("InvalidRequest", "A key ending in '/' is a directory in Plenilune and "
                      "holds no data")


def object_headers(entry: FileEntry | DirEntry, *, with_checksums: bool) -> dict[str, str]:
    """ETag, Last-Modified, Content-Type and the stored headers of an object."""
    if isinstance(entry, DirEntry):
        return {"ETag": quoted(EMPTY_MD5), "Last-Modified": http_date(entry.mtime),
                "Content-Type": DEFAULT_CONTENT_TYPE, "Accept-Ranges": "bytes"}
    headers = {"ETag": quoted(entry.md5), "Last-Modified": http_date(entry.mtime),
               "Content-Type": entry.content_type or DEFAULT_CONTENT_TYPE,
               "Accept-Ranges": "bytes"}
    for name, value in entry.meta.items():
        if name.startswith("x-amz-meta-") or name in STORED_HEADERS:
            headers[name] = value
        elif name == TAGGING_META:
            headers["x-amz-tagging-count"] = str(len(parse_tags(value)))
        elif name in _CHECKSUM_HEADERS and with_checksums:
            headers[name] = value
            headers["x-amz-checksum-type"] = "COMPOSITE" if "-" in value else "FULL_OBJECT"
    if "-" in entry.md5:
        headers["x-amz-mp-parts-count"] = entry.md5.rsplit("-", 1)[1]
    return headers


def checksums_by_algorithm(meta: Mapping[str, str]) -> dict[str, str]:
    """``{"x-amz-checksum-crc32": v}`` as stored -> ``{"CRC32": v}`` as XML shapes show it."""
    return {a: meta[checksums.header_name(a)] for a in checksums.ALGORITHMS
            if checksums.header_name(a) in meta}


def parse_tags(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def tagging_from_header(value: str | None) -> str | None:
    """The x-amz-tagging header, checked as S3 checks tag sets, in its stored form."""
    if value is None:
        return None
    tags = parse_tags(value)
    check_tags(tags)
    return urlencode(tags)


def check_tags(tags: list[tuple[str, str]]) -> None:
    if len(tags) > MAX_TAGS:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10")
    seen = set()
    for key, value in tags:
        if not key or len(key) > 128 or len(value) > 256:
            raise S3Error("InvalidTag", "The TagKey or TagValue you have provided is invalid")
        if key in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        seen.add(key)


def canned_acl_header(headers: Mapping[str, str], *, on_object: bool) -> str | None:
    """The stored canned ACL an ``x-amz-acl`` header asks for, None without one."""
    value = headers.get("x-amz-acl")
    if value is None:
        return None
    acl = canned_acl(value.strip(), on_object=on_object)
    if acl is None:
        raise S3Error("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=value)
    return acl


async def requested_acl(s3: S3Request, *, on_object: bool) -> str:
    """PutBucketAcl's and PutObjectAcl's new canned ACL: an ``x-amz-acl`` header or an
    AccessControlPolicy body (gateway/s3/acl.py), exactly one of them."""
    refuse_unsupported(s3.headers)
    owner = await s3.bucket_owner()
    acl = canned_acl_header(s3.headers, on_object=on_object)
    body = await s3.read_xml()
    if body.strip():
        if acl is not None:
            raise S3Error("UnexpectedContent", "This request does not support content")
        acl = parse_access_control_policy(body, owner)
    if acl is None:
        raise S3Error("InvalidRequest", "An x-amz-acl header or an AccessControlPolicy body "
                      "is required")
    return acl


def acl_meta(headers: Mapping[str, str]) -> dict[str, str]:
    """What an object stores of its ``x-amz-acl`` (nothing when private, the default)."""
    acl = canned_acl_header(headers, on_object=True)
    return {ACL_META: acl} if acl and acl != "private" else {}


def object_grants(owner: Owner, acl: str | None) -> list[tuple[Owner | str, str]]:
    """The grants GetBucketAcl and GetObjectAcl show for a canned ACL."""
    return [(owner if grantee == OWNER else grantee, permission)
            for grantee, permission in acl_grants(acl or "private")]


def refuse_unsupported(headers: Mapping[str, str]) -> None:
    """Headers asking for what Plenilune does not do are refused, not silently ignored."""
    if "x-amz-server-side-encryption" in headers or \
            "x-amz-server-side-encryption-customer-algorithm" in headers:
        raise S3Error("NotImplemented", "Server-side encryption is not supported")
    storage_class = headers.get("x-amz-storage-class")
    if storage_class is not None and storage_class != "STANDARD":
        raise S3Error("InvalidStorageClass")
    if any(h in headers for h in ("x-amz-grant-read", "x-amz-grant-write",
                                  "x-amz-grant-full-control", "x-amz-grant-read-acp",
                                  "x-amz-grant-write-acp")):
        raise S3Error("NotImplemented", "ACL grants are not supported yet")
    if "x-amz-object-lock-mode" in headers or "x-amz-website-redirect-location" in headers:
        raise S3Error("NotImplemented")
