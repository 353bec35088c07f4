"""MinIO Python SDK: fput/fget, stat, listings, remove_objects and presigned GETs.

Every payload size goes up with fput_object and down with fget_object; the hostile key names
go through put, stat, get, recursive and paged listings, remove_objects and presigned GETs
fetched with urllib.

Rules: the SDK gets its own urllib3 pool with no retries, so a server error is seen as it is,
never retried away; listings come back in the server's order (the SDK does not sort), so they
are compared whole with S3's UTF-8 byte order.
"""

from __future__ import annotations

import datetime as dt
import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3

from compat_tests.clients import CLIENT_KEYS, require_module, write_payloads
from compat_tests.helpers import MiB, md5_hex, multipart_etag, put_many, quoted
from compat_tests.keys import byte_order
from compat_tests.targets import Target

HTTP_TIMEOUT_S = 60.0
PART = 5 * MiB  # the SDK's part size for objects below 50,000 MiB (minio.helpers.MIN_PART_SIZE)
MANY = 1050  # keys in the paging test: two ListObjects pages, two DeleteObjects batches


@pytest.fixture
def mc(target: Target) -> Iterator[Any]:
    minio = require_module("minio", "python -m pip install minio")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=10.0, read=HTTP_TIMEOUT_S), retries=False, maxsize=10)
    made = minio.Minio(urlsplit(target.endpoint_url).netloc, access_key=target.access_key,
                       secret_key=target.secret_key, secure=False, region=target.region,
                       http_client=http)
    yield made
    http.clear()


def _urlopen(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _expected_etag(data: bytes) -> str:
    """One PUT up to a part, PART-sized parts (the last one shorter) above."""
    if len(data) <= PART:
        return md5_hex(data)
    return multipart_etag([data[i:i + PART] for i in range(0, len(data), PART)]).strip('"')


def _put_hostile_keys(mc: Any, bucket: str) -> None:
    for key in CLIENT_KEYS:
        data = key.encode()
        result = mc.put_object(bucket, key, io.BytesIO(data), len(data),
                               content_type="text/plain")
        assert result.etag == md5_hex(data), key


def _names(objects: Any) -> list[str]:
    return [o.object_name for o in objects]


# --------------------------------------------------------------------------------------------


def test_minio_fput_fget_every_size(mc: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    """MinIO fput_object, stat_object and fget_object carry every payload size byte for byte"""
    files = write_payloads(tmp_path / "up")
    for name, data in files.items():
        result = mc.fput_object(bucket, f"sizes/{name}", str(tmp_path / "up" / name),
                                metadata={"origin": "minio-sdk"})
        assert (result.object_name, result.etag) == (f"sizes/{name}", _expected_etag(data))

        stat = mc.stat_object(bucket, f"sizes/{name}")
        assert (stat.size, stat.etag) == (len(data), _expected_etag(data)), name
        assert stat.content_type == "application/octet-stream", name
        assert stat.metadata["x-amz-meta-origin"] == "minio-sdk", name
        assert stat.last_modified is not None
        head = s3.head_object(Bucket=bucket, Key=f"sizes/{name}")
        assert head["ETag"] == quoted(_expected_etag(data)), name
        assert head["Metadata"] == {"origin": "minio-sdk"}, name

        back = tmp_path / "down" / name
        got = mc.fget_object(bucket, f"sizes/{name}", str(back))
        assert got.size == len(data), name
        assert back.read_bytes() == data, name
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == sorted(files)

    big = files["40MiB.bin"]
    assert _expected_etag(big).endswith(f"-{-(-len(big) // PART)}")
    # Ranged GETs across part and block boundaries; length 0 means "to the end".
    for offset, length in [(PART - 3, 6), (8 * MiB - 1, MiB + 2), (len(big) - 5, 0)]:
        response = mc.get_object(bucket, "sizes/40MiB.bin", offset=offset, length=length)
        end = offset + length if length else len(big)
        try:
            assert response.read() == big[offset:end], (offset, length)
        finally:
            response.close()
            response.release_conn()
    assert _names(mc.list_objects(bucket, prefix="sizes/")) == [
        f"sizes/{n}" for n in byte_order(list(files))]


def test_minio_hostile_keys_put_stat_get(mc: Any, bucket: str) -> None:
    """MinIO put_object, stat_object and get_object keep keys with spaces, unicode, +, %, #"""
    _put_hostile_keys(mc, bucket)
    for key in CLIENT_KEYS:
        stat = mc.stat_object(bucket, key)
        assert (stat.object_name, stat.size) == (key, len(key.encode())), key
        assert stat.content_type == "text/plain", key
        response = mc.get_object(bucket, key)
        try:
            assert response.read() == key.encode(), key
        finally:
            response.close()
            response.release_conn()
    from minio.error import S3Error

    with pytest.raises(S3Error) as caught:
        mc.stat_object(bucket, "a/c")
    assert caught.value.code == "NoSuchKey"


def test_minio_list_objects_complete_and_in_order(mc: Any, bucket: str) -> None:
    """MinIO list_objects lists the hostile keys, recursive or by directory, in S3 order"""
    _put_hostile_keys(mc, bucket)
    everything = byte_order(CLIENT_KEYS)
    assert _names(mc.list_objects(bucket, recursive=True)) == everything
    assert _names(mc.list_objects(bucket, recursive=True, use_api_v1=True)) == everything
    assert _names(mc.list_objects(bucket, recursive=True, use_url_encoding_type=False)) == (
        everything)
    listed = list(mc.list_objects(bucket, recursive=True))
    assert [o.size for o in listed] == [len(k.encode()) for k in everything]
    assert [o.etag for o in listed] == [md5_hex(k.encode()) for k in everything]
    assert not any(o.is_dir for o in listed)

    # One level: the page's objects in order, then its common prefixes in order.
    files = byte_order([k for k in CLIENT_KEYS if "/" not in k])
    dirs = byte_order(list({k.split("/")[0] + "/" for k in CLIENT_KEYS if "/" in k}))
    for api_v1 in (False, True):
        top = list(mc.list_objects(bucket, use_api_v1=api_v1))
        assert [(o.object_name, o.is_dir) for o in top] == (
            [(f, False) for f in files] + [(d, True) for d in dirs]), api_v1

    assert _names(mc.list_objects(bucket, prefix="a")) == ["a", "a+b", "a/"]
    assert _names(mc.list_objects(bucket, prefix="a/")) == ["a/b"]
    assert _names(mc.list_objects(bucket, prefix="ünï/")) == ["ünï/cødé"]
    assert _names(mc.list_objects(bucket, prefix="deep/er/")) == ["deep/er/than/"]
    assert _names(mc.list_objects(bucket, prefix="deep/", recursive=True)) == [
        "deep/er/than/that/leaf"]
    after = everything.index("a")
    assert _names(mc.list_objects(bucket, recursive=True, start_after="a")) == (
        everything[after + 1:])
    assert _names(mc.list_objects(bucket, recursive=True, start_after="emoji😀",
                                  use_api_v1=True)) == everything[everything.index("emoji😀") + 1:]


def test_minio_lists_and_removes_past_one_page(mc: Any, s3: Any, bucket: str) -> None:
    """MinIO list_objects pages past 1000 keys and remove_objects deletes them in batches"""
    from minio.deleteobjects import DeleteObject

    keys = byte_order([f"many/{i % 7}/{i:05d} +é" for i in range(MANY)])
    put_many(s3, bucket, keys, body=b"")
    s3.put_object(Bucket=bucket, Key="other", Body=b"kept")
    assert _names(mc.list_objects(bucket, prefix="many/", recursive=True)) == keys
    assert _names(mc.list_objects(bucket, recursive=True, use_api_v1=True)) == [*keys, "other"]
    assert _names(mc.list_objects(bucket, recursive=True, start_after=keys[998])) == [
        *keys[999:], "other"]
    assert _names(mc.list_objects(bucket, prefix="many/")) == [f"many/{d}/" for d in range(7)]

    errors = list(mc.remove_objects(bucket, (DeleteObject(k) for k in keys)))
    assert errors == []
    assert _names(mc.list_objects(bucket, recursive=True)) == ["other"]


def test_minio_remove_object_and_remove_objects(mc: Any, bucket: str) -> None:
    """MinIO remove_object and remove_objects delete exactly the named hostile keys"""
    from minio.deleteobjects import DeleteObject

    _put_hostile_keys(mc, bucket)
    remaining = set(CLIENT_KEYS)
    mc.remove_object(bucket, "emoji😀")
    remaining.discard("emoji😀")
    assert _names(mc.list_objects(bucket, recursive=True)) == byte_order(list(remaining))

    doomed = ["sp ace/file name.txt", "a+b", "100%", "%2F", "#frag", "a", "never-was"]
    errors = list(mc.remove_objects(bucket, [DeleteObject(k) for k in doomed]))
    assert errors == []  # deleting an absent key is not an error
    remaining -= set(doomed)
    assert _names(mc.list_objects(bucket, recursive=True)) == byte_order(list(remaining))
    assert "a/b" in remaining  # "a" went, the directory of the same name stayed

    errors = list(mc.remove_objects(bucket, [DeleteObject(k) for k in remaining]))
    assert errors == []
    assert _names(mc.list_objects(bucket, recursive=True)) == []


def test_minio_presigned_get_fetched_with_urllib(mc: Any, bucket: str, tmp_path: Path) -> None:
    """A MinIO presigned GET URL, fetched with urllib, serves the object's bytes"""
    files = write_payloads(tmp_path / "up")
    mc.fput_object(bucket, "share/1MiB.bin", str(tmp_path / "up" / "1MiB.bin"))
    _put_hostile_keys(mc, bucket)
    wanted = {"share/1MiB.bin": files["1MiB.bin"], **{k: k.encode() for k in CLIENT_KEYS}}
    for key, data in wanted.items():
        url = mc.presigned_get_object(bucket, key, expires=dt.timedelta(minutes=5))
        assert "X-Amz-Signature=" in url, url
        status, headers, body = _urlopen(url)
        assert (status, body) == (200, data), key
        assert headers["etag"] == quoted(md5_hex(data)), key

    url = mc.presigned_get_object(
        bucket, "sp ace/file name.txt", expires=dt.timedelta(minutes=5),
        response_headers={"response-content-type": "application/x-test",
                          "response-content-disposition": 'attachment; filename="x.txt"'})
    status, headers, body = _urlopen(url)
    assert (status, body) == (200, b"sp ace/file name.txt")
    assert headers["content-type"] == "application/x-test"
    assert headers["content-disposition"] == 'attachment; filename="x.txt"'


def test_minio_presigned_get_after_expiry_is_refused(mc: Any, bucket: str,
                                                     reference_diverges: Any) -> None:
    """A MinIO presigned GET URL that expired is refused with AccessDenied"""
    mc.put_object(bucket, "k", io.BytesIO(b"secret"), 6)
    # Signed two hours ago, valid for one: it expired an hour ago, and nothing waits.
    signed_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    url = mc.presigned_get_object(bucket, "k", expires=dt.timedelta(hours=1),
                                  request_date=signed_at)
    status, _headers, body = _urlopen(url)
    with reference_diverges("moto serves expired presigned URLs"):
        assert status == 403, body
        assert b"<Code>AccessDenied</Code>" in body
        assert b"Request has expired" in body


def test_minio_bucket_calls(mc: Any, s3: Any, make_bucket: Any) -> None:
    """MinIO make_bucket, bucket_exists, list_buckets and remove_bucket"""
    name = make_bucket()  # cleaned up by the fixture, whatever happens below
    s3.delete_bucket(Bucket=name)
    assert not mc.bucket_exists(name)
    mc.make_bucket(name)
    assert mc.bucket_exists(name)
    assert name in [b.name for b in mc.list_buckets()]
    mc.remove_bucket(name)
    assert not mc.bucket_exists(name)
