"""Hostile input against the real gateway: S3's limits with S3's error codes, and deadlines
so that a slow client cannot hold a connection (gateway/protocol.py, gateway/s3/payload.py).

The gateway runs with short deadlines (header 1 s, body 1 s, idle 2 s). A test that waits
for a deadline allows many times it before failing: the machine is shared and slow, and what
is checked is that the connection ends, not how fast.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.harness import Cluster, http_request

CLUSTER_OPTIONS = {"gateway": True,
                   "gateway_args": ["--workers", "1", "--header-timeout", "1",
                                    "--body-timeout", "1", "--idle-timeout", "2"]}
BUCKET = "limits"
GiB = 1024 ** 3
WAIT_S = 30.0  # far above every deadline: only a connection held forever fails


def signed_headers(cluster: Cluster, method: str, target: str,
                   headers: Mapping[str, str] | None = None, body: bytes = b"") -> dict[str, str]:
    """SigV4 headers by botocore for ``body`` (the payload hash botocore puts in is that of
    ``body``; a test sending something else never gets as far as the hash check)."""
    request = AWSRequest(method=method, url=cluster.gateway_url + target, data=body,
                         headers=dict(headers or {}))
    S3SigV4Auth(Credentials(cluster.s3_access_key, cluster.s3_secret_key), "s3",
                "us-east-1").add_auth(request)
    return dict(request.headers.items())


class Conn:
    def __init__(self, cluster: Cluster) -> None:
        url = urlsplit(cluster.gateway_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=WAIT_S)
        self.host = f"{url.hostname}:{url.port}"
        self.data = b""
        self.last_head = b""

    def close(self) -> None:
        self.sock.close()

    def head(self, method: str, target: str, headers: Mapping[str, str]) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}",
                 *(f"{k}: {v}" for k, v in headers.items() if k.lower() != "host")]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def read_until_closed(self) -> bytes:
        """Everything the server sends until it closes; socket.timeout if it never does."""
        while True:
            piece = self.sock.recv(65536)
            if not piece:
                return self.data
            self.data += piece

    def response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.data:
            piece = self.sock.recv(65536)
            assert piece, f"closed before a response: {self.data!r}"
            self.data += piece
        head, _, rest = self.data.partition(b"\r\n\r\n")
        self.last_head = head
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            piece = self.sock.recv(65536)
            assert piece, "closed inside a response body"
            rest += piece
        self.data = rest[length:]
        return int(head.split(b" ")[1]), rest[:length]


def code_of(body: bytes) -> str | None:
    root = ElementTree.fromstring(body)
    assert root.tag == "Error", body
    return root.findtext("Code")


@pytest.fixture(scope="module")
def s3(shared_cluster: Cluster) -> Any:
    client = shared_cluster.s3_client()
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def conn(shared_cluster: Cluster):
    c = Conn(shared_cluster)
    yield c
    c.close()


def error_of(err: ClientError) -> tuple[int, str]:
    return err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"]


# -- timeouts -------------------------------------------------------------------------------


def test_slowloris_headers_are_cut_off_with_request_timeout(s3: Any, conn: Conn) -> None:
    conn.sock.sendall(f"GET /{BUCKET}/k HTTP/1.1\r\nHost: {conn.host}\r\n".encode())
    started = time.monotonic()
    closed = False
    try:
        for _ in range(int(WAIT_S / 0.2)):  # one header byte at a time, never finishing
            conn.sock.sendall(b"X")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    assert closed, "a client trickling header bytes kept its connection"
    assert time.monotonic() - started < WAIT_S
    conn.sock.settimeout(5)
    try:
        data = conn.read_until_closed()
    except ConnectionResetError:
        data = conn.data
    if data:  # the answer may be lost to the reset; when it arrived, it is S3's
        assert data.startswith(b"HTTP/1.1 400"), data
        assert b"<Code>RequestTimeout</Code>" in data


def test_stalled_body_gets_request_timeout_and_keeps_the_old_version(
        s3: Any, shared_cluster: Cluster, conn: Conn) -> None:
    s3.put_object(Bucket=BUCKET, Key="stall", Body=b"old version")
    target = f"/{BUCKET}/stall"
    headers = signed_headers(shared_cluster, "PUT", target, {"Content-Length": "1000"})
    conn.sock.sendall(conn.head("PUT", target, headers) + b"x" * 100)  # then nothing
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "RequestTimeout")
    assert conn.read_until_closed() == b""  # and the connection is closed at once
    assert s3.get_object(Bucket=BUCKET, Key="stall")["Body"].read() == b"old version"


def test_stalled_aws_chunked_body_gets_request_timeout(
        s3: Any, shared_cluster: Cluster, conn: Conn) -> None:
    target = f"/{BUCKET}/stall-chunked"
    headers = signed_headers(shared_cluster, "PUT", target, {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "10",
        "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": "200"})
    conn.sock.sendall(conn.head("PUT", target, headers) + b"a\r\n01234")  # half a chunk
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "RequestTimeout")
    assert conn.read_until_closed() == b""
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=BUCKET, Key="stall-chunked")
    assert error_of(info.value)[0] == 404


def test_idle_keep_alive_connection_is_closed(s3: Any, conn: Conn) -> None:
    conn.sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {conn.host}\r\n\r\n".encode())
    assert conn.response()[0] == 200
    assert conn.read_until_closed() == b""  # socket.timeout (failure) if never closed


def test_a_connection_that_never_sends_is_closed(s3: Any, conn: Conn) -> None:
    assert conn.read_until_closed() == b""


# -- what aiohttp's parser refuses, as S3 XML ------------------------------------------------


@pytest.mark.parametrize("request_bytes, code", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "BadRequest"),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 40000 + b"\r\n\r\n",
     "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300))
     + b"\r\n", "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "BadRequest"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\n\r\n", "BadRequest"),
], ids=["tls-hello", "long-request-line", "long-header", "many-headers", "negative-length",
        "bad-header-name"])
def test_parser_refusals_are_s3_xml(s3: Any, conn: Conn, request_bytes: bytes,
                                    code: str) -> None:
    conn.sock.sendall(request_bytes)
    status, body = conn.response()
    assert status == 400
    assert code_of(body) == code
    assert b"\r\ncontent-type: application/xml" in conn.last_head.lower()
    assert conn.read_until_closed() == b""  # and the connection is closed


# -- size limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("target, extra", [
    (f"/{BUCKET}/huge", {"Content-Length": str(5 * GiB + 1)}),
    (f"/{BUCKET}/huge-chunked", {"Content-Length": "100",
                                 "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                 "Content-Encoding": "aws-chunked",
                                 "x-amz-decoded-content-length": str(5 * GiB + 1)}),
], ids=["content-length", "decoded-content-length"])
def test_put_over_5_gib_is_refused_before_the_body(s3: Any, shared_cluster: Cluster,
                                                    conn: Conn, target: str,
                                                    extra: dict[str, str]) -> None:
    headers = signed_headers(shared_cluster, "PUT", target, extra)
    conn.sock.sendall(conn.head("PUT", target, headers))  # no body follows
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "EntityTooLarge")


def test_upload_part_over_5_gib_is_refused_before_the_body(s3: Any, shared_cluster: Cluster,
                                                           conn: Conn) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    target = f"/{BUCKET}/mp?partNumber=1&uploadId={upload}"
    headers = signed_headers(shared_cluster, "PUT", target,
                             {"Content-Length": str(5 * GiB + 1)})
    conn.sock.sendall(conn.head("PUT", target, headers))
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "EntityTooLarge")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="mp", UploadId=upload)


@pytest.mark.parametrize("number", ["0", "10001", "-1", "x", "%C2%B2", "1" * 5000])
def test_part_number_outside_1_to_10000_is_invalid_argument(s3: Any, shared_cluster: Cluster,
                                                            conn: Conn, number: str) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp-n")["UploadId"]
    target = f"/{BUCKET}/mp-n?partNumber={number}&uploadId={upload}"
    headers = signed_headers(shared_cluster, "PUT", target, {"Content-Length": "1"})
    conn.sock.sendall(conn.head("PUT", target, headers) + b"x")
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "InvalidArgument")


def test_key_over_1024_bytes_is_key_too_long(s3: Any) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=BUCKET, Key="é" * 513, Body=b"x")  # 1,026 bytes
    assert error_of(info.value) == (400, "KeyTooLongError")
    s3.put_object(Bucket=BUCKET, Key="k" * 1024, Body=b"x")  # exactly the limit is fine


def test_user_metadata_over_2_kib_is_metadata_too_large(s3: Any) -> None:
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=BUCKET, Key="meta", Body=b"x",
                      Metadata={"a": "v" * 1024, "b": "v" * 1024})
    assert error_of(info.value) == (400, "MetadataTooLarge")
    with pytest.raises(ClientError) as info:
        s3.create_multipart_upload(Bucket=BUCKET, Key="meta", Metadata={"a": "v" * 3000})
    assert error_of(info.value) == (400, "MetadataTooLarge")


def test_delete_objects_over_1000_keys_is_malformed_xml(s3: Any) -> None:
    with pytest.raises(ClientError) as info:
        s3.delete_objects(Bucket=BUCKET,
                          Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert error_of(info.value) == (400, "MalformedXML")


def test_xml_body_over_the_limit_is_refused_before_reading(s3: Any, shared_cluster: Cluster,
                                                           conn: Conn) -> None:
    target = f"/{BUCKET}?delete"
    headers = signed_headers(shared_cluster, "POST", target,
                             {"Content-Length": str(64 * 1024 * 1024)})
    conn.sock.sendall(conn.head("POST", target, headers))  # 64 MiB announced, none sent
    status, body = conn.response()
    assert (status, code_of(body)) == (400, "MaxMessageLengthExceeded")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Delete><Object><Key>&lol3;</Key></Object></Delete>"""


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS,
    b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>",
    b'<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>'
    b"<Delete><Object><Key>k</Key></Object></Delete>",
], ids=["billion-laughs", "external-file", "parameter-entity-http"])
def test_entities_in_xml_bodies_are_malformed_xml(s3: Any, shared_cluster: Cluster,
                                                  conn: Conn, body: bytes) -> None:
    target = f"/{BUCKET}?delete"
    headers = signed_headers(shared_cluster, "POST", target,
                             {"Content-Length": str(len(body))}, body)
    conn.sock.sendall(conn.head("POST", target, headers) + body)
    status, reply = conn.response()
    assert (status, code_of(reply)) == (400, "MalformedXML")
    assert b"root:" not in reply and b"lollol" not in reply


@pytest.mark.parametrize("key", ["dir/", "k//", "file/below"])
def test_multipart_calls_on_keys_no_upload_can_have_are_no_such_upload(s3: Any,
                                                                       key: str) -> None:
    """Regression (bench/fuzz_gateway.py): a directory key, or a key below a file, made the
    nameserver's is/not-a-directory error a 500."""
    s3.put_object(Bucket=BUCKET, Key="file", Body=b"x")
    calls = {
        "list_parts": {},
        "abort_multipart_upload": {},
        "upload_part": {"PartNumber": 1, "Body": b"x"},
        "complete_multipart_upload": {
            "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": "e"}]}},
    }
    for call, extra in calls.items():
        with pytest.raises(ClientError) as info:
            getattr(s3, call)(Bucket=BUCKET, Key=key, UploadId="no-such-upload", **extra)
        assert error_of(info.value) == (404, "NoSuchUpload"), call


def test_get_of_a_part_number_checks_it_before_refusing_single_parts(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="one-part", Body=b"whole")
    for number, expected in ((0, (400, "InvalidArgument")), (3, (416, "InvalidPartNumber")),
                             (10001, (400, "InvalidArgument"))):
        with pytest.raises(ClientError) as info:
            s3.get_object(Bucket=BUCKET, Key="one-part", PartNumber=number)
        assert error_of(info.value) == expected, number
    assert s3.get_object(Bucket=BUCKET, Key="one-part", PartNumber=1)["Body"].read() == b"whole"


def test_cors_preflight_and_bucket_post_get_s3s_answers(shared_cluster: Cluster) -> None:
    url = f"{shared_cluster.gateway_url}/{BUCKET}/k"
    assert http_request("OPTIONS", url)[0] == 400
    status, body = http_request("OPTIONS", url, headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "GET"})
    assert (status, code_of(body)) == (403, "AccessForbidden")
    status, body = http_request("POST", f"{shared_cluster.gateway_url}/{BUCKET}", body=b"x",
                                headers={"Content-Type": "text/plain"})
    assert (status, code_of(body)) == (412, "PreconditionFailed")
