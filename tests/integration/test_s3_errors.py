"""S3 error responses from the real gateway: the right Code and HTTP status, and the
<RequestId> of the XML body equal to the x-amz-request-id header.

Requests go out two ways: through boto3 (its ClientError, with the raw body kept by an
``after-call`` hook, since botocore drops the body's RequestId), and raw through
``http.client`` or a socket, signed by botocore's own SigV4 signer, so that headers such as
``Expect: 100-continue`` and a wrong secret are exactly what the test says.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.harness import Cluster

CLUSTER_OPTIONS = {"gateway": True}
BUCKET = "errs"
FULL = "errs-full"
OBJ = "obj"
OBJ_BODY = b"0123456789"
MISSING_BUCKET = "no-such-bucket-here"
TIMEOUT_S = 15.0


@dataclass
class Reply:
    status: int
    reason: str
    headers: Message
    body: bytes

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-amz-request-id")


def assert_error(reply: Reply, status: int, code: str) -> ElementTree.Element:
    """The reply is S3 error ``code`` with HTTP ``status``, its XML RequestId the header's."""
    assert (reply.status, reply.body[:300]) == (status, reply.body[:300])
    root = ElementTree.fromstring(reply.body)
    assert root.tag == "Error", reply.body
    assert root.findtext("Code") == code, reply.body
    assert root.findtext("Message"), reply.body
    request_id = root.findtext("RequestId")
    assert request_id and request_id == reply.request_id, (request_id, reply.request_id)
    return root


# -- raw requests ---------------------------------------------------------------------------


def sign(cluster: Cluster, method: str, target: str, *, body: bytes = b"",
         headers: Mapping[str, str] | None = None, access_key: str | None = None,
         secret_key: str | None = None) -> dict[str, str]:
    """Headers for ``method target`` signed with SigV4 by botocore (payload hash included)."""
    request = AWSRequest(method=method, url=cluster.gateway_url + target, data=body,
                         headers=dict(headers or {}))
    credentials = Credentials(access_key or cluster.s3_access_key,
                              secret_key or cluster.s3_secret_key)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def raw(cluster: Cluster, method: str, target: str, *, body: bytes = b"",
        headers: Mapping[str, str] | None = None, signed: bool = True,
        **signing: str) -> Reply:
    """One request through http.client, exactly as given (``target`` is path and query)."""
    all_headers = sign(cluster, method, target, body=body, headers=headers, **signing) \
        if signed else dict(headers or {})
    url = urlsplit(cluster.gateway_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_S)
    try:
        conn.request(method, target, body=body or None, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.reason, response.msg, data)
    finally:
        conn.close()


class RawConnection:
    """A bare socket, for the exchanges http.client will not do (Expect: 100-continue)."""

    def __init__(self, cluster: Cluster) -> None:
        url = urlsplit(cluster.gateway_url)
        self.host = f"{url.hostname}:{url.port}"
        self.sock = socket.create_connection((url.hostname, url.port), timeout=TIMEOUT_S)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send_head(self, method: str, target: str, headers: Mapping[str, str]) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _fill(self) -> None:
        data = self.sock.recv(65536)  # a timeout here fails the test: nothing came
        if not data:
            raise AssertionError(f"connection closed; received so far: {self.buffer!r}")
        self.buffer += data

    def read_response(self) -> Reply:
        """One response (interim or final); its body by Content-Length."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, _, header_bytes = head.partition(b"\r\n")
        _, status, reason = status_line.decode("latin-1").split(" ", 2)
        headers = BytesHeaderParser().parsebytes(header_bytes + b"\r\n\r\n")
        length = int(headers.get("Content-Length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(int(status), reason, headers, body)


def expect_put(cluster: Cluster, target: str, body: bytes, **sign_kw: Any) -> RawConnection:
    """A connection that has sent the head of a signed PUT of ``body`` with
    ``Expect: 100-continue``, and not the body."""
    headers = sign(cluster, "PUT", target, body=body, **sign_kw)
    headers.update({"Content-Length": str(len(body)), "Expect": "100-continue"})
    conn = RawConnection(cluster)
    try:
        conn.send_head("PUT", target, headers)
    except BaseException:
        conn.close()
        raise
    return conn


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(shared_cluster: Cluster) -> Any:
    return shared_cluster.s3_client()


@pytest.fixture(scope="module")
def setup(shared_cluster: Cluster, s3: Any) -> Cluster:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=OBJ, Body=OBJ_BODY)
    s3.create_bucket(Bucket=FULL)
    s3.put_object(Bucket=FULL, Key="inside/k", Body=b"k")
    return shared_cluster


def keep_error_bodies(client: Any) -> list[bytes]:
    """The raw body of each error response ``client`` receives from now on, newest last."""
    seen: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        if http_response.status_code >= 300:  # reading a success would consume its stream
            seen.append(http_response.content)

    client.meta.events.register("after-call.s3", keep)
    return seen


@pytest.fixture
def fresh_s3(setup: Cluster) -> Any:
    """A client of its own (its own connection pool), so no case depends on another's."""
    return setup.s3_client()


# -- through boto3 --------------------------------------------------------------------------


BOTO_CASES: list[tuple[str, Callable[[Any], Any], int, str]] = [
    ("list-missing-bucket", lambda s3: s3.list_objects_v2(Bucket=MISSING_BUCKET),
     404, "NoSuchBucket"),
    ("get-in-missing-bucket", lambda s3: s3.get_object(Bucket=MISSING_BUCKET, Key="k"),
     404, "NoSuchBucket"),
    ("put-in-missing-bucket", lambda s3: s3.put_object(Bucket=MISSING_BUCKET, Key="k",
                                                       Body=b"x"), 404, "NoSuchBucket"),
    ("delete-missing-bucket", lambda s3: s3.delete_bucket(Bucket=MISSING_BUCKET),
     404, "NoSuchBucket"),
    ("get-missing-key", lambda s3: s3.get_object(Bucket=BUCKET, Key="missing"),
     404, "NoSuchKey"),
    ("get-key-below-a-file", lambda s3: s3.get_object(Bucket=BUCKET, Key=f"{OBJ}/below"),
     404, "NoSuchKey"),
    ("delete-non-empty-bucket", lambda s3: s3.delete_bucket(Bucket=FULL),
     409, "BucketNotEmpty"),
    ("create-bucket-upper-case", lambda s3: s3.create_bucket(Bucket="Bad_Name"),
     400, "InvalidBucketName"),
    ("range-past-the-end", lambda s3: s3.get_object(Bucket=BUCKET, Key=OBJ,
                                                    Range="bytes=100-200"),
     416, "InvalidRange"),
    ("if-match-other-etag", lambda s3: s3.get_object(Bucket=BUCKET, Key=OBJ,
                                                     IfMatch='"' + "0" * 32 + '"'),
     412, "PreconditionFailed"),
    ("copy-from-missing-key", lambda s3: s3.copy_object(
        Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "missing"}),
     404, "NoSuchKey"),
    ("missing-upload", lambda s3: s3.list_parts(Bucket=BUCKET, Key=OBJ, UploadId="nope"),
     404, "NoSuchUpload"),
]


@pytest.mark.parametrize("call, status, code", [c[1:] for c in BOTO_CASES],
                         ids=[c[0] for c in BOTO_CASES])
def test_boto3_sees_code_status_and_request_id(fresh_s3: Any, call: Callable[[Any], Any],
                                               status: int, code: str) -> None:
    bodies = keep_error_bodies(fresh_s3)
    with pytest.raises(ClientError) as err:
        call(fresh_s3)
    response = err.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) \
        == (status, code)
    header_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert response["ResponseMetadata"]["RequestId"] == header_id
    root = ElementTree.fromstring(bodies[-1])
    assert root.findtext("Code") == code
    assert root.findtext("RequestId") == header_id


# -- raw, signed ----------------------------------------------------------------------------


@pytest.mark.parametrize("method, target, status, code", [
    ("GET", f"/{MISSING_BUCKET}?list-type=2", 404, "NoSuchBucket"),
    ("GET", f"/{MISSING_BUCKET}/key", 404, "NoSuchBucket"),
    ("GET", f"/{BUCKET}/missing", 404, "NoSuchKey"),
    ("DELETE", f"/{FULL}", 409, "BucketNotEmpty"),
    ("PUT", "/Bad_Name", 400, "InvalidBucketName"),
    ("PUT", "/ab", 400, "InvalidBucketName"),
    ("PUT", "/bad..dots", 400, "InvalidBucketName"),
    ("PUT", "/-leading-dash", 400, "InvalidBucketName"),
    ("PUT", "/192.168.5.4", 400, "InvalidBucketName"),
    ("PUT", f"/{BUCKET}?website", 501, "NotImplemented"),
    ("GET", f"/{BUCKET}?replication", 501, "NotImplemented"),
    ("POST", f"/{BUCKET}/{OBJ}?select&select-type=2", 501, "NotImplemented"),
])
def test_signed_request_errors(setup: Cluster, method: str, target: str, status: int,
                               code: str) -> None:
    body = b"<WebsiteConfiguration/>" if "website" in target else b""
    assert_error(raw(setup, method, target, body=body), status, code)


def test_invalid_range_is_416_with_the_object_size(setup: Cluster) -> None:
    reply = raw(setup, "GET", f"/{BUCKET}/{OBJ}", headers={"Range": "bytes=10-"})
    assert_error(reply, 416, "InvalidRange")
    # The range that works still works: the last byte.
    ok = raw(setup, "GET", f"/{BUCKET}/{OBJ}", headers={"Range": "bytes=9-"})
    assert (ok.status, ok.body) == (206, OBJ_BODY[9:])


def test_precondition_failed_and_not_modified(setup: Cluster, s3: Any) -> None:
    head = s3.head_object(Bucket=BUCKET, Key=OBJ)
    etag, modified = head["ETag"], head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    target = f"/{BUCKET}/{OBJ}"
    assert_error(raw(setup, "GET", target, headers={"If-Match": '"' + "f" * 32 + '"'}),
                 412, "PreconditionFailed")
    assert_error(raw(setup, "GET", target,
                     headers={"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
                 412, "PreconditionFailed")
    for condition in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        reply = raw(setup, "GET", target, headers=condition)
        assert reply.status == 304, (condition, reply.status, reply.body)
        assert reply.body == b"", condition
        assert reply.request_id, condition
        assert reply.headers.get("ETag") in (None, etag)
    # The same conditions the other way round let the object through.
    ok = raw(setup, "GET", target, headers={"If-Match": etag, "If-None-Match": '"other"'})
    assert (ok.status, ok.body) == (200, OBJ_BODY)


def test_head_errors_have_no_body_but_a_request_id(setup: Cluster) -> None:
    for target, status in ((f"/{BUCKET}/missing", 404), (f"/{MISSING_BUCKET}", 404)):
        reply = raw(setup, "HEAD", target)
        assert (reply.status, reply.body) == (status, b""), target
        assert reply.request_id, target


# -- authentication -------------------------------------------------------------------------


def test_anonymous_request_is_access_denied(setup: Cluster) -> None:
    for method, target in (("GET", f"/{BUCKET}?list-type=2"), ("GET", f"/{BUCKET}/{OBJ}"),
                           ("PUT", f"/{BUCKET}/anonymous"), ("GET", "/")):
        reply = raw(setup, method, target, body=b"x" if method == "PUT" else b"",
                    signed=False)
        assert_error(reply, 403, "AccessDenied")
    assert raw(setup, "GET", f"/{BUCKET}/anonymous").status == 404


def test_wrong_secret_is_signature_does_not_match(setup: Cluster) -> None:
    reply = raw(setup, "GET", f"/{BUCKET}/{OBJ}", secret_key="not-the-secret")
    assert_error(reply, 403, "SignatureDoesNotMatch")
    put = raw(setup, "PUT", f"/{BUCKET}/forged", body=b"forged", secret_key="not-the-secret")
    assert_error(put, 403, "SignatureDoesNotMatch")
    assert raw(setup, "GET", f"/{BUCKET}/forged").status == 404


def test_unknown_access_key_is_invalid_access_key_id(setup: Cluster) -> None:
    reply = raw(setup, "GET", f"/{BUCKET}/{OBJ}", access_key="AKIDONOTEXIST00000000")
    assert_error(reply, 403, "InvalidAccessKeyId")


def test_boto3_with_a_wrong_secret(setup: Cluster) -> None:
    import boto3

    forged = boto3.client("s3", endpoint_url=setup.gateway_url, region_name="us-east-1",
                          aws_access_key_id=setup.s3_access_key,
                          aws_secret_access_key="wrong-secret")
    with pytest.raises(ClientError) as err:
        forged.list_objects_v2(Bucket=BUCKET)
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# -- Expect: 100-continue -------------------------------------------------------------------


def test_expect_continue_to_a_missing_bucket_gets_404_before_the_body(setup: Cluster) -> None:
    body = os.urandom(64 * 1024)
    target = f"/{MISSING_BUCKET}/key"
    conn = expect_put(setup, target, body)
    try:
        reply = conn.read_response()  # the body has not been sent
    finally:
        conn.close()
    assert reply.status != 100, "answered 100 Continue for a bucket that does not exist"
    root = assert_error(reply, 404, "NoSuchBucket")
    assert root.findtext("BucketName") in (None, MISSING_BUCKET)


def test_expect_continue_to_a_good_put_gets_100_then_200(setup: Cluster, s3: Any) -> None:
    body = os.urandom(256 * 1024 + 7)
    target = f"/{BUCKET}/continued"
    conn = expect_put(setup, target, body)
    try:
        interim = conn.read_response()
        assert (interim.status, interim.body) == (100, b"")
        conn.sock.sendall(body)
        final = conn.read_response()
    finally:
        conn.close()
    assert final.status == 200, final.body
    assert final.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    with s3.get_object(Bucket=BUCKET, Key="continued")["Body"] as got:
        assert got.read() == body


def test_connection_after_a_refused_expect_continue_serves_the_next_request(
        setup: Cluster) -> None:
    # The body of the refused PUT is never sent, so the next bytes on the connection are the
    # next request. A server may close instead, but only after saying so (RFC 9110 10.1.1:
    # it "SHOULD indicate whether it intends to close the connection or continue reading").
    target = f"/{MISSING_BUCKET}/key"
    # Shorter than the next request's head: a server that takes the next request for this
    # body answers the rest of it at once instead of after a lingering timeout.
    body = os.urandom(16)
    conn = expect_put(setup, target, body)
    try:
        refused = conn.read_response()
        assert_error(refused, 404, "NoSuchBucket")
        if refused.headers.get("Connection", "").lower() == "close":
            try:
                assert conn.sock.recv(1) == b"", "said Connection: close but kept it open"
            except ConnectionResetError:
                pass
            return
        conn.send_head("GET", f"/{BUCKET}/{OBJ}", sign(setup, "GET", f"/{BUCKET}/{OBJ}"))
        following = conn.read_response()
    finally:
        conn.close()
    assert (following.status, following.body) == (200, OBJ_BODY), \
        f"the next request on the connection was taken for the refused PUT's body: " \
        f"{following.status} {following.body[:200]!r}"


def test_boto3_client_keeps_working_after_a_put_to_a_missing_bucket(fresh_s3: Any) -> None:
    # boto3 sends Expect: 100-continue on PutObject, does not send the body after the 404,
    # and reuses the pooled connection for its next call.
    with pytest.raises(ClientError) as err:
        fresh_s3.put_object(Bucket=MISSING_BUCKET, Key="k", Body=b"some bytes")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
    listed = fresh_s3.list_objects_v2(Bucket=BUCKET, Prefix=OBJ)
    assert [o["Key"] for o in listed["Contents"]] == [OBJ]
    with fresh_s3.get_object(Bucket=BUCKET, Key=OBJ)["Body"] as got:
        assert got.read() == OBJ_BODY


def test_put_right_after_its_bucket_was_deleted_is_refused_and_stores_nothing(
        setup: Cluster, s3: Any) -> None:
    # Every gateway worker has just seen the bucket (gateway/seen_buckets.py), so Expect may
    # be answered with 100 Continue; the PUT must still fail as S3 does, with nothing kept.
    bucket = "errs-gone"
    s3.create_bucket(Bucket=bucket)
    for i in range(8):
        s3.put_object(Bucket=bucket, Key=f"warm-{i}", Body=b"w")
        s3.delete_object(Bucket=bucket, Key=f"warm-{i}")
    s3.delete_bucket(Bucket=bucket)
    body = os.urandom(4096)
    for i in range(4):  # several connections: each worker answers some
        target = f"/{bucket}/after-{i}"
        conn = expect_put(setup, target, body)
        try:
            reply = conn.read_response()
            if reply.status == 100:
                conn.sock.sendall(body)
                reply = conn.read_response()
        finally:
            conn.close()
        assert_error(reply, 404, "NoSuchBucket")
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] in ("404", "NoSuchBucket")


def test_expect_continue_with_a_wrong_secret_is_refused_before_the_body(
        setup: Cluster) -> None:
    body = b"x" * 4096
    target = f"/{BUCKET}/never"
    conn = expect_put(setup, target, body, secret_key="not-the-secret")
    try:
        reply = conn.read_response()
    finally:
        conn.close()
    assert_error(reply, 403, "SignatureDoesNotMatch")


# -- a failed write keeps the previous version ----------------------------------------------


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize("size", [100, 2 * 1024 * 1024 + 1], ids=["inline", "blocks"])
def test_bad_content_md5_is_bad_digest_and_keeps_the_old_version(setup: Cluster,
                                                                 size: int) -> None:
    # botocore retries BadDigest (its "contentmd5" policy): one attempt keeps this quick.
    s3 = setup.s3_client(retries={"total_max_attempts": 1})
    bodies = keep_error_bodies(s3)
    key = f"digest-{size}"
    old = os.urandom(size)
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=old)
    new = os.urandom(size)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key=key, Body=new, ContentMD5=md5_b64(b"something else"))
    response = err.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) \
        == (400, "BadDigest")
    assert ElementTree.fromstring(bodies[-1]).findtext("RequestId") \
        == response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    # The same through a raw signed request (a right payload hash, a wrong Content-MD5).
    assert_error(raw(setup, "PUT", f"/{BUCKET}/{key}", body=new,
                     headers={"Content-MD5": md5_b64(b"something else")}), 400, "BadDigest")
    got = s3.get_object(Bucket=BUCKET, Key=key)
    with got["Body"] as stream:
        assert stream.read() == old
    assert got["ETag"] == put["ETag"]
    assert [o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]] \
        == [size]
