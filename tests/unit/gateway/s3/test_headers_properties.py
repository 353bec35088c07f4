"""Property tests for gateway/s3/headers.py: Range, conditional and metadata headers of any
content either parse or raise S3Error (never another exception)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.s3.errors import S3Error
from gateway.s3.headers import (
    MAX_USER_METADATA_BYTES,
    check_read_conditions,
    check_write_conditions,
    parse_copy_source,
    parse_copy_source_range,
    parse_range,
    range_hint,
    user_metadata,
)

FAST = settings(max_examples=300, deadline=None)
digits = st.one_of(st.text("0123456789", max_size=25), st.just("9" * 5000), st.just(""))
range_values = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b, sp: f"{sp}bytes={a}-{b}{sp}", digits, digits,
              st.sampled_from(["", " ", "\t"])),
    st.builds(lambda a, b: f"bytes={a}-{b},{b}-{a}", digits, digits),
    st.builds(lambda s: f"bytes={s}", st.text("0123456789-=,² ", max_size=20)),
)
sizes = st.integers(0, 2 ** 63)


@FAST
@given(value=range_values, size=sizes)
def test_range_is_whole_object_a_span_or_invalid_range(value, size):
    try:
        span = parse_range(value, size)
    except S3Error as err:
        assert (err.code, err.status) == ("InvalidRange", 416)
        return
    if span is not None:
        start, end = span
        assert 0 <= start < end <= size


@FAST
@given(value=st.none() | range_values)
def test_range_hint_never_raises(value):
    offset, length = range_hint(value)
    assert offset >= 0 and (length is None or length > 0)


@pytest.mark.parametrize("value", ["bytes=" + "1" * 5000 + "-", "bytes=-" + "1" * 5000,
                                   "bytes=0-" + "1" * 5000, "bytes=" + "9" * 30 + "-1"])
def test_huge_offsets_are_not_a_crash(value):
    """Regression: int() of over 4,300 digits raised ValueError (a 500)."""
    try:
        span = parse_range(value, 100)
    except S3Error as err:
        assert err.code == "InvalidRange"
    else:
        assert span is None or span[1] <= 100
    range_hint(value)


etags = st.one_of(st.text(max_size=20), st.sampled_from(['"abc"', "*", 'W/"abc"', '"', ",",
                                                          "abc", '"abc", "def"']))
dates = st.one_of(st.text(max_size=40), st.sampled_from([
    "Tue, 24 Nov 2026 10:00:00 GMT", "Tue, 24 Nov 99999 10:00:00 GMT", "Mon, 1 Jan 0001 00:00",
    "Sat, 31 Dec 9999 23:59:59 +2359", "Sun, 06 Nov 1994 08:49:37 -0000", "32 Foo 2020",
    "Tue, 24 Nov 2026 25:61:61 GMT"]))
conditions = st.fixed_dictionaries({}, optional={
    "If-Match": etags, "If-None-Match": etags, "If-Modified-Since": dates,
    "If-Unmodified-Since": dates}).map(CIMultiDict)


@FAST
@given(hdrs=conditions, etag=st.text("0123456789abcdef", min_size=1, max_size=32),
       mtime=st.floats(0, 2 ** 33, allow_nan=False))
def test_read_conditions_pass_or_raise_304_or_412(hdrs, etag, mtime):
    try:
        check_read_conditions(hdrs, etag=etag, last_modified=mtime)
    except S3Error as err:
        assert (err.code, err.status) in (("NotModified", 304), ("PreconditionFailed", 412))


@FAST
@given(hdrs=conditions)
def test_write_conditions_parse_or_raise_s3_error(hdrs):
    try:
        if_absent, etag = check_write_conditions(hdrs)
    except S3Error as err:
        assert err.code == "NotImplemented"
    else:
        assert isinstance(if_absent, bool) and (etag is None or isinstance(etag, str))


meta_headers = st.lists(st.tuples(
    st.one_of(st.builds("x-amz-meta-{}".format, st.text(max_size=20)),
              st.sampled_from(["Content-Encoding", "Cache-Control", "X-Amz-Meta-A", "other"])),
    st.text(max_size=300)), max_size=12).map(CIMultiDict)


@FAST
@given(hdrs=meta_headers)
def test_user_metadata_is_kept_or_metadata_too_large(hdrs):
    size = sum(len(k[len("x-amz-meta-"):].encode("utf-8", "surrogateescape"))
               + len(v.encode("utf-8", "surrogateescape"))
               for k, v in hdrs.items() if k.lower().startswith("x-amz-meta-"))
    try:
        meta = user_metadata(hdrs)
    except S3Error as err:
        assert err.code == "MetadataTooLarge"
        assert size > MAX_USER_METADATA_BYTES
    else:
        assert all(name == name.lower() for name in meta)


@FAST
@given(value=st.one_of(st.text(max_size=60), st.builds(
    lambda b, k, q: f"/{b}/{k}{q}", st.text(max_size=10), st.text(max_size=20),
    st.sampled_from(["", "?versionId=null", "?versionId=x", "?%zz", "?versionId="]))))
def test_copy_source_parses_or_raises_invalid_argument(value):
    try:
        bucket, key, version = parse_copy_source(value)
    except S3Error as err:
        assert err.code == "InvalidArgument"
    else:
        assert bucket and key and version in (None, "null")


@FAST
@given(value=st.none() | range_values, size=sizes)
def test_copy_source_range_parses_or_raises_invalid_argument(value, size):
    try:
        span = parse_copy_source_range(value, size)
    except S3Error as err:
        assert err.code == "InvalidArgument"
    else:
        assert span is None or 0 <= span[0] < span[1] <= size
