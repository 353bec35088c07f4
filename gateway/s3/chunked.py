"""Decoder for aws-chunked request bodies (the STREAMING-* x-amz-content-sha256 modes).

Wire format:
    <hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n      repeated, then
    0[;chunk-signature=<sig>]\\r\\n                           the final, empty chunk, then
    \\r\\n                                                  without trailers, or
    name:value\\r\\n ... [x-amz-trailer-signature:<sig>\\r\\n] \\r\\n     with trailers.

Rules:
1. Only payload bytes come out; no byte of framing ever reaches stored data.
2. At most one chunk is held in memory, and a chunk larger than max_chunk_bytes is refused
   before it is read.
3. With a signer, a chunk is yielded only after its signature verified, so a forged chunk is
   never handed on; the chain (each signature covers the previous one) is ChunkSigner's.
4. Hashing a chunk of 256 KiB or more runs in a worker thread, off the event loop.
5. The body must end exactly where the framing says: a truncated body is IncompleteBody, a
   payload longer or shorter than x-amz-decoded-content-length is IncompleteBody, bytes after
   the final CRLF are InvalidRequest.
6. Trailers: only after the final chunk; malformed, duplicated, missing when announced, or
   unexpected -> MalformedTrailerError; a bad trailer signature -> SignatureDoesNotMatch.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Protocol

from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import EMPTY_SHA256, ChunkSigner

DEFAULT_MAX_CHUNK_BYTES = 16 * 1024 * 1024
THREAD_HASH_MIN_BYTES = 256 * 1024
# A chunk header is "<=16 hex digits;chunk-signature=<64 hex>\r\n" (~100 bytes); trailer lines
# are a checksum name and a base64 value. Anything far longer is not a client we know.
MAX_LINE_BYTES = 4096
MAX_TRAILERS = 16
TRAILER_SIGNATURE = "x-amz-trailer-signature"

_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIGNATURE = re.compile(rb"chunk-signature=([0-9a-f]{64})")
_TRAILER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_TRAILER_SIG = re.compile(r"[0-9a-f]{64}")


class StreamLike(Protocol):
    """What the decoder needs of aiohttp's StreamReader."""

    async def readline(self) -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...

    async def read(self, n: int = -1) -> bytes: ...


def _truncated() -> S3Error:
    return S3Error("IncompleteBody", "The request body terminated unexpectedly")


def _bad_framing(what: str) -> S3Error:
    return S3Error("InvalidRequest", f"Invalid aws-chunked encoding: {what}")


def _bad_trailer(what: str) -> S3Error:
    return S3Error("MalformedTrailerError", f"The request contained trailing data that was not "
                   f"well-formed or did not conform to our published schema: {what}")


class AwsChunkedDecoder:
    """``async for piece in AwsChunkedDecoder(request.content, ...)`` yields the payload; once
    the loop ends, ``trailers`` holds the trailing headers (lower-case names, signature line
    excluded). Iterate once."""

    def __init__(self, content: StreamLike, *, signer: ChunkSigner | None,
                 trailer_expected: bool, decoded_length: int | None,
                 max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES) -> None:
        self._content = content
        self._signer = signer
        self._trailer_expected = trailer_expected
        self._decoded_length = decoded_length
        self._max_chunk_bytes = max_chunk_bytes
        self._started = False
        self.trailers: dict[str, str] = {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("an AwsChunkedDecoder can be iterated only once")
        self._started = True
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        total = 0
        while True:
            line = await self._line()
            assert line is not None
            size, signature = self._parse_header(line)
            if size > self._max_chunk_bytes:
                raise S3Error("InvalidChunkSizeError", f"A chunk of {size} bytes exceeds the "
                              f"maximum of {self._max_chunk_bytes} bytes.")
            if self._decoded_length is not None and total + size > self._decoded_length:
                raise S3Error("IncompleteBody", "The decoded payload is longer than "
                              "x-amz-decoded-content-length")
            data = await self._exactly(size) if size else b""
            if signature is not None:
                await self._verify_chunk(data, signature)
            if not size:
                break
            if await self._exactly(2) != b"\r\n":
                raise _bad_framing("chunk data is not followed by CRLF")
            total += size
            yield data
        if self._decoded_length is not None and total != self._decoded_length:
            raise S3Error("IncompleteBody", "The decoded payload is shorter than "
                          "x-amz-decoded-content-length")
        await self._read_trailers()
        if await self._content.read(1):
            raise _bad_framing("data after the final chunk")

    # ----------------------------------------------------------------------- framing

    async def _line(self, *, eof_ok: bool = False) -> bytes | None:
        """One CRLF-terminated line without its CRLF; None at a clean end of body if eof_ok."""
        try:
            line = await self._content.readline()
        except ValueError:  # aiohttp: a line longer than the reader's limit
            raise _bad_framing("line too long") from None
        if not line and eof_ok:
            return None
        if not line.endswith(b"\n"):
            raise _truncated()
        if len(line) > MAX_LINE_BYTES:
            raise _bad_framing("line too long")
        if not line.endswith(b"\r\n"):
            raise _bad_framing("line not terminated by CRLF")
        return line[:-2]

    async def _exactly(self, n: int) -> bytes:
        try:
            return await self._content.readexactly(n)
        except asyncio.IncompleteReadError:
            raise _truncated() from None

    def _parse_header(self, line: bytes) -> tuple[int, str | None]:
        size_part, semicolon, extension = line.partition(b";")
        if not _SIZE.fullmatch(size_part):
            raise _bad_framing("chunk size is not hexadecimal")
        size = int(size_part, 16)
        if self._signer is None:
            # Unsigned modes: extensions carry nothing we check.
            return size, None
        match = _SIGNATURE.fullmatch(extension) if semicolon else None
        if match is None:
            raise _bad_framing("chunk-signature missing or malformed")
        return size, match.group(1).decode("ascii")

    async def _verify_chunk(self, data: bytes, signature: str) -> None:
        assert self._signer is not None
        if not data:
            digest = EMPTY_SHA256
        elif len(data) >= THREAD_HASH_MIN_BYTES:
            digest = (await asyncio.to_thread(hashlib.sha256, data)).hexdigest()
        else:
            digest = hashlib.sha256(data).hexdigest()
        self._signer.next_chunk(digest, signature)

    # ----------------------------------------------------------------------- trailers

    async def _read_trailers(self) -> None:
        lines: list[tuple[str, str]] = []
        signature: str | None = None
        first = True
        while True:
            # A trailer block may end at the end of the body without its closing blank line
            # (some SDKs omit it); a body ending anywhere else is truncated.
            line = await self._line(eof_ok=not first)
            if line is None:
                break
            if not line:
                # Some writers put the final chunk's empty-data CRLF before the trailers.
                if first and self._trailer_expected:
                    first = False
                    continue
                break
            first = False
            if not self._trailer_expected:
                raise _bad_trailer("trailing headers were not announced")
            if len(lines) >= MAX_TRAILERS:
                raise _bad_trailer("too many trailing headers")
            try:
                text = line.decode("ascii")
            except UnicodeDecodeError:
                raise _bad_trailer("non-ASCII trailing header") from None
            name, colon, value = text.partition(":")
            name, value = name.strip().lower(), value.strip()
            if not colon or not _TRAILER_NAME.fullmatch(name) or not value:
                raise _bad_trailer("expected name:value")
            if signature is not None:
                raise _bad_trailer(f"{TRAILER_SIGNATURE} must come last")
            if name == TRAILER_SIGNATURE:
                if self._signer is None or not _TRAILER_SIG.fullmatch(value):
                    raise _bad_trailer(f"unexpected or malformed {TRAILER_SIGNATURE}")
                signature = value
                continue
            if name in self.trailers:
                raise _bad_trailer(f"duplicate trailing header {name}")
            self.trailers[name] = value
            lines.append((name, value))
        if self._trailer_expected and not lines:
            raise _bad_trailer("the announced trailing headers are missing")
        if self._signer is not None and lines:
            if signature is None:
                raise _bad_trailer(f"{TRAILER_SIGNATURE} is missing")
            # The signed form is "name:value\n" per header, as the SDKs hash it.
            self._signer.trailer(
                "".join(f"{n}:{v}\n" for n, v in lines).encode("ascii"), signature)
