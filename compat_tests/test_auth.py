"""Authentication: presigned URLs and their expiry, wrong secrets, unknown keys, anonymous
requests, and the request id on every error.

Moto checks signatures only inside ``target.auth_enforced()`` (see targets.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from compat_tests.helpers import client, expect_error, expect_raw_error, key_path, raw_request
from compat_tests.targets import Target

URLLIB_TIMEOUT_S = 30.0


def _urlopen(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=URLLIB_TIMEOUT_S) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# boto3 presigns with SigV2 (AWSAccessKeyId/Signature/Expires) for a custom endpoint in
# us-east-1 unless told s3v4: both query forms are exercised.
SIGNATURE_VERSIONS = [pytest.param(None, id="default-v2"), pytest.param("s3v4", id="v4")]


def _presigner(target: Target, signature_version: str | None) -> Any:
    config = {"signature_version": signature_version} if signature_version else {}
    return client(target, **config)


@contextlib.contextmanager
def _signing_clock(at: dt.datetime) -> Iterator[None]:
    """botocore's signers (the Python one and, when awscrt is installed, the CRT one) read the
    time through ``get_current_datetime``; make them read ``at`` (UTC)."""

    def fake(remove_tzinfo: bool = True) -> dt.datetime:
        return at.replace(tzinfo=None) if remove_tzinfo else at

    with contextlib.ExitStack() as stack:
        for module in ("botocore.auth", "botocore.crt.auth"):
            try:
                importlib.import_module(module)
            except ImportError:  # botocore.crt.auth needs awscrt
                continue
            stack.enter_context(mock.patch(f"{module}.get_current_datetime", fake))
        yield


@pytest.mark.parametrize("signature_version", SIGNATURE_VERSIONS)
def test_presigned_get_is_served(s3: Any, bucket: str, target: Target,
                                 signature_version: str | None) -> None:
    key = "dir/shared file+1.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"presigned body")
    url = _presigner(target, signature_version).generate_presigned_url(
        "get_object", ExpiresIn=300, Params={"Bucket": bucket, "Key": key})
    assert ("X-Amz-Signature=" in url) == (signature_version == "s3v4")
    status, headers, body = _urlopen(url)
    assert (status, body) == (200, b"presigned body")
    assert headers["etag"] == s3.head_object(Bucket=bucket, Key=key)["ETag"]


@pytest.mark.parametrize("signature_version", SIGNATURE_VERSIONS)
def test_presigned_get_after_expiry_is_access_denied(s3: Any, bucket: str, target: Target,
                                                     reference_diverges: Any,
                                                     signature_version: str | None) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    presigner = _presigner(target, signature_version)
    params = {"Bucket": bucket, "Key": "k"}
    if signature_version == "s3v4":
        # Signed two hours ago, valid for one: it expired an hour ago, and nothing waits.
        with _signing_clock(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)):
            url = presigner.generate_presigned_url("get_object", ExpiresIn=3600, Params=params)
    else:
        # SigV2 carries an absolute Expires (now + ExpiresIn): an hour ago.
        url = presigner.generate_presigned_url("get_object", ExpiresIn=-3600, Params=params)
    status, headers, body = _urlopen(url)
    with reference_diverges("moto serves expired presigned URLs"):
        assert status == 403, body
        assert b"<Code>AccessDenied</Code>" in body
        assert b"Request has expired" in body


def test_wrong_secret_is_signature_does_not_match(target: Target, bucket: str) -> None:
    bad = client(target, secret_key="not-the-secret")
    with target.auth_enforced():
        expect_error(403, "SignatureDoesNotMatch", bad.list_objects_v2, Bucket=bucket)
        expect_error(403, "SignatureDoesNotMatch", bad.put_object, Bucket=bucket, Key="k",
                     Body=b"x")
    expect_error(404, "NoSuchKey", client(target).get_object, Bucket=bucket, Key="k")


def test_unknown_access_key_is_invalid_access_key_id(target: Target, bucket: str) -> None:
    unknown = client(target, access_key="AKIAIOSFODNN7EXAMPLE", secret_key="whatever")
    with target.auth_enforced():
        expect_error(403, "InvalidAccessKeyId", unknown.list_objects_v2, Bucket=bucket)
        expect_error(403, "InvalidAccessKeyId", unknown.list_buckets)


@pytest.mark.parametrize("method, with_key", [("GET", True), ("HEAD", True), ("PUT", True),
                                              ("GET", False)])
def test_anonymous_request_to_private_bucket_is_access_denied(
        s3: Any, bucket: str, target: Target, reference_diverges: Any,
        method: str, with_key: bool) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"mine")
    path = key_path(bucket, "private" if with_key else None)
    with target.auth_enforced():
        answer = raw_request(target, method, path, body=b"intruder" if method == "PUT" else b"")
    if method == "HEAD":  # a HEAD answer has no body
        assert answer.status == 403
        with reference_diverges("moto sends x-amzn-requestid, not x-amz-request-id"):
            assert answer.headers["x-amz-request-id"]
    else:
        with reference_diverges("moto answers anonymous requests with an empty 403 body "
                                "(a 500 for a bucket listing)"):
            expect_raw_error(answer, 403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"mine"


@pytest.mark.reference_diverges("moto sends x-amzn-requestid, not x-amz-request-id")
def test_error_request_id_equals_x_amz_request_id_header(s3: Any, bucket: str,
                                                         target: Target) -> None:
    errors = [
        expect_error(404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="absent"),
        expect_error(404, "NoSuchBucket", s3.list_objects_v2, Bucket=bucket + "-absent"),
        expect_error(400, "InvalidBucketName", s3.create_bucket, Bucket="Not_Valid"),
        expect_error(404, "404", s3.head_object, Bucket=bucket, Key="absent"),
    ]
    for err in errors:
        compat = err["CompatError"]
        assert compat["x-amz-request-id"], err
        if compat["fields"]:
            assert compat["fields"]["RequestId"] == compat["x-amz-request-id"]
    raw = raw_request(target, "GET", key_path(bucket, "absent"))
    assert raw.status in (403, 404)
    assert raw.error["RequestId"] == raw.headers["x-amz-request-id"]
