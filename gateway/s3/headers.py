"""Pure helpers for S3 request and response headers.

Rule 1: nothing here touches aiohttp; ``headers`` is any case-insensitive mapping (aiohttp's
CIMultiDictProxy) or a plain dict with lowercase names, as the tests pass.

Rule 2: S3 *ignores* a Range header it cannot parse (whole object, 200) but refuses a well-formed
range it cannot satisfy (416 InvalidRange). Copy-source ranges are stricter: malformed is an
error too.

Rule 3: conditional requests follow RFC 7232 section 6 precedence, which is also what the S3
docs describe: a true If-Match makes If-Unmodified-Since irrelevant, and a false If-None-Match
(the ETag matches) gives 304 whatever If-Modified-Since says. Dates are compared at one-second
resolution, because HTTP dates have no finer one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import parse_qsl, unquote

from gateway.s3.errors import S3Error

STORED_HEADERS = ("content-type", "content-encoding", "content-disposition",
                  "content-language", "cache-control", "expires")

META_PREFIX = "x-amz-meta-"
# S3's limit: the UTF-8 bytes of every user-metadata name and value together.
MAX_USER_METADATA_BYTES = 2048


def _get(headers: Mapping[str, str], name: str) -> str | None:
    """A header by lowercase name, whether or not ``headers`` is case-insensitive."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers stored with an object: ``x-amz-meta-*`` plus STORED_HEADERS but content-type.

    Names are lowercased and kept whole (``x-amz-meta-color``). A repeated ``x-amz-meta-*``
    header is joined with commas, as S3 does. Raises MetadataTooLarge past 2 KiB of user
    metadata, counting each name without its ``x-amz-meta-`` prefix (the part the user chose).
    """
    meta: dict[str, str] = {}
    stored = set(STORED_HEADERS[1:])
    user_bytes = 0
    for raw_name, value in headers.items():
        name = raw_name.lower()
        if name.startswith(META_PREFIX):
            user_bytes += len(value.encode("utf-8", "surrogateescape"))
            if name in meta:
                meta[name] += "," + value
            else:
                user_bytes += len(name[len(META_PREFIX):].encode("utf-8", "surrogateescape"))
                meta[name] = value
        elif name == "content-encoding":
            # aws-chunked names how this request's body is framed, not the object's
            # encoding; S3 stores what is left (often nothing).
            kept = [c.strip() for c in value.split(",")
                    if c.strip() and c.strip().lower() != "aws-chunked"]
            if kept:
                meta[name] = ",".join(kept)
        elif name in stored:
            meta[name] = value
    if user_bytes > MAX_USER_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", Size=str(user_bytes),
                      MaxSizeAllowed=str(MAX_USER_METADATA_BYTES))
    return meta


_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)
# Offsets past any object's size all mean the same; converting thousands of digits does not
# (int() refuses over 4,300 of them), so longer numbers are read as this.
_HUGE_DIGITS = 19
_HUGE = 10 ** _HUGE_DIGITS


def _offset(digits: str) -> int:
    return int(digits) if len(digits) < _HUGE_DIGITS else _HUGE


def _invalid_range(value: str, size: int) -> S3Error:
    return S3Error("InvalidRange", headers={"Content-Range": f"bytes */{size}"},
                   RangeRequested=value, ActualObjectSize=str(size))


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """A Range header against an object of ``size`` bytes -> (start, end_exclusive) or None.

    None means "send the whole object": no header, a malformed one, or several ranges (S3
    serves none of those as partial content). A well-formed but unsatisfiable range raises
    InvalidRange; with size 0 every well-formed range is unsatisfiable.
    """
    if value is None:
        return None
    m = _RANGE.fullmatch(value.strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        if not last:
            return None  # "bytes=-"
        suffix = _offset(last)
        if suffix == 0 or size == 0:
            raise _invalid_range(value, size)
        return max(0, size - suffix), size
    start = _offset(first)
    if last and _offset(last) < start:
        return None  # RFC 7233: an invalid byte-range-spec is ignored
    if start >= size:
        raise _invalid_range(value, size)
    end = size if not last else min(_offset(last) + 1, size)
    return start, end


def range_hint(value: str | None) -> tuple[int, int | None]:
    """The most bytes a Range header can select, as (offset, length or None for "to the
    end"), before the object's size is known: for fetching only the blocks it may need.
    Anything but ``bytes=a-b`` and ``bytes=a-`` may select any byte: (0, None)."""
    m = _RANGE.fullmatch(value.strip()) if value is not None else None
    if m is None or not m.group(1):
        return 0, None
    start = _offset(m.group(1))
    if not m.group(2):
        return start, None
    last = _offset(m.group(2))
    return (start, last - start + 1) if last >= start else (0, None)


def _etags(value: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match list, quotes removed."""
    tags = []
    for item in value.split(","):
        tag = item.strip()
        if tag.startswith("W/"):
            tag = tag[2:]  # weak tags compare equal to our strong ones for GET/HEAD
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        if tag:
            tags.append(tag)
    return tags


def _etag_matches(header: str, etag: str) -> bool:
    etag = etag.strip('"')
    return any(tag == "*" or tag == etag for tag in _etags(header))


def _parse_date(value: str | None) -> int | None:
    """An HTTP date as whole epoch seconds, or None when absent or unparseable (ignored)."""
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # "-0000" means UTC with unknown origin
    return int(when.timestamp())


def check_read_conditions(headers: Mapping[str, str], *, etag: str,
                          last_modified: float) -> None:
    """GET/HEAD preconditions: raise PreconditionFailed (412) or NotModified (304), or return."""
    modified = int(last_modified)  # HTTP dates carry whole seconds
    if_match = _get(headers, "if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise S3Error("PreconditionFailed", Condition="If-Match")
    else:
        since = _parse_date(_get(headers, "if-unmodified-since"))
        if since is not None and modified > since:
            raise S3Error("PreconditionFailed", Condition="If-Unmodified-Since")
    not_modified_headers = {"ETag": f'"{etag.strip(chr(34))}"',
                            "Last-Modified": http_date(last_modified)}
    if_none_match = _get(headers, "if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            raise S3Error("NotModified", headers=not_modified_headers)
    else:
        since = _parse_date(_get(headers, "if-modified-since"))
        if since is not None and modified <= since:
            raise S3Error("NotModified", headers=not_modified_headers)


def check_write_conditions(headers: Mapping[str, str]) -> tuple[bool, str | None]:
    """PUT/Complete preconditions -> (if_absent, if_match_etag).

    ``If-None-Match: *`` asks for create-only; S3 supports no other If-None-Match on writes.
    ``If-Match: <etag>`` asks for compare-and-swap; the etag comes back without quotes, and
    ``*`` comes back as ``"*"`` (any existing object).
    """
    if_absent = False
    if_none_match = _get(headers, "if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise S3Error("NotImplemented", Header="If-None-Match")
        if_absent = True
    if_match = _get(headers, "if-match")
    match_etag = None
    if if_match is not None:
        tags = _etags(if_match)
        if len(tags) != 1:
            raise S3Error("NotImplemented", Header="If-Match")
        match_etag = tags[0]
    return if_absent, match_etag


def http_date(ts: float) -> str:
    """RFC 7231 IMF-fixdate, e.g. "Tue, 24 Nov 2026 10:00:00 GMT" (seconds truncated)."""
    return formatdate(ts, usegmt=True)


def iso8601(ts: float) -> str:
    """Listing timestamps, e.g. "2026-11-24T10:00:00.000Z" (milliseconds truncated)."""
    # datetime rounds to whole microseconds first, so 1.001 is not truncated to 1.000.
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """``x-amz-copy-source`` -> (bucket, key, version_id).

    Accepts "/bucket/key" and "bucket/key", percent-encoded (SDKs encode the key; '+' is a
    literal '+'), optionally followed by "?versionId=...". Every key is unversioned here, so
    the only version id that can name one is "null"; any other id is InvalidArgument, which is
    what S3 answers for an id that cannot exist in an unversioned bucket.
    """
    path, sep, query = value.partition("?")
    version: str | None = None
    if sep:
        for name, val in parse_qsl(query, keep_blank_values=True):
            if name != "versionId":
                continue
            if val != "null":
                raise S3Error("InvalidArgument", "Invalid version id specified",
                              ArgumentName="versionId", ArgumentValue=val)
            version = val
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidArgument", "Invalid copy source encoding",
                      ArgumentName="x-amz-copy-source", ArgumentValue=value) from None
    if path.startswith("/"):
        path = path[1:]
    bucket, slash, key = path.partition("/")
    if not bucket or not slash or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey",
                      ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key, version


_COPY_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]+)", re.ASCII)


def parse_copy_source_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``x-amz-copy-source-range`` "bytes=first-last" -> (first, last + 1), or None if absent.

    Both offsets are required. Malformed, first > last, or last past the source's end are all
    InvalidArgument, as S3 answers for UploadPartCopy.
    """
    if value is None:
        return None
    m = _COPY_RANGE.fullmatch(value.strip())
    if m is None:
        raise S3Error("InvalidArgument",
                      "The x-amz-copy-source-range value must be of the form bytes=first-last "
                      "where first and last are the zero-based offsets of the first and last "
                      "bytes to copy",
                      ArgumentName="x-amz-copy-source-range", ArgumentValue=value)
    first, last = _offset(m.group(1)), _offset(m.group(2))
    if first > last or last >= size:
        raise S3Error("InvalidArgument",
                      f"Range specified is not valid for source object of size: {size}",
                      ArgumentName="x-amz-copy-source-range", ArgumentValue=value)
    return first, last + 1
