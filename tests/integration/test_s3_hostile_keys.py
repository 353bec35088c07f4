"""Hostile keys through the real gateway with boto3: each one round-trips unchanged through
PutObject, GetObject, HeadObject, the listings (flat, delimited, URL-encoded) and DeleteObject.

The keys are the shared list (STYLE F: one KEYS list for unit, integration and compat tests),
``compat_tests/keys.py``, plus the few this suite names that the list spells differently.
Expected listings are computed here from the keys themselves, never taken from the gateway.

The cluster is the session's ``plenilune`` fixture (plen/pytest_plugin.py), the one other
projects use: these tests only talk S3, so they share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from compat_tests.keys import KEYS as SHARED_KEYS
from compat_tests.keys import MAX_KEY_BYTES, TOO_LONG_KEY, body_for, byte_order
from plen.pytest_plugin import Plenilune

EXTRA_KEYS = ["%", "+", "?", "#", "a/./b", "日本/ファイル", "🙂/🙃", "sp ace/and+plus/"]
KEYS = SHARED_KEYS + [k for k in EXTRA_KEYS if k not in SHARED_KEYS]
LONGEST = [k for k in KEYS if len(k.encode()) == MAX_KEY_BYTES]
# Prefixes that do not end at a '/', so a listing must cut inside a name.
PARTIAL_PREFIXES = ["a", "a-", "%", "日", "🙂", ".", "..", "sp", "deep/e", "x" * 1000]


def key_id(key: str) -> str:
    shown = ascii(key)[1:-1]
    return shown if len(shown) <= 40 else f"{shown[:30]}...({len(key.encode())}B)"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture(scope="module")
def s3(plenilune: Plenilune) -> Any:
    return plenilune.client


@pytest.fixture(scope="module")
def loaded(plenilune: Plenilune, s3: Any) -> Iterator[dict[str, str]]:
    """Bucket "hostile" holding every key (body = the key's UTF-8, empty for markers);
    yields key -> the ETag PutObject answered. Removed after, as the cluster is shared."""
    s3.create_bucket(Bucket="hostile")
    yield {key: s3.put_object(Bucket="hostile", Key=key, Body=body_for(key))["ETag"]
           for key in KEYS}
    plenilune.remove_bucket("hostile")


def all_pages(s3: Any, operation: str, **params: Any) -> tuple[list[str], list[str]]:
    """(keys, common prefixes) over every page, in the order the pages gave them."""
    keys: list[str] = []
    prefixes: list[str] = []
    pages = s3.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 7})
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


def delimited(keys: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """What S3 lists below ``prefix`` with delimiter '/': (keys, common prefixes)."""
    contents: list[str] = []
    common: set[str] = set()
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        cut = rest.find("/")
        if cut < 0:
            contents.append(key)
        else:
            common.add(prefix + rest[:cut + 1])
    return byte_order(contents), byte_order(list(common))


def test_the_key_list_is_hostile_enough() -> None:
    for needed in ["a", "a/b", "a//b", "../x", "./y", "dir/", "%2F", "tab\there", "emoji😀"]:
        assert needed in KEYS, needed
    assert LONGEST and len(TOO_LONG_KEY.encode()) == MAX_KEY_BYTES + 1
    assert len(set(KEYS)) == len(KEYS)


@pytest.mark.parametrize("key", KEYS, ids=key_id)
def test_key_round_trips_through_put_get_head(s3: Any, loaded: dict[str, str],
                                              key: str) -> None:
    body = body_for(key)
    assert loaded[key] == f'"{md5_hex(body)}"'
    got = s3.get_object(Bucket="hostile", Key=key)
    with got["Body"] as stream:
        assert stream.read() == body
    assert got["ETag"] == loaded[key]
    head = s3.head_object(Bucket="hostile", Key=key)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == loaded[key]
    # The key is found by listing exactly itself as a prefix.
    page = s3.list_objects_v2(Bucket="hostile", Prefix=key)
    assert key in [o["Key"] for o in page.get("Contents", [])]


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects"])
def test_flat_listing_is_every_key_in_utf8_byte_order(s3: Any, loaded: dict[str, str],
                                                      operation: str) -> None:
    keys, prefixes = all_pages(s3, operation, Bucket="hostile")
    assert prefixes == []
    assert keys == byte_order(KEYS)
    one_page = getattr(s3, operation)(Bucket="hostile")
    assert [o["Key"] for o in one_page["Contents"]] == byte_order(KEYS)
    assert not one_page["IsTruncated"]


def test_listing_sizes_and_etags_match_what_was_put(s3: Any, loaded: dict[str, str]) -> None:
    page = s3.list_objects_v2(Bucket="hostile")
    assert {o["Key"]: (o["Size"], o["ETag"]) for o in page["Contents"]} \
        == {k: (len(body_for(k)), loaded[k]) for k in KEYS}


def test_delimited_listings_give_the_right_common_prefixes(s3: Any,
                                                          loaded: dict[str, str]) -> None:
    # Walk the whole tree the way a file browser would, starting at the top.
    pending, seen = [""], []
    while pending:
        prefix = pending.pop()
        seen.append(prefix)
        want_keys, want_prefixes = delimited(KEYS, prefix)
        keys, prefixes = all_pages(s3, "list_objects_v2", Bucket="hostile", Prefix=prefix,
                                   Delimiter="/")
        assert (keys, prefixes) == (want_keys, want_prefixes), f"prefix {prefix!r}"
        pending += want_prefixes
    assert "a//" in seen and "../" in seen and "deep/er/than/" in seen
    for prefix in PARTIAL_PREFIXES:
        keys, prefixes = all_pages(s3, "list_objects_v2", Bucket="hostile", Prefix=prefix,
                                   Delimiter="/")
        assert (keys, prefixes) == delimited(KEYS, prefix), f"prefix {prefix!r}"


def test_url_encoded_listing_decodes_back_exactly(s3: Any, loaded: dict[str, str]) -> None:
    # Asked for explicitly, botocore leaves the keys encoded (it decodes only when it added
    # EncodingType itself, as in the other listings here); S3 encodes as form values do.
    page = s3.list_objects_v2(Bucket="hostile", EncodingType="url")
    assert page["EncodingType"] == "url"
    raw = [o["Key"] for o in page["Contents"]]
    for encoded in raw:
        assert encoded.isascii() and encoded.isprintable() and " " not in encoded, encoded
        assert "+" not in encoded, f"a literal '+' would decode to a space: {encoded!r}"
    assert [unquote_plus(k) for k in raw] == byte_order(KEYS)
    top = s3.list_objects_v2(Bucket="hostile", EncodingType="url", Delimiter="/")
    assert [unquote_plus(p["Prefix"]) for p in top["CommonPrefixes"]] \
        == delimited(KEYS, "")[1]
    assert [unquote_plus(o["Key"]) for o in top["Contents"]] == delimited(KEYS, "")[0]


def test_every_key_is_deleted_and_only_it(s3: Any) -> None:
    s3.create_bucket(Bucket="hostile-delete")
    for key in KEYS:
        s3.put_object(Bucket="hostile-delete", Key=key, Body=body_for(key))
    remaining = byte_order(KEYS)
    # Delete in an order unlike the listing's, checking the neighbours survive each time.
    for key in sorted(KEYS, key=lambda k: (len(k), k)):
        deleted = s3.delete_object(Bucket="hostile-delete", Key=key)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
        remaining.remove(key)
        with pytest.raises(ClientError) as err:
            s3.head_object(Bucket="hostile-delete", Key=key)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404, key
        assert all_pages(s3, "list_objects_v2", Bucket="hostile-delete")[0] == remaining, key
    assert remaining == []
    s3.delete_bucket(Bucket="hostile-delete")


@pytest.mark.parametrize("key", [TOO_LONG_KEY, "é" * 512 + "x"], ids=["ascii", "utf8"])
def test_key_of_1025_bytes_is_key_too_long(s3: Any, key: str) -> None:
    assert len(key.encode()) == MAX_KEY_BYTES + 1
    s3.create_bucket(Bucket="hostile-long")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="hostile-long", Key=key, Body=b"x")
    assert error_of(err) == (400, "KeyTooLongError")
    assert s3.list_objects_v2(Bucket="hostile-long")["KeyCount"] == 0
    s3.put_object(Bucket="hostile-long", Key=key[:-1], Body=b"1024")  # one byte less: fine
    with s3.get_object(Bucket="hostile-long", Key=key[:-1])["Body"] as body:
        assert body.read() == b"1024"
    s3.delete_object(Bucket="hostile-long", Key=key[:-1])
    s3.delete_bucket(Bucket="hostile-long")


def test_directory_marker_takes_no_body(s3: Any) -> None:
    s3.create_bucket(Bucket="hostile-marker")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="hostile-marker", Key="folder/", Body=b"data")
    assert error_of(err) == (400, "InvalidRequest")
    assert s3.list_objects_v2(Bucket="hostile-marker")["KeyCount"] == 0
    put = s3.put_object(Bucket="hostile-marker", Key="folder/", Body=b"")
    assert put["ETag"] == f'"{md5_hex(b"")}"'
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="hostile-marker")["Contents"]] \
        == ["folder/"]
    with s3.get_object(Bucket="hostile-marker", Key="folder/")["Body"] as body:
        assert body.read() == b""
    s3.delete_object(Bucket="hostile-marker", Key="folder/")
    assert s3.list_objects_v2(Bucket="hostile-marker")["KeyCount"] == 0
