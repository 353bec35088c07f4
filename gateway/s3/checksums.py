"""S3 additional checksums (x-amz-checksum-*): the five algorithms, the request's declared
checksum, and multipart composite checksums.

Rules:
1. Values travel as base64 of the big-endian digest, as S3 sends and stores them.
2. A declared value is validated (base64 and digest length) before the body is read; comparing
   it with the computed one is the caller's, once the body ends.
3. A request declares at most one algorithm: several x-amz-checksum-* headers, or a header
   disagreeing with x-amz-sdk-checksum-algorithm / x-amz-trailer, is InvalidRequest.
4. CRC32C and CRC64NVME are native code (crc32c, awscrt), never a Python loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable, Mapping
from typing import Final

import crc32c as _crc32c
from awscrt import checksums as _crt

from gateway.s3.errors import S3Error

ALGORITHMS: Final = ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME")
DIGEST_BYTES: Final[Mapping[str, int]] = {
    "CRC32": 4, "CRC32C": 4, "SHA1": 20, "SHA256": 32, "CRC64NVME": 8}
_PREFIX = "x-amz-checksum-"


def header_name(algorithm: str) -> str:
    """"CRC32" -> "x-amz-checksum-crc32" (also the trailer's name)."""
    return _PREFIX + algorithm.lower()


def _algorithm_of_header(name: str) -> str | None:
    """"x-amz-checksum-crc32c" -> "CRC32C"; None for x-amz-checksum-mode, -type, -algorithm."""
    if not name.lower().startswith(_PREFIX):
        return None
    algorithm = name[len(_PREFIX):].upper()
    return algorithm if algorithm in DIGEST_BYTES else None


class Checksum:
    """Incremental checksum: ``Checksum.new("CRC32C")``, ``update(data)``, ``digest()``,
    ``b64()``."""

    __slots__ = ("algorithm", "_crc", "_hash")

    def __init__(self, algorithm: str) -> None:
        if algorithm not in DIGEST_BYTES:
            raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported.")
        self.algorithm = algorithm
        self._crc = 0
        self._hash = hashlib.new(algorithm.lower()) if algorithm.startswith("SHA") else None

    @classmethod
    def new(cls, algorithm: str) -> Checksum:
        return cls(algorithm)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._hash is not None:
            self._hash.update(data)
        elif self.algorithm == "CRC32":
            self._crc = zlib.crc32(data, self._crc)
        elif self.algorithm == "CRC32C":
            self._crc = _crc32c.crc32c(data, self._crc)
        else:
            self._crc = _crt.crc64nvme(data, self._crc)

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(DIGEST_BYTES[self.algorithm], "big")

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


def checksum_b64(algorithm: str, data: bytes | bytearray | memoryview) -> str:
    one = Checksum(algorithm)
    one.update(data)
    return one.b64()


def decode(algorithm: str, value: str) -> bytes:
    """The digest a base64 value carries; InvalidRequest if it is not one of ``algorithm``."""
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != DIGEST_BYTES[algorithm]:
        raise S3Error("InvalidRequest",
                      f"Value for {header_name(algorithm)} header is invalid.")
    return digest


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def requested(headers: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The checksum the client declared: (algorithm, base64 value) from an x-amz-checksum-*
    header, (algorithm, None) when x-amz-trailer or x-amz-sdk-checksum-algorithm names one
    whose value comes later (a trailer) or is left to us; None when nothing is declared."""
    hdrs = _lowered(headers)
    declared = [(a, hdrs[n]) for n in hdrs if (a := _algorithm_of_header(n)) is not None]
    if len(declared) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple "
                      "checksum Types are not allowed.")

    trailer_algorithm = None
    trailer = hdrs.get("x-amz-trailer")
    if trailer is not None:
        names = [n.strip() for n in trailer.split(",") if n.strip()]
        algorithms = [_algorithm_of_header(n) for n in names]
        if len(algorithms) != 1 or algorithms[0] is None:
            raise S3Error("InvalidRequest",
                          "The value specified in the x-amz-trailer header is not supported")
        trailer_algorithm = algorithms[0]

    sdk_algorithm = None
    sdk = hdrs.get("x-amz-sdk-checksum-algorithm")
    if sdk is not None:
        sdk_algorithm = sdk.strip().upper()
        if sdk_algorithm not in DIGEST_BYTES:
            raise S3Error("InvalidRequest",
                          "Value for x-amz-sdk-checksum-algorithm header is invalid.")

    named = {a for a in (trailer_algorithm, sdk_algorithm) if a is not None}
    if declared:
        algorithm, value = declared[0]
        if trailer_algorithm is not None or named - {algorithm}:
            raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is "
                          "invalid.")
        decode(algorithm, value)
        return algorithm, value.strip()
    if len(named) > 1:
        raise S3Error("InvalidRequest",
                      "Value for x-amz-sdk-checksum-algorithm header is invalid.")
    return (named.pop(), None) if named else None


def composite(algorithm: str, part_b64s: Iterable[str]) -> str:
    """A multipart upload's COMPOSITE checksum: the checksum of the parts' concatenated
    digests, in base64, then "-<number of parts>"."""
    whole = Checksum(algorithm)
    count = 0
    for part in part_b64s:
        whole.update(decode(algorithm, part))
        count += 1
    return f"{whole.b64()}-{count}"
