"""gateway/s3/chunked.py (and sigv4.ChunkSigner): aws-chunked bodies as AWS documents them and as
botocore writes them, byte-exact payloads whatever the network splits, and every malformed
framing refused.

Published vectors: S3 API reference, "Signature Calculations for the Authorization Header:
Transferring Payload in Multiple Chunks (Chunked Upload)" (65 KiB of 'a' in 64 KiB + 1 KiB
chunks, seed 4f232c43...) and "Signature calculations for trailing headers (chunked uploads)"
(same data, seed 106e2a8a..., trailer x-amz-checksum-crc32c:sOO8/Q==). test_sigv4.py proves
both seeds are the signatures of their published requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
from collections import deque
from collections.abc import Iterable

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from botocore.httpchecksum import (
    AwsChunkedWrapper,
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.s3 import chunked
from gateway.s3.chunked import AwsChunkedDecoder
from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import ChunkSigner, signing_key

SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
DATA = b"a" * 66560

SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
TRAILER_CHUNK_SIGNATURES = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def example_body(signatures: Iterable[str], tail: bytes = b"\r\n") -> bytes:
    s1, s2, s3 = signatures
    return (f"10000;chunk-signature={s1}\r\n".encode() + DATA[:65536] + b"\r\n"
            + f"400;chunk-signature={s2}\r\n".encode() + DATA[65536:] + b"\r\n"
            + f"0;chunk-signature={s3}\r\n".encode() + tail)


AWS_BODY = example_body(CHUNK_SIGNATURES)
AWS_TRAILER_BODY = example_body(
    TRAILER_CHUNK_SIGNATURES,
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    + f"x-amz-trailer-signature:{TRAILER_SIGNATURE}\r\n\r\n".encode())


def signer(seed: str = SEED) -> ChunkSigner:
    return ChunkSigner(signing_key(SK, "20130524", "us-east-1", "s3"), AMZ_DATE, SCOPE, seed)


class FakeStream:
    """aiohttp.StreamReader's reading API over bytes that arrive in the given pieces."""

    def __init__(self, data: bytes, cuts: Iterable[int] = ()) -> None:
        points = sorted({c for c in cuts if 0 < c < len(data)})
        bounds = [0, *points, len(data)]
        self._pieces = deque(data[a:b] for a, b in zip(bounds, bounds[1:]))
        self._buffer = bytearray()
        self.consumed = 0

    async def _fill(self) -> bool:
        if not self._pieces:
            return False
        await asyncio.sleep(0)
        self._buffer += self._pieces.popleft()
        return True

    def _take(self, n: int) -> bytes:
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        self.consumed += len(out)
        return out

    async def readline(self) -> bytes:
        while b"\n" not in self._buffer and await self._fill():
            pass
        end = self._buffer.find(b"\n")
        return self._take(len(self._buffer) if end < 0 else end + 1)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self._buffer)), n)
        return self._take(n)

    async def read(self, n: int = -1) -> bytes:
        if not self._buffer:
            await self._fill()
        return self._take(len(self._buffer) if n < 0 else n)


async def decode(body: bytes, *, cuts: Iterable[int] = (), signer: ChunkSigner | None = None,
                 trailer: bool = False, decoded_length: int | None = None,
                 **kwargs) -> tuple[bytes, dict[str, str], list[bytes]]:
    decoder = AwsChunkedDecoder(FakeStream(body, cuts), signer=signer, trailer_expected=trailer,
                                decoded_length=decoded_length, **kwargs)
    pieces = [piece async for piece in decoder]
    return b"".join(pieces), decoder.trailers, pieces


async def refused(body: bytes, **kwargs) -> S3Error:
    with pytest.raises(S3Error) as caught:
        await decode(body, **kwargs)
    return caught.value


def reference_chunk_signature(previous: str, data: bytes) -> str:
    """The page's chunk StringToSign and HMAC, written out independently of sigv4.py (and
    checked against the published signatures below), to sign bodies the page does not show."""
    sts = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, previous,
                     hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest()))
    key = ("AWS4" + SK).encode()
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def reference_signed_body(chunks: list[bytes], seed: str = SEED) -> bytes:
    out, previous = b"", seed
    for data in [*chunks, b""]:
        previous = reference_chunk_signature(previous, data)
        out += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data
        out += b"\r\n"
    return out


def test_reference_signer_reproduces_aws_published_chunk_signatures():
    assert reference_signed_body([DATA[:65536], DATA[65536:]]) == AWS_BODY


# ------------------------------------------------------------------ ChunkSigner on AWS vectors


def test_chunk_signer_accepts_aws_published_chain():
    chain = signer()
    for data, signature in zip((DATA[:65536], DATA[65536:], b""), CHUNK_SIGNATURES):
        chain.next_chunk(hashlib.sha256(data).hexdigest(), signature)
    assert chain.previous_signature == CHUNK_SIGNATURES[-1]


def test_chunk_signer_refuses_chunks_out_of_order():
    chain = signer()
    with pytest.raises(S3Error) as caught:
        chain.next_chunk(hashlib.sha256(DATA[65536:]).hexdigest(), CHUNK_SIGNATURES[1])
    assert caught.value.code == "SignatureDoesNotMatch"


def test_chunk_signer_verifies_aws_published_trailer_signature():
    chain = signer(TRAILER_SEED)
    for data, signature in zip((DATA[:65536], DATA[65536:], b""), TRAILER_CHUNK_SIGNATURES):
        chain.next_chunk(hashlib.sha256(data).hexdigest(), signature)
    with pytest.raises(S3Error):
        signer(TRAILER_SEED).trailer(b"x-amz-checksum-crc32c:sOO8/Q==\n", TRAILER_SIGNATURE)
    chain.trailer(b"x-amz-checksum-crc32c:sOO8/Q==\n", TRAILER_SIGNATURE)


# ------------------------------------------------------------------ decoding AWS's examples


async def test_aws_chunked_example_decodes_to_its_payload():
    payload, trailers, pieces = await decode(AWS_BODY, signer=signer(), decoded_length=66560)
    assert payload == DATA and trailers == {}
    assert [len(p) for p in pieces] == [65536, 1024]


async def test_aws_trailer_example_decodes_with_its_checksum_trailer():
    payload, trailers, _ = await decode(AWS_TRAILER_BODY, signer=signer(TRAILER_SEED),
                                        trailer=True, decoded_length=66560)
    assert payload == DATA
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


async def test_corrupted_chunk_is_signature_mismatch_and_never_handed_on():
    body = bytearray(AWS_BODY)
    body[body.index(b"400;") + 100] = ord("b")  # one byte of the second chunk's data
    decoder = AwsChunkedDecoder(FakeStream(bytes(body)), signer=signer(), trailer_expected=False,
                                decoded_length=66560)
    pieces = []
    with pytest.raises(S3Error) as caught:
        async for piece in decoder:
            pieces.append(piece)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert pieces == [DATA[:65536]]


async def test_swapped_chunk_signature_is_signature_mismatch():
    body = example_body((CHUNK_SIGNATURES[1], CHUNK_SIGNATURES[0], CHUNK_SIGNATURES[2]))
    assert (await refused(body, signer=signer())).code == "SignatureDoesNotMatch"


async def test_wrong_seed_is_signature_mismatch():
    assert (await refused(AWS_BODY, signer=signer(TRAILER_SEED))).code == "SignatureDoesNotMatch"


async def test_altered_trailer_value_is_signature_mismatch():
    body = AWS_TRAILER_BODY.replace(b"sOO8/Q==", b"sOO8/A==")
    err = await refused(body, signer=signer(TRAILER_SEED), trailer=True)
    assert err.code == "SignatureDoesNotMatch"


async def test_missing_trailer_signature_in_signed_mode_is_malformed_trailer():
    body = AWS_TRAILER_BODY.replace(
        f"x-amz-trailer-signature:{TRAILER_SIGNATURE}\r\n".encode(), b"")
    err = await refused(body, signer=signer(TRAILER_SEED), trailer=True)
    assert err.code == "MalformedTrailerError"


async def test_signed_chunk_without_signature_is_refused():
    body = b"5\r\nhello\r\n0\r\n\r\n"
    assert (await refused(body, signer=signer())).code == "InvalidRequest"


async def test_final_empty_line_before_trailers_is_tolerated():
    # The variant some writers send: "0;sig\r\n\r\n" then the trailers, without a last CRLF.
    body = example_body(
        TRAILER_CHUNK_SIGNATURES,
        b"\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n"
        + f"x-amz-trailer-signature:{TRAILER_SIGNATURE}\r\n".encode())
    payload, trailers, _ = await decode(body, signer=signer(TRAILER_SEED), trailer=True)
    assert payload == DATA and trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


async def test_chunk_of_256_kib_is_hashed_in_a_worker_thread(monkeypatch):
    big, small = b"x" * (256 * 1024), b"y" * 1000
    calls: list[int] = []
    real = asyncio.to_thread

    async def spy(func, *args, **kwargs):
        calls.append(len(args[0]))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(chunked.asyncio, "to_thread", spy)
    payload, _, _ = await decode(reference_signed_body([big, small]), signer=signer())
    assert payload == big + small and calls == [len(big)]


# ------------------------------------------------------------------ botocore's unsigned trailers

BOTOCORE_CHECKSUMS = {
    "x-amz-checksum-crc32": Crc32Checksum, "x-amz-checksum-crc32c": CrtCrc32cChecksum,
    "x-amz-checksum-crc64nvme": CrtCrc64NvmeChecksum, "x-amz-checksum-sha1": Sha1Checksum,
    "x-amz-checksum-sha256": Sha256Checksum,
}


def botocore_body(data: bytes, name: str = "x-amz-checksum-crc32", chunk_size: int = 1024):
    wrapper = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=BOTOCORE_CHECKSUMS[name],
                                checksum_name=name, chunk_size=chunk_size)
    return wrapper.read()


def botocore_checksum(name: str, data: bytes) -> str:
    one = BOTOCORE_CHECKSUMS[name]()
    one.update(data)
    return one.b64digest()


@pytest.mark.parametrize("name", list(BOTOCORE_CHECKSUMS))
async def test_botocore_unsigned_trailer_body_decodes(name):
    data = bytes(range(256)) * 40
    payload, trailers, pieces = await decode(botocore_body(data, name), trailer=True,
                                             decoded_length=len(data))
    assert payload == data and len(pieces) == 10
    assert trailers == {name: botocore_checksum(name, data)}


async def test_botocore_body_of_empty_object_decodes():
    payload, trailers, pieces = await decode(botocore_body(b""), trailer=True, decoded_length=0)
    assert (payload, pieces) == (b"", [])
    assert trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), chunk_size=st.integers(1, 700),
       cuts=st.lists(st.integers(1, 4000), max_size=40))
async def test_botocore_body_split_anywhere_yields_exactly_the_payload(data, chunk_size, cuts):
    payload, trailers, _ = await decode(botocore_body(data, chunk_size=chunk_size), cuts=cuts,
                                        trailer=True, decoded_length=len(data))
    assert payload == data
    assert trailers == {"x-amz-checksum-crc32": botocore_checksum("x-amz-checksum-crc32", data)}


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, len(AWS_TRAILER_BODY) - 1), max_size=30))
async def test_aws_signed_body_split_anywhere_yields_exactly_the_payload(cuts):
    payload, trailers, _ = await decode(AWS_TRAILER_BODY, cuts=cuts, signer=signer(TRAILER_SEED),
                                        trailer=True, decoded_length=66560)
    assert payload == DATA and trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


# ------------------------------------------------------------------ malformed framing

MALFORMED = {
    "size not hex": (b"zz\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "size with 0x": (b"0x5\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "size with sign": (b"+5\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "empty size": (b"\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "header with bare LF": (b"5\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "data not followed by CRLF": (b"5\r\nhelloXX0\r\n\r\n", "InvalidRequest"),
    "data longer than size": (b"3\r\nhello\r\n0\r\n\r\n", "InvalidRequest"),
    "truncated in header": (b"5", "IncompleteBody"),
    "truncated in data": (b"5\r\nhel", "IncompleteBody"),
    "truncated before final chunk": (b"5\r\nhello\r\n", "IncompleteBody"),
    "no final CRLF": (b"5\r\nhello\r\n0\r\n", "IncompleteBody"),
    "empty body": (b"", "IncompleteBody"),
    "data after the end": (b"5\r\nhello\r\n0\r\n\r\nextra", "InvalidRequest"),
    "unannounced trailer": (b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
                            "MalformedTrailerError"),
    "huge header line": (b"5" * 5000 + b"\r\n", "InvalidRequest"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_framing_is_refused(name):
    body, code = MALFORMED[name]
    assert (await refused(body)).code == code


MALFORMED_TRAILERS = {
    "no colon": b"0\r\nx-amz-checksum-crc32\r\n\r\n",
    "empty value": b"0\r\nx-amz-checksum-crc32:\r\n\r\n",
    "bad name": b"0\r\nx amz:AAAAAA==\r\n\r\n",
    "duplicate": b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
    "missing": b"0\r\n\r\n",
    "signature in unsigned mode": b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
                                  b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n",
    "non-ascii": "0\r\nx-amz-checksum-crc32:ü\r\n\r\n".encode(),
}


@pytest.mark.parametrize("name", list(MALFORMED_TRAILERS))
async def test_malformed_trailer_is_refused(name):
    err = await refused(MALFORMED_TRAILERS[name], trailer=True)
    assert err.code == "MalformedTrailerError"


async def test_truncated_trailer_line_is_incomplete_body():
    err = await refused(b"0\r\nx-amz-checksum-crc32:AAAA", trailer=True)
    assert err.code == "IncompleteBody"


async def test_oversize_chunk_is_refused_before_its_data_is_read():
    stream = FakeStream(b"401\r\n" + b"x" * 1025 + b"\r\n0\r\n\r\n")
    decoder = AwsChunkedDecoder(stream, signer=None, trailer_expected=False, decoded_length=None,
                                max_chunk_bytes=1024)
    with pytest.raises(S3Error) as caught:
        async for _ in decoder:
            pass
    assert caught.value.code == "InvalidChunkSizeError"
    assert stream.consumed == len(b"401\r\n")


async def test_chunk_of_exactly_the_maximum_is_accepted():
    payload, _, _ = await decode(b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n", max_chunk_bytes=1024)
    assert payload == b"x" * 1024


@pytest.mark.parametrize("decoded_length", [4, 6, 0])
async def test_decoded_length_mismatch_is_incomplete_body(decoded_length):
    err = await refused(b"5\r\nhello\r\n0\r\n\r\n", decoded_length=decoded_length)
    assert err.code == "IncompleteBody"


async def test_unsigned_mode_ignores_chunk_extensions():
    payload, _, _ = await decode(b"5;chunk-signature=abc\r\nhello\r\n0;x=y\r\n\r\n")
    assert payload == b"hello"


async def test_decoder_iterates_only_once():
    decoder = AwsChunkedDecoder(FakeStream(b"0\r\n\r\n"), signer=None, trailer_expected=False,
                                decoded_length=0)
    assert [p async for p in decoder] == []
    with pytest.raises(RuntimeError):
        decoder.__aiter__()


# ------------------------------------------------------------------ aiohttp's own StreamReader


async def test_decoder_reads_aiohttp_request_content():
    async def put(request: web.Request) -> web.Response:
        decoder = AwsChunkedDecoder(request.content, signer=signer(TRAILER_SEED),
                                    trailer_expected=True, decoded_length=66560)
        try:
            payload = b"".join([piece async for piece in decoder])
        except S3Error as err:
            return web.Response(status=err.status, text=err.code)
        return web.json_response({"sha256": hashlib.sha256(payload).hexdigest(),
                                  "trailers": decoder.trailers})

    app = web.Application()
    app.router.add_put("/{key}", put)
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as session:

        async def body(data: bytes):  # sent as HTTP chunked in uneven pieces
            for start in range(0, len(data), 7001):
                yield data[start:start + 7001]

        async with session.put(server.make_url("/k"), data=body(AWS_TRAILER_BODY)) as response:
            assert response.status == 200
            assert await response.json() == {
                "sha256": hashlib.sha256(DATA).hexdigest(),
                "trailers": {"x-amz-checksum-crc32c": "sOO8/Q=="}}
        tampered = AWS_TRAILER_BODY.replace(b"aaaa\r\n0;", b"aaab\r\n0;")
        async with session.put(server.make_url("/k"), data=tampered) as response:
            assert (response.status, await response.text()) == (403, "SignatureDoesNotMatch")
