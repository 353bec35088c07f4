"""Hostile keys (compat_tests/keys.py) round-trip unchanged through put, list, get, copy and
delete; a 1025-byte key is refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from compat_tests.helpers import expect_error, md5_hex, put_many, quoted
from compat_tests.keys import KEYS, TOO_LONG_KEY, body_for, byte_order


def _put_all(s3: Any, bucket: str) -> None:
    for key in KEYS:
        put = s3.put_object(Bucket=bucket, Key=key, Body=body_for(key))
        assert put["ETag"] == quoted(md5_hex(body_for(key))), key


def _listed(s3: Any, bucket: str, operation: str, **params: Any) -> list[str]:
    pages = s3.get_paginator(operation).paginate(Bucket=bucket, **params,
                                                 PaginationConfig={"PageSize": 7})
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_hostile_keys_round_trip_through_put_list_get(s3: Any, bucket: str) -> None:
    _put_all(s3, bucket)
    assert _listed(s3, bucket, "list_objects_v2") == byte_order(KEYS)
    assert _listed(s3, bucket, "list_objects") == byte_order(KEYS)
    for key in KEYS:
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body_for(key), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body_for(key))


def test_hostile_keys_listed_url_encoded(s3: Any, bucket: str) -> None:
    _put_all(s3, bucket)
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert [unquote_plus(o["Key"]) for o in raw["Contents"]] == byte_order(KEYS)


def test_hostile_keys_copy_and_delete(s3: Any, bucket: str) -> None:
    short = [k for k in KEYS if len(k.encode()) <= 1000]
    put_many(s3, bucket, [k for k in short if not k.endswith("/")])
    for key in short:
        if key.endswith("/"):
            continue
        s3.copy_object(Bucket=bucket, Key=f"copy/{key}", CopySource={"Bucket": bucket,
                                                                     "Key": key})
        assert s3.get_object(Bucket=bucket, Key=f"copy/{key}")["Body"].read() == b"x", key
    for key in short:
        if not key.endswith("/"):
            assert s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"][
                "HTTPStatusCode"] == 204
    listed = _listed(s3, bucket, "list_objects_v2")
    assert listed == byte_order([f"copy/{k}" for k in short if not k.endswith("/")])


def test_hostile_prefixes_list_their_keys(s3: Any, bucket: str) -> None:
    _put_all(s3, bucket)
    assert _listed(s3, bucket, "list_objects_v2", Prefix="a/") == ["a//b", "a/b"]
    assert _listed(s3, bucket, "list_objects_v2", Prefix="../") == ["../x"]
    assert _listed(s3, bucket, "list_objects_v2", Prefix="deep/") == ["deep/er/than/that/"]
    assert _listed(s3, bucket, "list_objects_v2", Prefix="100%") == ["100%"]
    page = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in page["Contents"]] == ["a/b"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a//"]


def test_key_of_1025_bytes_is_key_too_long(s3: Any, bucket: str,
                                           reference_diverges: Any) -> None:
    with reference_diverges("moto accepts keys longer than 1024 bytes"):
        expect_error(400, "KeyTooLongError", s3.put_object, Bucket=bucket, Key=TOO_LONG_KEY,
                     Body=b"x")
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_trailing_slash_key_with_data(s3: Any, bucket: str, plenilune_differs: Any) -> None:
    if plenilune_differs("a key ending in '/' is a directory marker and holds no data: a PUT "
                         "of a non-empty body to it is 400 InvalidRequest"):
        expect_error(400, "InvalidRequest", s3.put_object, Bucket=bucket, Key="folder/",
                     Body=b"data")
        s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
        assert s3.get_object(Bucket=bucket, Key="folder/")["Body"].read() == b""
    else:
        s3.put_object(Bucket=bucket, Key="folder/", Body=b"data")
        assert s3.get_object(Bucket=bucket, Key="folder/")["Body"].read() == b"data"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["folder/"]
