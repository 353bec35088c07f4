"""Additional checksums (x-amz-checksum-*): stored on PUT, returned with ChecksumMode=ENABLED,
refused when they do not match the body."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any

import crc32c
import pytest

from compat_tests.helpers import expect_error, expect_raw_error, signed_request
from compat_tests.targets import Target

BODY = b"The quick brown fox jumps over the lazy dog\n" * 50


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


CHECKSUMS: dict[str, Callable[[bytes], str]] = {
    "CRC32": lambda d: _b64(zlib.crc32(d).to_bytes(4, "big")),
    "CRC32C": lambda d: _b64(crc32c.crc32c(d).to_bytes(4, "big")),
    "SHA1": lambda d: _b64(hashlib.sha1(d).digest()),
    "SHA256": lambda d: _b64(hashlib.sha256(d).digest()),
}


@pytest.mark.parametrize("algorithm", list(CHECKSUMS))
def test_put_object_checksum_is_stored_and_returned(s3: Any, bucket: str,
                                                    algorithm: str) -> None:
    expected = CHECKSUMS[algorithm](BODY)
    member = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumAlgorithm=algorithm)
    assert put[member] == expected

    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[member] == expected
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[member] == expected
    assert got["Body"].read() == BODY


def test_checksum_is_returned_only_when_asked_for(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumAlgorithm="SHA256")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert not [h for h in head["ResponseMetadata"]["HTTPHeaders"]
                if h.startswith("x-amz-checksum-")]


def test_full_object_checksum_type_is_reported(s3: Any, bucket: str,
                                               reference_diverges: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    with reference_diverges("moto sends no x-amz-checksum-type on HeadObject"):
        assert head["ChecksumType"] == "FULL_OBJECT"


def test_default_client_sends_crc32(s3: Any, bucket: str) -> None:
    # botocore's default request_checksum_calculation=when_supported adds a CRC32.
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == CHECKSUMS["CRC32"](BODY)


@pytest.mark.reference_diverges("moto does not verify x-amz-checksum-* values")
def test_wrong_crc32_header_is_bad_digest(s3: Any, bucket: str, target: Target) -> None:
    wrong = CHECKSUMS["CRC32"](b"some other body")
    answer = signed_request(target, "PUT", f"/{bucket}/k", body=BODY,
                            headers={"x-amz-checksum-crc32": wrong,
                                     "x-amz-sdk-checksum-algorithm": "CRC32"})
    expect_raw_error(answer, 400, "BadDigest")
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


@pytest.mark.reference_diverges("moto does not verify x-amz-checksum-* values")
def test_wrong_sha256_parameter_is_bad_digest(s3: Any, bucket: str) -> None:
    expect_error(400, "BadDigest", s3.put_object, Bucket=bucket, Key="k", Body=BODY,
                 ChecksumSHA256=CHECKSUMS["SHA256"](b"not the body"))
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


@pytest.mark.reference_diverges("moto does not verify x-amz-checksum-* values")
def test_malformed_checksum_header_is_invalid_request(s3: Any, bucket: str,
                                                      target: Target) -> None:
    # Not a 4-byte value: AWS says "Value for x-amz-checksum-crc32 header is invalid."
    answer = signed_request(target, "PUT", f"/{bucket}/k", body=BODY,
                            headers={"x-amz-checksum-crc32": _b64(b"too long for crc32")})
    expect_raw_error(answer, 400, "InvalidRequest")
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")
