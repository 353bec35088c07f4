"""Range GETs and conditional GET/HEAD/PUT, with RFC 7232 precedence as S3 documents it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from compat_tests.helpers import expect_error, md5_hex, quoted

BODY = b"0123456789"
PLACEHOLDER_REQUEST_ID = "moto's InvalidRange error has the placeholder RequestId 'request-id'"


@pytest.fixture
def ten_bytes(s3: Any, bucket: str) -> tuple[str, str]:
    """A 10-byte object "k"; returns (bucket, quoted etag)."""
    put = s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    return bucket, put["ETag"]


@pytest.mark.parametrize("header, body, content_range", [
    ("bytes=0-0", b"0", "bytes 0-0/10"),
    ("bytes=0-9", BODY, "bytes 0-9/10"),
    ("bytes=3-5", b"345", "bytes 3-5/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),
    ("bytes=-20", BODY, "bytes 0-9/10"),
    ("bytes=4-", b"456789", "bytes 4-9/10"),
    ("bytes=5-100", b"56789", "bytes 5-9/10"),
])
def test_get_range_answers_206_with_content_range(s3: Any, ten_bytes: tuple[str, str],
                                                  header: str, body: bytes,
                                                  content_range: str) -> None:
    bucket, etag = ten_bytes
    got = s3.get_object(Bucket=bucket, Key="k", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == body
    assert got["ContentRange"] == content_range
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == etag


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=20-30", "bytes=10-10"])
def test_get_range_beyond_end_is_invalid_range(s3: Any, ten_bytes: tuple[str, str],
                                               header: str, reference_diverges: Any) -> None:
    bucket, _ = ten_bytes
    with reference_diverges(PLACEHOLDER_REQUEST_ID):
        err = expect_error(416, "InvalidRange", s3.get_object, Bucket=bucket, Key="k",
                           Range=header)
        assert err["Error"]["ActualObjectSize"] == "10"
        assert err["Error"]["RangeRequested"] == header


def test_get_range_of_empty_object_is_invalid_range(s3: Any, bucket: str,
                                                    reference_diverges: Any) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with reference_diverges(PLACEHOLDER_REQUEST_ID):
        expect_error(416, "InvalidRange", s3.get_object, Bucket=bucket, Key="empty",
                     Range="bytes=0-0")


@pytest.mark.parametrize("header", [
    "bytes=abc",
    "bytes=5-2",
    pytest.param("items=0-1", marks=pytest.mark.reference_diverges(
        "moto serves a range in a unit other than bytes")),
])
def test_get_malformed_range_is_ignored(s3: Any, ten_bytes: tuple[str, str],
                                        header: str) -> None:
    bucket, _ = ten_bytes
    got = s3.get_object(Bucket=bucket, Key="k", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == BODY
    assert "ContentRange" not in got


def test_head_range_answers_206(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    head = s3.head_object(Bucket=bucket, Key="k", Range="bytes=2-4")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 3
    assert head["ContentRange"] == "bytes 2-4/10"


# --------------------------------------------------------------------------------------------
# Conditional reads


def _times(s3: Any, bucket: str) -> tuple[dt.datetime, dt.datetime]:
    last_modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    return last_modified - dt.timedelta(hours=1), last_modified + dt.timedelta(hours=1)


def test_if_match_matching_answers_object(s3: Any, ten_bytes: tuple[str, str],
                                          reference_diverges: Any) -> None:
    bucket, etag = ten_bytes
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == BODY
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag.strip('"'))["Body"].read() == BODY
    with reference_diverges("moto does not let If-Match: * match every existing object"):
        assert s3.get_object(Bucket=bucket, Key="k", IfMatch="*")["Body"].read() == BODY


def test_if_match_other_etag_is_precondition_failed(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    other = quoted(md5_hex(b"other"))
    expect_error(412, "PreconditionFailed", s3.get_object, Bucket=bucket, Key="k", IfMatch=other)
    expect_error(412, "412", s3.head_object, Bucket=bucket, Key="k", IfMatch=other)


def test_if_none_match_matching_is_not_modified(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, etag = ten_bytes
    err = expect_error(304, "304", s3.get_object, Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert err["ResponseMetadata"]["HTTPHeaders"]["etag"] == etag
    expect_error(304, "304", s3.head_object, Bucket=bucket, Key="k", IfNoneMatch=etag)


def test_if_none_match_other_etag_answers_object(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    got = s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=quoted(md5_hex(b"other")))
    assert got["Body"].read() == BODY


def test_if_modified_since(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    before, after = _times(s3, bucket)
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=before)["Body"].read() == BODY
    expect_error(304, "304", s3.get_object, Bucket=bucket, Key="k", IfModifiedSince=after)
    expect_error(304, "304", s3.head_object, Bucket=bucket, Key="k", IfModifiedSince=after)


def test_if_unmodified_since(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    before, after = _times(s3, bucket)
    assert s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=after)["Body"].read() == BODY
    expect_error(412, "PreconditionFailed", s3.get_object, Bucket=bucket, Key="k",
                 IfUnmodifiedSince=before)
    expect_error(412, "412", s3.head_object, Bucket=bucket, Key="k", IfUnmodifiedSince=before)


@pytest.mark.reference_diverges("moto fails If-Unmodified-Since even when If-Match holds")
def test_if_match_true_overrides_if_unmodified_since_false(
        s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, etag = ten_bytes
    before, _ = _times(s3, bucket)
    got = s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=before)
    assert got["Body"].read() == BODY


def test_if_none_match_false_wins_over_if_modified_since_true(
        s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, etag = ten_bytes
    before, _ = _times(s3, bucket)
    expect_error(304, "304", s3.get_object, Bucket=bucket, Key="k", IfNoneMatch=etag,
                 IfModifiedSince=before)


# --------------------------------------------------------------------------------------------
# Conditional writes (botocore models IfNoneMatch and IfMatch on PutObject)


def test_put_if_none_match_star_creates_absent_key(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="new", Body=b"v1", IfNoneMatch="*")
    assert put["ETag"] == quoted(md5_hex(b"v1"))
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"v1"


def test_put_if_none_match_star_on_existing_key_is_precondition_failed(
        s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, _ = ten_bytes
    expect_error(412, "PreconditionFailed", s3.put_object, Bucket=bucket, Key="k", Body=b"v2",
                 IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY


def test_put_if_match_is_compare_and_swap(s3: Any, ten_bytes: tuple[str, str]) -> None:
    bucket, etag = ten_bytes
    swapped = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert swapped["ETag"] == quoted(md5_hex(b"v2"))
    # The old ETag is stale now: a second writer holding it loses.
    expect_error(412, "PreconditionFailed", s3.put_object, Bucket=bucket, Key="k", Body=b"v3",
                 IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_put_if_match_on_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    # AWS: no current object with that name -> 404 Not Found.
    expect_error(404, "NoSuchKey", s3.put_object, Bucket=bucket, Key="absent", Body=b"x",
                 IfMatch=quoted(md5_hex(b"x")))
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="absent")
