"""ListObjects (v1), ListObjectsV2 and ListObjectVersions.

Rule 1 (cost O(page)): with the delimiter ``/`` a listing is one page of one directory;
without a delimiter it is one page of the namespace walk below the prefix's directory. Both
resume from a marker in O(depth + page), whatever the bucket's size. Other delimiters walk
and group, skipping each common prefix in one step.
Rule 2 (S3's order and paging): keys and common prefixes come in UTF-8 byte order, max-keys
counts both, and a listing resumes strictly after the marker (after the whole common prefix
when the marker is one).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.ops.common import EMPTY_MD5, wire_errors
from gateway.s3.request import S3Request
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import DirEntry, FileEntry

MAX_KEYS = 1000
TOP_CHAR = "\U0010ffff"  # sorts after every character that can follow a common prefix


@dataclass(slots=True)
class Page:
    contents: list[tuple[str, FileEntry | DirEntry]] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned

    @property
    def count(self) -> int:
        return len(self.contents) + len(self.common_prefixes)


def max_keys_of(s3: S3Request, name: str = "max-keys") -> int:
    raw = s3.query.get(name, str(MAX_KEYS))
    try:
        value = int(raw)
    except ValueError:
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer "
                      "range", ArgumentName=name, ArgumentValue=raw) from None
    if value < 0:
        raise S3Error("InvalidArgument", f"{name} must be non-negative",
                      ArgumentName=name, ArgumentValue=raw)
    return min(value, MAX_KEYS)


def encoding_of(s3: S3Request) -> str | None:
    encoding = s3.query.get("encoding-type")
    if encoding is not None and encoding.lower() != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    return "url" if encoding else None


def _object_info(key: str, entry: FileEntry | DirEntry, owner: xml.Owner | None) -> xml.ObjectInfo:
    if isinstance(entry, DirEntry):
        return xml.ObjectInfo(key=key, last_modified=entry.mtime, etag=EMPTY_MD5, size=0,
                              owner=owner)
    return xml.ObjectInfo(key=key, last_modified=entry.mtime, etag=entry.md5, size=entry.size,
                          owner=owner)


async def list_page(s3: S3Request, *, prefix: str, delimiter: str, after: str | None,
                    max_keys: int) -> Page:
    """One page of the bucket's keys below ``prefix``, strictly after ``after``."""
    page = Page()
    if max_keys == 0:
        await s3.require_bucket()
        return page
    directory, name_prefix = prefix.rpartition("/")[0], prefix.rpartition("/")[2]
    directory = directory + "/" if "/" in prefix else ""
    if after is not None and not after.startswith(directory):
        if after > directory:
            await s3.require_bucket()
            return page  # every key below the directory sorts before the marker
        after = None
    dir_path = f"{s3.bucket_path}/{directory}"
    try:
        if directory and not name_prefix and (after is None or after < directory):
            # The directory's own marker object is the first key of the listing.
            st = await s3.fs.stat(dir_path)
            if st.dir is not None and st.dir.marker:
                page.contents.append((directory, st.dir))
        rel_after = after[len(directory):] if after is not None else None
        if delimiter == "/":
            await _list_directory(s3, page, dir_path, directory, name_prefix, rel_after,
                                  max_keys)
        else:
            await _walk(s3, page, dir_path, directory, prefix, name_prefix, delimiter,
                        rel_after, max_keys)
    except WireError as err:
        if err.code not in (ErrorCode.NOT_FOUND, ErrorCode.NOT_A_DIRECTORY):
            raise
        with wire_errors("bucket"):
            await s3.require_bucket()
    return page


def _emit(page: Page, item: str, entry: FileEntry | DirEntry | None, max_keys: int) -> bool:
    """Add a key (entry given) or a common prefix; False once the page is full."""
    if page.count >= max_keys:
        page.truncated = True
        return False
    if entry is None:
        page.common_prefixes.append(item)
    else:
        page.contents.append((item, entry))
    page.last = item
    return True


async def _list_directory(s3: S3Request, page: Page, dir_path: str, directory: str,
                          name_prefix: str, rel_after: str | None, max_keys: int) -> None:
    start_after = None
    if rel_after:
        head, slash, rest = rel_after.partition("/")
        # Inside a subdirectory: its common prefix comes first if it still has keys after
        # the marker, then the listing resumes after that whole directory.
        start_after = head + "/" if slash else rel_after
        if rest and head.startswith(name_prefix):
            later = await s3.fs.walk(f"{dir_path}{head}/", start_after=rest, limit=1)
            if later.items and not _emit(page, f"{directory}{head}/", None, max_keys):
                return
    async for entry in s3.fs.iter_dir(dir_path, prefix=name_prefix, start_after=start_after,
                                      page_size=min(max_keys + 1, MAX_KEYS)):
        if isinstance(entry, DirEntry):
            if not _emit(page, directory + entry.name + "/", None, max_keys):
                return
        elif not _emit(page, directory + entry.name, entry, max_keys):
            return


async def _walk(s3: S3Request, page: Page, dir_path: str, directory: str, prefix: str,
                name_prefix: str, delimiter: str, rel_after: str | None, max_keys: int) -> None:
    start_after = rel_after
    if delimiter and rel_after is not None:
        common = _common_prefix(directory + rel_after, prefix, delimiter)
        if common == directory + rel_after:  # resuming after a common prefix: skip it all
            start_after = rel_after + TOP_CHAR
    while True:
        restart = None
        async for item in s3.fs.iter_walk(dir_path, prefix=name_prefix, start_after=start_after,
                                          page_size=min(max_keys + 1, MAX_KEYS)):
            key = directory + item.key
            common = _common_prefix(key, prefix, delimiter) if delimiter else None
            if common is None:
                if not _emit(page, key, item.entry, max_keys):
                    return
                continue
            if not _emit(page, common, None, max_keys):
                return
            restart = common[len(directory):] + TOP_CHAR
            break
        if restart is None:
            return
        start_after = restart


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    at = key.find(delimiter, len(prefix))
    return key[: at + len(delimiter)] if at >= 0 else None


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8", "surrogatepass")
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None


def _listing_params(s3: S3Request) -> tuple[str, str, str | None]:
    return s3.query.get("prefix", ""), s3.query.get("delimiter", ""), encoding_of(s3)


async def list_objects(s3: S3Request) -> web.Response:
    prefix, delimiter, encoding = _listing_params(s3)
    max_keys = max_keys_of(s3)
    marker = s3.query.get("marker", "")
    page = await list_page(s3, prefix=prefix, delimiter=delimiter, after=marker or None,
                           max_keys=max_keys)
    owner = await s3.bucket_owner()
    body = xml.list_bucket_result(
        name=s3.bucket, prefix=prefix, delimiter=delimiter or None, max_keys=max_keys,
        is_truncated=page.truncated,
        contents=[_object_info(k, e, owner) for k, e in page.contents],
        common_prefixes=page.common_prefixes, encoding_type=encoding, marker=marker,
        next_marker=page.last if page.truncated and delimiter else None)
    return web.Response(body=body, content_type="application/xml")


async def list_objects_v2(s3: S3Request) -> web.Response:
    prefix, delimiter, encoding = _listing_params(s3)
    max_keys = max_keys_of(s3)
    token = s3.query.get("continuation-token")
    start_after = s3.query.get("start-after")
    after = _untoken(token) if token is not None else start_after
    if token is not None and start_after and start_after > after:
        after = start_after
    fetch_owner = s3.query.get("fetch-owner", "false").lower() == "true"
    page = await list_page(s3, prefix=prefix, delimiter=delimiter, after=after or None,
                           max_keys=max_keys)
    owner = await s3.bucket_owner() if fetch_owner else None
    body = xml.list_bucket_result(
        name=s3.bucket, prefix=prefix, delimiter=delimiter or None, max_keys=max_keys,
        is_truncated=page.truncated,
        contents=[_object_info(k, e, owner) for k, e in page.contents],
        common_prefixes=page.common_prefixes, encoding_type=encoding, v2=True,
        continuation_token=token, start_after=start_after,
        next_continuation_token=_token(page.last) if page.truncated and page.last else None,
        key_count=page.count)
    return web.Response(body=body, content_type="application/xml")


async def list_object_versions(s3: S3Request) -> web.Response:
    """An unversioned bucket: every object is its own only version, "null"."""
    prefix, delimiter, encoding = _listing_params(s3)
    max_keys = max_keys_of(s3)
    key_marker = s3.query.get("key-marker", "")
    page = await list_page(s3, prefix=prefix, delimiter=delimiter, after=key_marker or None,
                           max_keys=max_keys)
    owner = await s3.bucket_owner()
    body = xml.list_versions_result(
        name=s3.bucket, prefix=prefix, delimiter=delimiter or None, max_keys=max_keys,
        is_truncated=page.truncated,
        versions=[_object_info(k, e, owner) for k, e in page.contents],
        common_prefixes=page.common_prefixes, encoding_type=encoding, key_marker=key_marker,
        version_id_marker=s3.query.get("version-id-marker", ""),
        next_key_marker=page.last if page.truncated else None,
        next_version_id_marker="null" if page.truncated else None)
    return web.Response(body=body, content_type="application/xml")
