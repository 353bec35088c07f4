"""PutObject, GetObject, HeadObject, DeleteObject: bodies, ETags, dates, metadata, Content-MD5."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import pytest

from compat_tests.helpers import expect_error, md5_b64, md5_hex, quoted, signed_request


def _server_date(response: dict[str, Any]) -> dt.datetime:
    return email.utils.parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])


def test_put_get_head_round_trip_with_md5_etag(s3: Any, bucket: str) -> None:
    body = b"hello, plenilune\n" * 100
    put = s3.put_object(Bucket=bucket, Key="greeting.txt", Body=body)
    assert put["ETag"] == quoted(md5_hex(body))

    got = s3.get_object(Bucket=bucket, Key="greeting.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert got["ContentType"] == "binary/octet-stream"
    assert got["AcceptRanges"] == "bytes"

    head = s3.head_object(Bucket=bucket, Key="greeting.txt")
    assert head["ETag"] == put["ETag"]
    assert head["ContentLength"] == len(body)
    assert head["LastModified"] == got["LastModified"]
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_last_modified_is_the_time_of_the_put(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    when = _server_date(put)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert when - dt.timedelta(seconds=2) <= head["LastModified"] <= when + dt.timedelta(seconds=1)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["LastModified"].replace(microsecond=0) == head["LastModified"]


def test_empty_object_has_empty_md5_etag(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == quoted("d41d8cd98f00b204e9800998ecf8427e")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0


def test_put_object_overwrites(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}


def test_get_object_missing_is_no_such_key(s3: Any, bucket: str) -> None:
    err = expect_error(404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="no/such key")
    assert err["Error"]["Key"] == "no/such key"


def test_head_object_missing_is_404(s3: Any, bucket: str) -> None:
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="missing")


def test_delete_object_is_204_and_removes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"x")
    deleted = s3.delete_object(Bucket=bucket, Key="doomed")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="doomed")


def test_delete_object_missing_is_204(s3: Any, bucket: str) -> None:
    deleted = s3.delete_object(Bucket=bucket, Key="never-was")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_user_metadata_round_trips_with_lowercased_names(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                  Metadata={"color": "blue", "Camel-Case": "Keeps Value Case", "n": "1"})
    expected = {"color": "blue", "camel-case": "Keeps Value Case", "n": "1"}
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == expected
    assert s3.get_object(Bucket=bucket, Key="k")["Metadata"] == expected


def test_content_headers_round_trip(s3: Any, bucket: str) -> None:
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>hi</p>",
                  ContentType="text/html; charset=utf-8", ContentEncoding="identity",
                  ContentDisposition='attachment; filename="page.html"',
                  ContentLanguage="en-GB", CacheControl="max-age=60, public", Expires=expires)
    for answer in (s3.head_object(Bucket=bucket, Key="page.html"),
                   s3.get_object(Bucket=bucket, Key="page.html")):
        assert answer["ContentType"] == "text/html; charset=utf-8"
        assert answer["ContentEncoding"] == "identity"
        assert answer["ContentDisposition"] == 'attachment; filename="page.html"'
        assert answer["ContentLanguage"] == "en-GB"
        assert answer["CacheControl"] == "max-age=60, public"
        assert answer["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
            "Wed, 02 Jan 2030 03:04:05 GMT"
        assert answer["Metadata"] == {}


def test_get_object_response_overrides_headers(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="k", ResponseContentType="application/json",
                        ResponseContentDisposition="inline",
                        ResponseCacheControl="no-cache")
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"


def test_put_object_with_correct_content_md5(s3: Any, bucket: str) -> None:
    body = b"checked by md5"
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=md5_b64(body))
    assert put["ETag"] == quoted(md5_hex(body))


@pytest.mark.reference_diverges("moto does not verify Content-MD5")
def test_put_object_with_wrong_content_md5_is_bad_digest(s3: Any, bucket: str) -> None:
    expect_error(400, "BadDigest", s3.put_object, Bucket=bucket, Key="k", Body=b"body",
                 ContentMD5=md5_b64(b"another body"))
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


@pytest.mark.reference_diverges("moto does not verify Content-MD5")
def test_put_object_with_malformed_content_md5_is_invalid_digest(
        s3: Any, bucket: str, target: Any) -> None:
    # A raw request, so that botocore adds no checksum header of its own.
    for value in ("bm90LWEtZGlnZXN0", "not base64!"):
        answer = signed_request(target, "PUT", f"/{bucket}/k", body=b"body",
                                headers={"Content-MD5": value})
        assert answer.status == 400, (value, answer.body)
        assert answer.error["Code"] == "InvalidDigest", (value, answer.error)
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


def test_deleting_a_folder_object_keeps_the_keys_below_it(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    s3.put_object(Bucket=bucket, Key="folder/inside", Body=b"kept")
    s3.delete_object(Bucket=bucket, Key="folder/")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["folder/inside"]
    expect_error(404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="folder/")
    assert s3.get_object(Bucket=bucket, Key="folder/inside")["Body"].read() == b"kept"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "folder/inside"}]})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert "CommonPrefixes" not in s3.list_objects_v2(Bucket=bucket, Delimiter="/")
