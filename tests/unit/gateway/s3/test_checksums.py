"""gateway/s3/checksums.py against published check values.

- CRC catalogue "check" values (the CRC of b"123456789"): CRC-32/ISO-HDLC 0xCBF43926,
  CRC-32/ISCSI (CRC32C) 0xE3069283, CRC-64/NVME 0xAE8B14860A799888.
- FIPS 180 examples for "abc": SHA-1 a9993e36..., SHA-256 ba7816bf...
- S3 "Signature calculations for trailing headers": x-amz-checksum-crc32c:sOO8/Q== for the
  66560 bytes of 'a' that page uploads.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.s3.checksums import (
    ALGORITHMS,
    Checksum,
    checksum_b64,
    composite,
    header_name,
    requested,
)
from gateway.s3.errors import S3Error

CHECK = b"123456789"
PUBLISHED = {
    ("CRC32", CHECK): "cbf43926",
    ("CRC32C", CHECK): "e3069283",
    ("CRC64NVME", CHECK): "ae8b14860a799888",
    ("SHA1", b"abc"): "a9993e364706816aba3e25717850c26c9cd0d89d",
    ("SHA256", b"abc"): "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
}


@pytest.mark.parametrize("algorithm,data", list(PUBLISHED))
def test_digest_matches_published_check_value(algorithm, data):
    one = Checksum.new(algorithm)
    one.update(data)
    assert one.digest().hex() == PUBLISHED[algorithm, data]


@pytest.mark.parametrize("algorithm,data", list(PUBLISHED))
def test_b64_is_base64_of_the_big_endian_digest(algorithm, data):
    expected = base64.b64encode(bytes.fromhex(PUBLISHED[algorithm, data])).decode()
    assert checksum_b64(algorithm, data) == expected


def test_crc32_check_value_in_s3_form():
    assert checksum_b64("CRC32", CHECK) == "y/Q5Jg=="


def test_crc32c_of_aws_trailer_example_payload():
    assert checksum_b64("CRC32C", b"a" * 66560) == "sOO8/Q=="


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(data=st.binary(max_size=2000), cut=st.integers(0, 2000))
def test_incremental_updates_equal_one_update(algorithm, data, cut):
    pieces = Checksum.new(algorithm)
    pieces.update(data[:cut])
    pieces.update(memoryview(data[cut:]))
    assert pieces.b64() == checksum_b64(algorithm, data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_input_digest_length(algorithm):
    expected = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}[algorithm]
    assert len(Checksum.new(algorithm).digest()) == expected


def test_unknown_algorithm_is_invalid_request():
    with pytest.raises(S3Error) as caught:
        Checksum.new("MD5")
    assert caught.value.code == "InvalidRequest"


def test_header_name_is_lower_case():
    assert header_name("CRC64NVME") == "x-amz-checksum-crc64nvme"
    assert [header_name(a) for a in ALGORITHMS][:2] == ["x-amz-checksum-crc32",
                                                        "x-amz-checksum-crc32c"]


# ------------------------------------------------------------------ what the request declared


def test_requested_reads_a_checksum_header():
    assert requested({"X-Amz-Checksum-CRC32": "y/Q5Jg=="}) == ("CRC32", "y/Q5Jg==")
    assert requested({"x-amz-checksum-crc32c": "4waSgw==",
                      "x-amz-sdk-checksum-algorithm": "crc32c"}) == ("CRC32C", "4waSgw==")


def test_requested_reads_a_trailer_announcement():
    assert requested({"x-amz-trailer": "x-amz-checksum-sha256",
                      "x-amz-sdk-checksum-algorithm": "SHA256"}) == ("SHA256", None)


def test_requested_reads_sdk_algorithm_alone():
    assert requested({"x-amz-sdk-checksum-algorithm": "CRC64NVME"}) == ("CRC64NVME", None)


def test_requested_is_none_without_declaration():
    assert requested({"content-md5": "x", "x-amz-checksum-mode": "ENABLED",
                      "x-amz-checksum-algorithm": "CRC32"}) is None


@pytest.mark.parametrize("headers", [
    {"x-amz-checksum-crc32": "not base64!"},
    {"x-amz-checksum-crc32": "AAAAAAA="},  # five bytes
    {"x-amz-checksum-sha256": "y/Q5Jg=="},  # a CRC32's length
    {"x-amz-checksum-crc32": "y/Q5Jg==", "x-amz-checksum-crc32c": "4waSgw=="},
    {"x-amz-checksum-crc32": "y/Q5Jg==", "x-amz-sdk-checksum-algorithm": "SHA1"},
    {"x-amz-checksum-crc32": "y/Q5Jg==", "x-amz-trailer": "x-amz-checksum-crc32"},
    {"x-amz-trailer": "x-amz-checksum-md5"},
    {"x-amz-trailer": "x-amz-checksum-crc32, x-amz-checksum-sha1"},
    {"x-amz-sdk-checksum-algorithm": "MD5"},
    {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "SHA1"},
])
def test_requested_refuses_invalid_declarations(headers):
    with pytest.raises(S3Error) as caught:
        requested(headers)
    assert caught.value.code == "InvalidRequest"


# ------------------------------------------------------------------ multipart composite


def test_composite_is_checksum_of_part_digests_with_part_count():
    parts = [b"part one", b"part two", b"3"]
    digests = [hashlib.sha256(p).digest() for p in parts]
    expected = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode() + "-3"
    assert composite("SHA256", [base64.b64encode(d).decode() for d in digests]) == expected


def test_composite_crc32_uses_big_endian_part_crcs():
    crcs = [zlib.crc32(b"a" * 5), zlib.crc32(b"b" * 7)]
    raw = b"".join(c.to_bytes(4, "big") for c in crcs)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    assert composite("CRC32", [base64.b64encode(c.to_bytes(4, "big")).decode()
                               for c in crcs]) == expected


def test_composite_refuses_a_part_checksum_of_the_wrong_size():
    with pytest.raises(S3Error) as caught:
        composite("CRC32C", ["y/Q5Jg==", "AAAA"])
    assert caught.value.code == "InvalidRequest"
