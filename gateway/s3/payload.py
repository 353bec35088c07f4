"""The request body as the client meant it, checked on the way through.

Rule 1 (streaming): bytes are handed on as they arrive; aws-chunked framing is removed by
``AwsChunkedDecoder`` and never reaches a stored object.
Rule 2 (nothing bad is kept): every digest the client declared (x-amz-content-sha256, an
x-amz-checksum-* header or trailer, Content-MD5) is compared when the body ends, and a
mismatch raises there, before the write commits, so the previous version stays.
Rule 3 (limits): a body announced larger than ``max_bytes`` (Content-Length, or
x-amz-decoded-content-length for aws-chunked) is EntityTooLarge before a byte is read, and one
that turns out larger while streaming is EntityTooLarge there; ``read_all`` refuses an XML
body announced or grown past its limit with MaxMessageLengthExceeded.
Rule 4 (stalled clients): a body that sends nothing for the gateway's ``body_timeout_s`` is
RequestTimeout (400), and the connection is closed once that answer is out
(gateway/protocol.py); the write it fed never commits, so the previous version stays.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from gateway.protocol import CLOSE_AFTER_RESPONSE
from gateway.s3 import checksums
from gateway.s3.chunked import AwsChunkedDecoder
from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import AuthResult

# Bodies are hashed in a worker thread, in batches of about this many bytes, so the event
# loop keeps serving; a last batch under a quarter of it is hashed in place.
HASH_BATCH_BYTES = 1024 * 1024
_HEX_SHA256_LEN = 64
DEFAULT_BODY_TIMEOUT_S = 20.0
# Content-Length and x-amz-decoded-content-length: decimal digits, and no more of them than
# any real length has (int() of thousands of digits is slow, and refused past 4,300).
_MAX_LENGTH_DIGITS = 19


def _length(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or \
            len(value) > _MAX_LENGTH_DIGITS:
        return None
    return int(value)


def body_timeout_of(request: web.Request) -> float:
    """The gateway's ``body_timeout_s`` (its default outside a gateway app, as in tests)."""
    from gateway.app import settings_key  # gateway.app imports this module

    settings = request.app.get(settings_key) if request.app is not None else None
    return settings.body_timeout_s if settings is not None else DEFAULT_BODY_TIMEOUT_S


class TimedContent:
    """``request.content`` with a deadline on every read (Rule 4)."""

    def __init__(self, request: web.Request, timeout: float) -> None:
        self._request = request
        self._content = request.content
        self._timeout = timeout

    def _timed_out(self) -> S3Error:
        self._request[CLOSE_AFTER_RESPONSE] = True
        return S3Error("RequestTimeout")

    async def readany(self) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._content.readany()
        except TimeoutError:
            raise self._timed_out() from None

    async def readline(self) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._content.readline()
        except TimeoutError:
            raise self._timed_out() from None

    async def read(self, n: int = -1) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._content.read(n)
        except TimeoutError:
            raise self._timed_out() from None

    async def readexactly(self, n: int) -> bytes:
        # Stalls are measured between arrivals, not over the whole chunk: a big chunk on a
        # slow but steady link must not time out.
        out = bytearray()
        while len(out) < n:
            piece = await self.read(min(n - len(out), 1024 * 1024))
            if not piece:
                raise asyncio.IncompleteReadError(bytes(out), n)
            out += piece
        return bytes(out)


def content_md5(headers: Mapping[str, str]) -> bytes | None:
    """The Content-MD5 digest the client declared, or None; InvalidDigest if malformed."""
    value = headers.get("Content-MD5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(digest) != 16:
        raise S3Error("InvalidDigest")
    return digest


class Payload:
    """Async iterator over the body's bytes; ``finish`` is ``FileSystem``'s commit hook."""

    def __init__(self, request: web.Request, auth: AuthResult, *,
                 max_bytes: int | None = None) -> None:
        self._request = request
        headers = request.headers
        self._max_bytes = max_bytes
        self._content = TimedContent(request, body_timeout_of(request))
        self._md5 = content_md5(headers)
        self._sha256 = None
        payload = auth.payload or ""
        if len(payload) == _HEX_SHA256_LEN and all(c in "0123456789abcdef" for c in payload):
            self._sha256 = hashlib.sha256()
            self._expected_sha256 = payload
        self._chunked = payload.startswith("STREAMING-") or "aws-chunked" in (
            headers.get("Content-Encoding", "").lower())
        self._decoder: AwsChunkedDecoder | None = None
        if self._chunked:
            decoded = headers.get("x-amz-decoded-content-length")
            decoded_length = _length(decoded)
            if decoded is not None and decoded_length is None:
                raise S3Error("InvalidArgument", "x-amz-decoded-content-length is not a number")
            self._decoder = AwsChunkedDecoder(
                self._content, signer=auth.chunk_signer,
                trailer_expected="TRAILER" in payload or "x-amz-trailer" in headers,
                decoded_length=decoded_length)
        self._requested = checksums.requested(headers)
        self._checksum = (checksums.Checksum.new(self._requested[0])
                          if self._requested is not None else None)
        self.size = 0
        self.checksum_meta: dict[str, str] = {}
        declared = self.declared_length
        if max_bytes is not None and declared is not None and declared > max_bytes:
            raise S3Error("EntityTooLarge", ProposedSize=str(declared),
                          MaxSizeAllowed=str(max_bytes))

    @property
    def declared_length(self) -> int | None:
        """The body's length as the client announced it (decoded length for aws-chunked)."""
        name = "x-amz-decoded-content-length" if self._chunked else "Content-Length"
        return _length(self._request.headers.get(name))

    def _update(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            if self._sha256 is not None:
                self._sha256.update(piece)
            if self._checksum is not None:
                self._checksum.update(piece)

    async def _pieces(self) -> AsyncIterator[bytes]:
        if self._decoder is not None:
            async for piece in self._decoder:
                yield piece
            return
        content = self._content
        while piece := await content.readany():  # as received: no join, no copy
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        hashing = self._sha256 is not None or self._checksum is not None
        batch: list[bytes] = []
        batched = 0
        async for piece in self._pieces():
            self.size += len(piece)
            if self._max_bytes is not None and self.size > self._max_bytes:
                raise S3Error("EntityTooLarge", MaxSizeAllowed=str(self._max_bytes))
            if not hashing:
                yield piece
                continue
            # Hashed in batches: one trip to a worker thread per batch, not per piece.
            batch.append(piece)
            batched += len(piece)
            if batched >= HASH_BATCH_BYTES:
                await asyncio.to_thread(self._update, batch)
                for hashed in batch:
                    yield hashed
                batch, batched = [], 0
        if batch:
            if batched >= HASH_BATCH_BYTES // 4:
                await asyncio.to_thread(self._update, batch)
            else:
                self._update(batch)
            for hashed in batch:
                yield hashed
        self._verify_end()

    def _verify_end(self) -> None:
        expected_length = self.declared_length
        if expected_length is not None and self.size != expected_length:
            raise S3Error("IncompleteBody")
        if self._sha256 is not None and not hmac.compare_digest(
                self._sha256.hexdigest(), self._expected_sha256):
            raise S3Error("XAmzContentSHA256Mismatch",
                          ClientComputedContentSHA256=self._expected_sha256,
                          S3ComputedContentSHA256=self._sha256.hexdigest())
        if self._checksum is not None and self._requested is not None:
            algorithm, declared = self._requested
            if declared is None and self._decoder is not None:
                declared = self._decoder.trailers.get(checksums.header_name(algorithm))
            computed = self._checksum.b64()
            if declared is None:
                raise S3Error("InvalidRequest",
                              f"x-amz-checksum-{algorithm.lower()} was announced but not sent")
            if declared != computed:
                raise S3Error("BadDigest", f"The {algorithm} you specified did not match the "
                              "calculated checksum.")
            self.checksum_meta = {checksums.header_name(algorithm): computed}

    def finish(self, md5_hex: str, size: int) -> dict[str, str]:
        """Called by ``FileSystem`` once every byte is stored, before the commit."""
        if self._md5 is not None and self._md5.hex() != md5_hex:
            raise S3Error("BadDigest")
        return dict(self.checksum_meta)

    async def read_all(self, limit: int) -> bytes:
        """A small body (an XML document) in memory, refused past ``limit`` bytes."""
        declared = self.declared_length
        if declared is not None and declared > limit:
            raise S3Error("MaxMessageLengthExceeded")
        out = bytearray()
        async for piece in self:
            out += piece
            if len(out) > limit:
                raise S3Error("MaxMessageLengthExceeded")
        if self._md5 is not None and hashlib.md5(out).digest() != self._md5:
            raise S3Error("BadDigest")
        return bytes(out)
