"""boto3 at its default settings over plain HTTP and over HTTPS: put_object, upload_file,
upload_fileobj from a non-seekable stream and download_file with ranged parallel GETs, for
every payload size and the hostile keys.

Over HTTPS botocore does not sign the payload: it frames the body as aws-chunked and sends
its CRC32 in a trailer after the last chunk, which the server must check before it commits.
"""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compat_tests.clients import CLIENT_KEYS, SIZES, payload
from compat_tests.helpers import MiB, fresh_bucket, key_path, multipart_etag, signed_request
from compat_tests.keys import byte_order
from compat_tests.targets import Target
from compat_tests.test_transfer import CHUNK, NonSeekable

SCHEMES = ("http", "https")


@pytest.fixture(params=SCHEMES)
def scheme(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def boto(target: Target, scheme: str, request: pytest.FixtureRequest) -> Any:
    """The session's boto3 client for ``scheme`` (the HTTPS server starts on first use)."""
    return request.getfixturevalue("s3" if scheme == "http" else "tls_s3")


@pytest.fixture
def boto_bucket(boto: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_bucket(boto, request.node.originalname.removeprefix("test_")) as name:
        yield name


class SentHeaders:
    """The headers of every request ``client`` sends, by operation name."""

    def __init__(self, client: Any) -> None:
        self.by_operation: dict[str, list[dict[str, str]]] = {}
        self._client = client
        client.meta.events.register("before-send.s3.*", self._record)

    def _record(self, request: Any, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]  # before-send.s3.PutObject
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
                   for k, v in request.headers.items()}
        self.by_operation.setdefault(operation, []).append(headers)

    def close(self) -> None:
        self._client.meta.events.unregister("before-send.s3.*", self._record)


@pytest.fixture
def sent(boto: Any) -> Iterator[SentHeaders]:
    recorder = SentHeaders(boto)
    yield recorder
    recorder.close()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_put_object_round_trips_every_size(boto: Any, boto_bucket: str, scheme: str,
                                           sent: SentHeaders) -> None:
    """put_object and get_object of 0 B to 40 MiB; over HTTPS as aws-chunked with a CRC32
    trailer, whose checksum the server keeps."""
    for label, size in SIZES.items():
        data = payload(size, seed=3)
        boto.put_object(Bucket=boto_bucket, Key=f"put/{label}", Body=data)
        request = sent.by_operation["PutObject"][-1]
        if scheme == "https" and size:
            assert request.get("content-encoding") == "aws-chunked", request
            assert request.get("x-amz-trailer") == "x-amz-checksum-crc32", request
            assert request.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            assert request.get("x-amz-decoded-content-length") == str(size)
        got = boto.get_object(Bucket=boto_bucket, Key=f"put/{label}")
        assert got["Body"].read() == data, label
        head = boto.head_object(Bucket=boto_bucket, Key=f"put/{label}", ChecksumMode="ENABLED")
        assert head["ContentLength"] == size
        assert head["ChecksumCRC32"] == crc32_b64(data), label
        # aws-chunked framed the request; it is not the object's encoding
        assert "ContentEncoding" not in head, head.get("ContentEncoding")


def test_upload_file_and_ranged_download_file(boto: Any, boto_bucket: str, tmp_path: Path,
                                              sent: SentHeaders) -> None:
    """upload_file of 40 MiB in 8 MiB parts, then download_file in parallel ranged GETs."""
    data = payload(SIZES["40MiB"], seed=4)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    boto.upload_file(str(source), boto_bucket, "big/file.bin")
    assert len(sent.by_operation["UploadPart"]) == -(-len(data) // CHUNK)
    head = boto.head_object(Bucket=boto_bucket, Key="big/file.bin")
    assert head["ETag"] == multipart_etag(
        data[i:i + CHUNK] for i in range(0, len(data), CHUNK))

    back = tmp_path / "back.bin"
    boto.download_file(boto_bucket, "big/file.bin", str(back))
    assert back.read_bytes() == data
    ranges = sorted(h.get("range", "") for h in sent.by_operation["GetObject"])
    assert len(ranges) == -(-len(data) // CHUNK) and all(r.startswith("bytes=") for r in ranges)


def test_upload_fileobj_from_a_non_seekable_stream(boto: Any, boto_bucket: str) -> None:
    """upload_fileobj from a pipe-like stream of every size, read back byte for byte."""
    for label, size in SIZES.items():
        data = payload(size, seed=5)
        boto.upload_fileobj(NonSeekable(data), boto_bucket, f"stream/{label}")
        out = io.BytesIO()
        boto.download_fileobj(boto_bucket, f"stream/{label}", out)
        assert out.getvalue() == data, label
    listed = boto.list_objects_v2(Bucket=boto_bucket, Prefix="stream/")
    assert [o["Key"] for o in listed["Contents"]] == byte_order(
        [f"stream/{label}" for label in SIZES])


def test_hostile_keys_round_trip(boto: Any, boto_bucket: str) -> None:
    """Keys with spaces, unicode, + % #, nested prefixes and `a` beside `a/b`: put, listed
    complete and in byte order (page by page), read back."""
    for key in CLIENT_KEYS:
        boto.put_object(Bucket=boto_bucket, Key=key, Body=key.encode())
    pages = boto.get_paginator("list_objects_v2").paginate(
        Bucket=boto_bucket, PaginationConfig={"PageSize": 5})
    assert [o["Key"] for page in pages for o in page["Contents"]] == byte_order(CLIENT_KEYS)
    for key in CLIENT_KEYS:
        assert boto.get_object(Bucket=boto_bucket, Key=key)["Body"].read() == key.encode()


def _trailer_put(target: Target, bucket: str, key: str, data: bytes, crc: str) -> Any:
    """A PUT framed as aws-chunked with its CRC32 in a trailer, as botocore sends over HTTPS
    (one data chunk, the zero-length chunk, the trailer)."""
    body = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
            + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode())
    return signed_request(target, "PUT", key_path(bucket, key), body=body, trailer=True, headers={
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
    })


def test_a_wrong_trailing_checksum_is_refused_and_keeps_the_old_version(
        tls_target: Target, tls_s3: Any, reference_diverges: Any) -> None:
    """Over HTTPS, an aws-chunked PUT whose CRC32 trailer does not match its bytes is 400
    BadDigest, and the object keeps its previous bytes."""
    with fresh_bucket(tls_s3, "trailer") as bucket:
        old, new = b"the old version", payload(MiB, seed=6)
        assert _trailer_put(tls_target, bucket, "k", old, crc32_b64(old)).status == 200
        with reference_diverges("moto does not verify x-amz-checksum-* values"):
            refused = _trailer_put(tls_target, bucket, "k", new, crc32_b64(new[:-1]))
            assert refused.status == 400, refused.body[:300]
            assert refused.error["Code"] == "BadDigest", refused.error
            assert tls_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == old
