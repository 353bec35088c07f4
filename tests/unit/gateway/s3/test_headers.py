import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.s3.errors import S3Error
from gateway.s3.headers import (
    check_read_conditions,
    check_write_conditions,
    http_date,
    iso8601,
    parse_copy_source,
    parse_copy_source_range,
    parse_range,
    range_hint,
    user_metadata,
)

NOV_24_2026 = calendar.timegm((2026, 11, 24, 10, 0, 0))


# --- dates -----------------------------------------------------------------------------------

def test_http_date_is_imf_fixdate():
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(NOV_24_2026) == "Tue, 24 Nov 2026 10:00:00 GMT"
    assert http_date(NOV_24_2026 + 0.999) == "Tue, 24 Nov 2026 10:00:00 GMT"


@pytest.mark.parametrize(("offset", "text"), [
    (0, "2026-11-24T10:00:00.000Z"),
    (0.5, "2026-11-24T10:00:00.500Z"),
    (0.001, "2026-11-24T10:00:00.001Z"),
    (0.9994, "2026-11-24T10:00:00.999Z"),   # truncated, never rounded into the next second
    (59.25, "2026-11-24T10:00:59.250Z"),
])
def test_iso8601_has_milliseconds_and_z(offset, text):
    assert iso8601(NOV_24_2026 + offset) == text


def test_iso8601_of_small_fractions_is_not_lost_to_float_error():
    assert iso8601(1.001) == "1970-01-01T00:00:01.001Z"


# --- ranges ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "size", "expected"), [
    ("bytes=0-0", 10, (0, 1)),
    ("bytes=0-9", 10, (0, 10)),
    ("bytes=9-9", 10, (9, 10)),
    ("bytes=-5", 10, (5, 10)),
    ("bytes=5-", 10, (5, 10)),
    ("bytes=0-", 10, (0, 10)),
    ("bytes=2-99", 10, (2, 10)),         # end beyond the object is clipped
    ("bytes=-20", 10, (0, 10)),          # suffix larger than the object: all of it
    ("bytes=-10", 10, (0, 10)),
    ("  bytes=1-2  ", 10, (1, 3)),
    ("bytes=0-18446744073709551616", 3, (0, 3)),
])
def test_satisfiable_ranges(value, size, expected):
    assert parse_range(value, size) == expected


@pytest.mark.parametrize("value", [
    None, "", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=a-b", "items=0-1", "0-1",
    "bytes=5-2",                          # last < first: invalid spec, ignored
    "bytes=0-1,3-4",                      # several ranges: S3 sends the whole object
    "bytes=0-1, 3-4", "bytes=--1", "bytes=1-2-3", "bytes=+1-2", "bytes=1_0-20",
    "bytes=\u0661-\u0662",                # Arabic-Indic digits are digits to int(), not HTTP
    "bytes = 0-1", "Bytes=0-1",
])
def test_malformed_or_multiple_ranges_are_ignored(value):
    assert parse_range(value, 10) is None


@pytest.mark.parametrize(("value", "size"), [
    ("bytes=10-", 10),
    ("bytes=10-20", 10),
    ("bytes=11-11", 10),
    ("bytes=-0", 10),
    ("bytes=0-0", 0),
    ("bytes=0-", 0),
    ("bytes=-5", 0),
    ("bytes=-0", 0),
])
def test_unsatisfiable_ranges_are_invalid_range(value, size):
    with pytest.raises(S3Error) as info:
        parse_range(value, size)
    err = info.value
    assert (err.code, err.status) == ("InvalidRange", 416)
    assert err.fields["ActualObjectSize"] == str(size)
    assert err.headers["Content-Range"] == f"bytes */{size}"


def test_size_zero_without_range_is_whole_object():
    assert parse_range(None, 0) is None
    assert parse_range("garbage", 0) is None


@given(st.text(max_size=30), st.integers(min_value=0, max_value=2**40))
def test_parse_range_returns_in_bounds_or_raises_invalid_range(value, size):
    try:
        result = parse_range(value, size)
    except S3Error as err:
        assert err.code == "InvalidRange"
        return
    if result is not None:
        start, end = result
        assert 0 <= start < end <= size


@given(st.one_of(st.text(max_size=30),
                 st.builds("bytes={}-{}".format, st.integers(0, 5000), st.integers(0, 5000)),
                 st.builds("bytes={}-".format, st.integers(0, 5000)),
                 st.builds("bytes=-{}".format, st.integers(0, 5000))),
       st.integers(min_value=0, max_value=4000))
def test_range_hint_covers_every_byte_the_range_selects(value, size):
    offset, length = range_hint(value)
    try:
        result = parse_range(value, size)
    except S3Error:
        return
    start, end = result if result is not None else (0, size)
    assert offset <= start and (length is None or end <= offset + length)


def test_range_hint_narrows_only_forward_ranges():
    assert range_hint("bytes=10-19") == (10, 10)
    assert range_hint("bytes=10-") == (10, None)
    assert range_hint("bytes=-10") == (0, None)
    assert range_hint(None) == (0, None)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
       st.integers(min_value=0, max_value=10**6))
def test_well_formed_ranges_match_rfc_7233(first, last, size):
    value = f"bytes={first}-{last}"
    if last < first:
        assert parse_range(value, size) is None
    elif first >= size:
        with pytest.raises(S3Error):
            parse_range(value, size)
    else:
        assert parse_range(value, size) == (first, min(last, size - 1) + 1)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_suffix_ranges_match_rfc_7233(suffix, size):
    value = f"bytes=-{suffix}"
    if suffix == 0 or size == 0:
        with pytest.raises(S3Error):
            parse_range(value, size)
    else:
        assert parse_range(value, size) == (size - min(suffix, size), size)


# --- read conditions (RFC 7232 section 6, S3 GetObject docs) ---------------------------------

ETAG = "d41d8cd98f00b204e9800998ecf8427e"
LM = NOV_24_2026 + 0.7                   # stored with sub-second precision
BEFORE = http_date(NOV_24_2026 - 60)
SAME = http_date(NOV_24_2026)            # equal at one-second resolution
AFTER = http_date(NOV_24_2026 + 60)


def _read(headers):
    check_read_conditions(headers, etag=ETAG, last_modified=LM)


def _read_outcome(headers):
    try:
        _read(headers)
    except S3Error as err:
        return err.status
    return 200


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),
    ({"if-match": f'"{ETAG}"'}, 200),
    ({"if-match": ETAG}, 200),
    ({"if-match": "*"}, 200),
    ({"if-match": f'"other", "{ETAG}"'}, 200),
    ({"if-match": '"other"'}, 412),
    ({"if-unmodified-since": AFTER}, 200),
    ({"if-unmodified-since": SAME}, 200),
    ({"if-unmodified-since": BEFORE}, 412),
    # S3: If-Match true and If-Unmodified-Since false -> 200.
    ({"if-match": f'"{ETAG}"', "if-unmodified-since": BEFORE}, 200),
    ({"if-match": '"other"', "if-unmodified-since": AFTER}, 412),
    ({"if-none-match": f'"{ETAG}"'}, 304),
    ({"if-none-match": ETAG}, 304),
    ({"if-none-match": f'W/"{ETAG}"'}, 304),
    ({"if-none-match": "*"}, 304),
    ({"if-none-match": '"other"'}, 200),
    ({"if-modified-since": BEFORE}, 200),
    ({"if-modified-since": SAME}, 304),
    ({"if-modified-since": AFTER}, 304),
    # S3: If-None-Match false and If-Modified-Since true -> 304.
    ({"if-none-match": f'"{ETAG}"', "if-modified-since": BEFORE}, 304),
    # RFC 7232 3.3: If-Modified-Since is ignored when If-None-Match is present.
    ({"if-none-match": '"other"', "if-modified-since": AFTER}, 200),
    # 412 conditions are evaluated before 304 ones.
    ({"if-match": '"other"', "if-none-match": f'"{ETAG}"'}, 412),
    ({"if-unmodified-since": BEFORE, "if-none-match": f'"{ETAG}"'}, 412),
    ({"if-unmodified-since": BEFORE, "if-modified-since": AFTER}, 412),
    # Unparseable dates are ignored.
    ({"if-unmodified-since": "yesterday"}, 200),
    ({"if-modified-since": "not a date"}, 200),
    ({"if-modified-since": ""}, 200),
])
def test_read_condition_precedence(headers, status):
    assert _read_outcome(headers) == status


def test_read_conditions_use_case_insensitive_headers():
    assert _read_outcome(CIMultiDict({"If-None-Match": f'"{ETAG}"'})) == 304
    assert _read_outcome({"If-Match": '"other"'}) == 412


def test_not_modified_carries_etag_and_last_modified():
    with pytest.raises(S3Error) as info:
        _read({"if-none-match": f'"{ETAG}"'})
    assert info.value.code == "NotModified"
    assert info.value.headers == {"ETag": f'"{ETAG}"', "Last-Modified": SAME}


def test_numeric_timezone_dates_are_understood():
    # 11:00 +0100 is 10:00 GMT, the object's second: not modified since then.
    assert _read_outcome({"if-modified-since": "Tue, 24 Nov 2026 11:00:00 +0100"}) == 304
    assert _read_outcome({"if-modified-since": "Tue, 24 Nov 2026 10:59:59 +0100"}) == 200


# --- write conditions ------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "expected"), [
    ({}, (False, None)),
    ({"if-none-match": "*"}, (True, None)),
    ({"If-None-Match": " * "}, (True, None)),
    ({"if-match": f'"{ETAG}"'}, (False, ETAG)),
    ({"if-match": ETAG}, (False, ETAG)),
    ({"if-match": "*"}, (False, "*")),
    ({"if-none-match": "*", "if-match": '"x"'}, (True, "x")),
])
def test_write_conditions(headers, expected):
    assert check_write_conditions(headers) == expected


@pytest.mark.parametrize("headers", [
    {"if-none-match": f'"{ETAG}"'},
    {"if-none-match": ""},
    {"if-match": '"a", "b"'},
])
def test_unsupported_write_conditions_are_not_implemented(headers):
    with pytest.raises(S3Error) as info:
        check_write_conditions(headers)
    assert (info.value.code, info.value.status) == ("NotImplemented", 501)


# --- metadata --------------------------------------------------------------------------------

def test_user_metadata_keeps_meta_and_stored_headers_except_content_type():
    headers = CIMultiDict([
        ("Content-Type", "image/jpeg"), ("Content-Encoding", "gzip"),
        ("Content-Disposition", "attachment"), ("Content-Language", "en"),
        ("Cache-Control", "no-cache"), ("Expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
        ("X-Amz-Meta-Color", "Blue"), ("x-amz-meta-Multi", "a"), ("X-AMZ-META-MULTI", "b"),
        ("Authorization", "secret"), ("Content-Length", "5"), ("x-amz-date", "x"),
    ])
    assert user_metadata(headers) == {
        "content-encoding": "gzip", "content-disposition": "attachment",
        "content-language": "en", "cache-control": "no-cache",
        "expires": "Thu, 01 Dec 1994 16:00:00 GMT",
        "x-amz-meta-color": "Blue", "x-amz-meta-multi": "a,b",
    }


@pytest.mark.parametrize("value, stored", [
    ("aws-chunked", None),
    ("AWS-Chunked", None),
    ("aws-chunked,gzip", "gzip"),
    ("gzip, aws-chunked", "gzip"),
    ("gzip", "gzip"),
])
def test_aws_chunked_is_framing_not_a_stored_content_encoding(value, stored):
    meta = user_metadata(CIMultiDict({"Content-Encoding": value}))
    assert meta.get("content-encoding") == stored


def test_user_metadata_limit_is_2_kib_of_names_and_values():
    # name "k" (1 byte) + 2047 bytes of value = 2048: at the limit.
    assert user_metadata({"x-amz-meta-k": "v" * 2047}) == {"x-amz-meta-k": "v" * 2047}
    with pytest.raises(S3Error) as info:
        user_metadata({"x-amz-meta-k": "v" * 2048})
    assert (info.value.code, info.value.status) == ("MetadataTooLarge", 400)
    with pytest.raises(S3Error):
        user_metadata({f"x-amz-meta-k{i}": "v" * 100 for i in range(20)})


def test_user_metadata_counts_utf8_bytes():
    with pytest.raises(S3Error):
        user_metadata({"x-amz-meta-k": "\u00e9" * 1024})  # 2048 bytes + 1 for the name


def test_standard_headers_do_not_count_against_the_metadata_limit():
    assert user_metadata({"cache-control": "x" * 5000})["cache-control"] == "x" * 5000


# --- copy source -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("/bucket/key", ("bucket", "key", None)),
    ("bucket/key", ("bucket", "key", None)),
    ("/awsexamplebucket/reports/january.pdf", ("awsexamplebucket", "reports/january.pdf", None)),
    ("bucket/a%2Bb%20c", ("bucket", "a+b c", None)),
    ("bucket/a+b", ("bucket", "a+b", None)),
    ("bucket/a%3Fb", ("bucket", "a?b", None)),
    ("bucket/dir//x/", ("bucket", "dir//x/", None)),
    ("/bucket/%E2%9C%93?versionId=null", ("bucket", "\u2713", "null")),
    ("bucket/k?versionId=null&x=1", ("bucket", "k", "null")),
    ("bucket/k?x=1", ("bucket", "k", None)),
])
def test_parse_copy_source(value, expected):
    assert parse_copy_source(value) == expected


@pytest.mark.parametrize("value", [
    "", "/", "bucket", "/bucket", "/bucket/", "bucket/", "//key",
    "bucket/key?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    "bucket/key?versionId=", "bucket/%FF",
])
def test_bad_copy_source_is_invalid_argument(value):
    with pytest.raises(S3Error) as info:
        parse_copy_source(value)
    assert info.value.code == "InvalidArgument"


@pytest.mark.parametrize(("value", "size", "expected"), [
    (None, 10, None),
    ("bytes=0-9", 10, (0, 10)),
    ("bytes=5-5", 10, (5, 6)),
    ("bytes=0-0", 1, (0, 1)),
])
def test_parse_copy_source_range(value, size, expected):
    assert parse_copy_source_range(value, size) == expected


@pytest.mark.parametrize(("value", "size"), [
    ("bytes=0-10", 10), ("bytes=10-10", 10), ("bytes=5-4", 10), ("bytes=-5", 10),
    ("bytes=5-", 10), ("bytes=0-1,2-3", 10), ("0-1", 10), ("bytes=0-0", 0), ("", 10),
])
def test_bad_copy_source_range_is_invalid_argument(value, size):
    with pytest.raises(S3Error) as info:
        parse_copy_source_range(value, size)
    assert info.value.code == "InvalidArgument"
