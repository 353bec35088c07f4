"""ListObjects (v1) and ListObjectsV2: order, prefix, delimiter, paging, owners, URL encoding.

S3 lists keys in UTF-8 byte order, so "a-c" (0x2d) sorts before "a/b" (0x2f) and every
non-ASCII key after every ASCII one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import pytest

from compat_tests.helpers import put_many

KEYS = ["a", "a-c", "a/b", "a/b/c", "a/d", "b", "c d", "c+d", "z", "é", "日本"]
BYTE_ORDER = sorted(KEYS, key=lambda k: k.encode())
TOP_LEVEL = ["a", "a-c", "a/", "b", "c d", "c+d", "z", "é", "日本"]  # with delimiter "/"
MAX_PAGES = 40

NO_MARKER = "moto omits <Marker> from ListObjects v1 answers"
NO_TOKEN_ECHO = "moto does not echo ContinuationToken in ListObjectsV2"
OPAQUE_NEXT_MARKER = "moto sends an opaque NextMarker in ListObjects v1, even without a delimiter"
PREFIX_REPEATED = "moto lists a common prefix again after a v1 marker equal to it"


@pytest.fixture
def listed_bucket(s3: Any, bucket: str) -> str:
    put_many(s3, bucket, KEYS)
    return bucket


def _keys(page: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in page.get("Contents", [])]


def _prefixes(page: dict[str, Any]) -> list[str]:
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


def test_byte_order_is_the_listing_order() -> None:
    assert BYTE_ORDER == ["a", "a-c", "a/b", "a/b/c", "a/d", "b", "c d", "c+d", "z", "é", "日本"]


def test_list_objects_v2_lists_all_in_byte_order(s3: Any, listed_bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=listed_bucket)
    assert _keys(page) == BYTE_ORDER
    assert page["KeyCount"] == len(KEYS)
    assert page["IsTruncated"] is False
    assert page["Name"] == listed_bucket
    assert page["MaxKeys"] == 1000
    assert "NextContinuationToken" not in page
    first = page["Contents"][0]
    assert first["Size"] == 1
    assert first["StorageClass"] == "STANDARD"
    assert first["ETag"] == '"9dd4e461268c8034f5c8564e155c67a6"'  # md5("x")


def test_list_objects_v1_lists_all_in_byte_order(s3: Any, listed_bucket: str,
                                                 reference_diverges: Any) -> None:
    page = s3.list_objects(Bucket=listed_bucket)
    assert _keys(page) == BYTE_ORDER
    assert page["IsTruncated"] is False
    assert "NextMarker" not in page
    with reference_diverges(NO_MARKER):
        assert page["Marker"] == ""


def test_list_objects_of_empty_bucket(s3: Any, bucket: str) -> None:
    v2 = s3.list_objects_v2(Bucket=bucket)
    assert v2["KeyCount"] == 0
    assert "Contents" not in v2
    assert v2["IsTruncated"] is False
    v1 = s3.list_objects(Bucket=bucket)
    assert "Contents" not in v1
    assert v1["IsTruncated"] is False


def test_prefix_selects_keys(s3: Any, listed_bucket: str) -> None:
    assert _keys(s3.list_objects_v2(Bucket=listed_bucket, Prefix="a/")) == ["a/b", "a/b/c", "a/d"]
    assert _keys(s3.list_objects(Bucket=listed_bucket, Prefix="a")) == [
        "a", "a-c", "a/b", "a/b/c", "a/d"]
    assert _keys(s3.list_objects_v2(Bucket=listed_bucket, Prefix="é")) == ["é"]
    assert _keys(s3.list_objects_v2(Bucket=listed_bucket, Prefix="nothing")) == []


def test_delimiter_rolls_up_common_prefixes(s3: Any, listed_bucket: str) -> None:
    for call in (s3.list_objects_v2, s3.list_objects):
        page = call(Bucket=listed_bucket, Delimiter="/")
        assert _keys(page) == ["a", "a-c", "b", "c d", "c+d", "z", "é", "日本"]
        assert _prefixes(page) == ["a/"]
        assert page["Delimiter"] == "/"
    assert s3.list_objects_v2(Bucket=listed_bucket, Delimiter="/")["KeyCount"] == 9


def test_prefix_and_delimiter_together(s3: Any, listed_bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=listed_bucket, Prefix="a/", Delimiter="/")
    assert _keys(page) == ["a/b", "a/d"]
    assert _prefixes(page) == ["a/b/"]
    assert page["Prefix"] == "a/"
    assert page["KeyCount"] == 3


def test_other_delimiter(s3: Any, listed_bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=listed_bucket, Delimiter="-")
    assert _prefixes(page) == ["a-"]
    assert "a-c" not in _keys(page)
    assert "a/b" in _keys(page)


def test_max_keys_exactly_all_is_not_truncated(s3: Any, listed_bucket: str) -> None:
    v2 = s3.list_objects_v2(Bucket=listed_bucket, MaxKeys=len(KEYS))
    assert v2["IsTruncated"] is False
    assert "NextContinuationToken" not in v2
    v1 = s3.list_objects(Bucket=listed_bucket, MaxKeys=len(KEYS))
    assert v1["IsTruncated"] is False


def _walk_v2(s3: Any, bucket: str, page_size: int, diverges: Any,
             **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        extra = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=page_size, **params, **extra)
        pages.append(page)
        assert page["MaxKeys"] == page_size
        assert page["KeyCount"] == len(_keys(page)) + len(_prefixes(page)) <= page_size
        if token:
            with diverges(NO_TOKEN_ECHO):
                assert page["ContinuationToken"] == token
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            return pages
        token = page["NextContinuationToken"]
    raise AssertionError(f"listing did not end within {MAX_PAGES} pages")


@pytest.mark.parametrize("page_size", [1, 2, 3, 4])
def test_list_objects_v2_pages_with_continuation_token(s3: Any, listed_bucket: str,
                                                       page_size: int,
                                                       reference_diverges: Any) -> None:
    pages = _walk_v2(s3, listed_bucket, page_size, reference_diverges)
    assert [k for p in pages for k in _keys(p)] == BYTE_ORDER
    assert len(pages) == -(-len(KEYS) // page_size)

    pages = _walk_v2(s3, listed_bucket, page_size, reference_diverges, Delimiter="/")
    assert sorted(k for p in pages for k in _keys(p) + _prefixes(p)) == sorted(TOP_LEVEL)
    assert len(pages) == -(-len(TOP_LEVEL) // page_size)


def test_list_objects_v2_start_after(s3: Any, listed_bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=listed_bucket, StartAfter="a/b")
    assert page["StartAfter"] == "a/b"
    assert _keys(page) == BYTE_ORDER[3:]
    page = s3.list_objects_v2(Bucket=listed_bucket, StartAfter="a/", Delimiter="/")
    assert _keys(page) == ["b", "c d", "c+d", "z", "é", "日本"]
    assert _prefixes(page) == []


def _walk_v1(s3: Any, bucket: str, page_size: int, **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    marker = ""
    for _ in range(MAX_PAGES):
        page = s3.list_objects(Bucket=bucket, MaxKeys=page_size, Marker=marker, **params)
        pages.append(page)
        assert page["Marker"] == marker
        entries = _keys(page) + _prefixes(page)
        assert len(entries) <= page_size
        if not page["IsTruncated"]:
            return pages
        if "Delimiter" in params:
            # S3: NextMarker only with a delimiter, and then it is the last entry returned.
            assert page["NextMarker"] == max(entries, key=lambda e: e.encode())
            marker = page["NextMarker"]
        else:
            assert "NextMarker" not in page
            marker = _keys(page)[-1]
    raise AssertionError(f"listing did not end within {MAX_PAGES} pages")


@pytest.mark.parametrize("page_size", [1, 2, 3, 4])
@pytest.mark.reference_diverges(f"{NO_MARKER}; {OPAQUE_NEXT_MARKER}; {PREFIX_REPEATED}")
def test_list_objects_v1_pages_with_marker(s3: Any, listed_bucket: str, page_size: int) -> None:
    pages = _walk_v1(s3, listed_bucket, page_size)
    assert [k for p in pages for k in _keys(p)] == BYTE_ORDER

    pages = _walk_v1(s3, listed_bucket, page_size, Delimiter="/")
    entries = [k for p in pages for k in _keys(p) + _prefixes(p)]
    assert sorted(entries) == sorted(TOP_LEVEL)  # each once: a prefix marker skips its keys


def test_list_objects_v2_fetch_owner(s3: Any, listed_bucket: str,
                                     reference_diverges: Any) -> None:
    plain = s3.list_objects_v2(Bucket=listed_bucket)
    assert all("Owner" not in o for o in plain["Contents"])
    owned = s3.list_objects_v2(Bucket=listed_bucket, FetchOwner=True)
    assert all(o["Owner"]["ID"] for o in owned["Contents"])
    with reference_diverges("moto's object Owner ID is not the ListBuckets Owner ID"):
        assert owned["Contents"][0]["Owner"]["ID"] == s3.list_buckets()["Owner"]["ID"]


def test_list_objects_v1_includes_owner(s3: Any, listed_bucket: str) -> None:
    page = s3.list_objects(Bucket=listed_bucket)
    assert all(o["Owner"]["ID"] for o in page["Contents"])


def test_boto3_decodes_url_encoded_listing(s3: Any, listed_bucket: str) -> None:
    # botocore asks for encoding-type=url by itself and decodes: '+' and ' ' stay distinct.
    page = s3.list_objects_v2(Bucket=listed_bucket, Prefix="c")
    assert _keys(page) == ["c d", "c+d"]
    page = s3.list_objects(Bucket=listed_bucket, Prefix="c")
    assert _keys(page) == ["c d", "c+d"]


@pytest.mark.parametrize("version", [
    pytest.param("v1", marks=pytest.mark.reference_diverges(
        "moto does not URL-encode Prefix and Delimiter in ListObjects v1 answers")),
    "v2",
])
def test_explicit_encoding_type_url_encodes_keys_and_prefixes(
        s3: Any, listed_bucket: str, version: str) -> None:
    # Asked for explicitly, botocore leaves the values as sent; they decode with unquote_plus.
    call = s3.list_objects_v2 if version == "v2" else s3.list_objects
    page = call(Bucket=listed_bucket, EncodingType="url")
    assert page["EncodingType"] == "url"
    raw = _keys(page)
    assert [unquote_plus(k) for k in raw] == BYTE_ORDER
    for k in raw:
        assert k.isascii() and " " not in k, k

    page = call(Bucket=listed_bucket, EncodingType="url", Prefix="c ", Delimiter=" ")
    assert unquote_plus(page["Prefix"]) == "c "
    assert unquote_plus(page["Delimiter"]) == " "
    assert page["Prefix"].isascii() and " " not in page["Prefix"]
    assert [unquote_plus(k) for k in _keys(page)] == ["c d"]


def test_paginators_walk_everything(s3: Any, listed_bucket: str,
                                    reference_diverges: Any) -> None:
    v2 = s3.get_paginator("list_objects_v2").paginate(Bucket=listed_bucket,
                                                     PaginationConfig={"PageSize": 3})
    assert [k for page in v2 for k in _keys(page)] == BYTE_ORDER
    v1 = s3.get_paginator("list_objects").paginate(Bucket=listed_bucket,
                                                  PaginationConfig={"PageSize": 3})
    assert [k for page in v1 for k in _keys(page)] == BYTE_ORDER
    v1d = s3.get_paginator("list_objects").paginate(Bucket=listed_bucket, Delimiter="/",
                                                   PaginationConfig={"PageSize": 2})
    pages = list(v1d)
    with reference_diverges(PREFIX_REPEATED):
        assert sorted(k for p in pages for k in _keys(p) + _prefixes(p)) == sorted(TOP_LEVEL)


def test_marker_inside_a_common_prefix_lists_that_prefix_if_keys_follow(
        s3: Any, bucket: str) -> None:
    for key in ["a", "dir/1", "dir/3", "z"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    page = s3.list_objects(Bucket=bucket, Delimiter="/", Marker="dir/2")
    assert [p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["dir/"]
    assert [o["Key"] for o in page.get("Contents", [])] == ["z"]
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", StartAfter="dir/3")
    assert "CommonPrefixes" not in page
    assert [o["Key"] for o in page.get("Contents", [])] == ["z"]
