"""Property tests for gateway/s3/chunked.py: any body either decodes or raises S3Error (never
another exception, never a hang), and encoding then decoding gives the bytes back."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.s3.chunked import AwsChunkedDecoder
from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import ChunkSigner, signing_key

FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
STEP_S = 5.0  # a decoder waiting on a finished stream would hang: fail instead


class Stream:
    """aiohttp.StreamReader's reading API over bytes arriving in pieces, ending at EOF."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
        self._pieces = deque(data[a:b] for a, b in zip(bounds, bounds[1:]))
        self._buf = bytearray()

    async def _fill(self) -> bool:
        if not self._pieces:
            return False
        await asyncio.sleep(0)
        self._buf += self._pieces.popleft()
        return True

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def readline(self) -> bytes:
        while b"\n" not in self._buf and await self._fill():
            pass
        end = self._buf.find(b"\n")
        if end < 0 and len(self._buf) > 65536 or end >= 65536:
            raise ValueError("Line is too long")  # as aiohttp's StreamReader
        return self._take(len(self._buf) if end < 0 else end + 1)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self._buf)), n)
        return self._take(n)

    async def read(self, n: int = -1) -> bytes:
        if not self._buf:
            await self._fill()
        return self._take(len(self._buf) if n < 0 else n)


async def decode(body: bytes, cuts: list[int] = (), **kwargs) -> tuple[bytes, dict[str, str]]:
    kwargs.setdefault("signer", None)
    kwargs.setdefault("trailer_expected", False)
    kwargs.setdefault("decoded_length", None)
    decoder = AwsChunkedDecoder(Stream(body, list(cuts)), **kwargs)

    async def run() -> bytes:
        return b"".join([piece async for piece in decoder])

    payload = await asyncio.wait_for(run(), STEP_S)
    return payload, decoder.trailers


def encode(chunks: list[bytes], trailers: dict[str, str] | None = None,
           *, hex_upper: bool = False) -> bytes:
    out = bytearray()
    for chunk in chunks:
        if chunk:
            size = f"{len(chunk):X}" if hex_upper else f"{len(chunk):x}"
            out += size.encode() + b"\r\n" + chunk + b"\r\n"
    out += b"0\r\n"
    for name, value in (trailers or {}).items():
        out += f"{name}:{value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


chunk_lists = st.lists(st.binary(min_size=1, max_size=300), max_size=8)
cut_lists = st.lists(st.integers(1, 3000), max_size=20)


@FAST
@given(chunks=chunk_lists, cuts=cut_lists, upper=st.booleans(), declare=st.booleans())
async def test_encode_then_decode_gives_the_bytes_back(chunks, cuts, upper, declare):
    data = b"".join(chunks)
    payload, trailers = await decode(encode(chunks, hex_upper=upper), cuts,
                                     decoded_length=len(data) if declare else None)
    assert payload == data and trailers == {}


@FAST
@given(chunks=chunk_lists, cuts=cut_lists,
       value=st.text(alphabet="ABCDEFabcdef0123456789+/=", min_size=1, max_size=12))
async def test_trailers_round_trip(chunks, cuts, value):
    payload, trailers = await decode(encode(chunks, {"x-amz-checksum-crc32": value}), cuts,
                                     trailer_expected=True)
    assert payload == b"".join(chunks)
    assert trailers == {"x-amz-checksum-crc32": value}


async def decodes_or_refuses(body: bytes, cuts: list[int] = (), **kwargs) -> None:
    try:
        await decode(body, cuts, **kwargs)
    except S3Error as err:
        assert 400 <= err.status < 500, err


@FAST
@given(body=st.binary(max_size=400), cuts=cut_lists, trailer=st.booleans(),
       declared=st.none() | st.integers(0, 500))
async def test_random_bodies_decode_or_raise_s3_error(body, cuts, trailer, declared):
    await decodes_or_refuses(body, cuts, trailer_expected=trailer, decoded_length=declared)


@FAST
@given(chunks=chunk_lists, at=st.integers(0, 3000), noise=st.binary(min_size=1, max_size=6),
       mode=st.sampled_from(["replace", "insert", "delete", "truncate"]),
       trailer=st.booleans(), declare=st.booleans())
async def test_broken_framing_decodes_or_raises_s3_error(chunks, at, noise, mode, trailer,
                                                         declare):
    body = encode(chunks, {"x-amz-checksum-crc32": "AAAAAA=="} if trailer else None)
    at = at % (len(body) + 1)
    if mode == "replace":
        body = body[:at] + noise + body[at + len(noise):]
    elif mode == "insert":
        body = body[:at] + noise + body[at:]
    elif mode == "delete":
        body = body[:at] + body[at + len(noise):]
    else:
        body = body[:at]
    await decodes_or_refuses(body, trailer_expected=trailer,
                             decoded_length=len(b"".join(chunks)) if declare else None)


@FAST
@given(size=st.text(alphabet="0123456789abcdefABCDEFxX-+ ;", min_size=1, max_size=40),
       ext=st.text(max_size=80))
async def test_hostile_chunk_headers_raise_s3_error(size, ext):
    body = f"{size};{ext}\r\n".encode("utf-8", "surrogatepass") + b"abc\r\n0\r\n\r\n"
    await decodes_or_refuses(body, max_chunk_bytes=1024)


SIGNER_KEY = signing_key("secret", "20130524", "us-east-1", "s3")


@FAST
@given(body=st.binary(max_size=300), sig=st.text(alphabet="0123456789abcdef", min_size=64,
                                                  max_size=64), size=st.integers(0, 64))
async def test_signed_mode_with_forged_signatures_raises_s3_error(body, sig, size):
    signer = ChunkSigner(SIGNER_KEY, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                         "0" * 64)
    framed = f"{size:x};chunk-signature={sig}\r\n".encode() + body
    with pytest.raises(S3Error) as info:
        await decode(framed, signer=signer, trailer_expected=False)
    assert info.value.status in (400, 403)


async def test_a_chunk_size_of_sixteen_hex_digits_is_refused_before_reading():
    with pytest.raises(S3Error) as info:
        await decode(b"ffffffffffffffff\r\nabc")
    assert info.value.code == "InvalidChunkSizeError"
