"""The data path from the client's side: write a block down a pipeline, read byte ranges.

Rule 1: bytes travel as raw HTTP bodies with metadata in the headers of
``plen.wire.blocks``; nothing here buffers more than the block the caller already holds
(writes) or one network chunk (reads).
Rule 2: a write succeeds only when every server of the allocated pipeline acknowledged it
(``stored_on`` covers the pipeline); anything less is ``PIPELINE_FAILED`` and the caller
retries on a fresh allocation.
Rule 3: a read tries the replicas in the order the nameserver gave. On a connection error,
a timeout, a 5xx, a 404 or a checksum mismatch, before or in the middle of the body, it
goes on from the next replica at the first byte not yet delivered, so the caller sees one
seamless stream. A replica answering ``checksum_mismatch`` is reported through
``on_bad_replica``. When the whole block went through, its CRC32C is checked end to end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aiohttp
import aiohttp.payload
from aiohttp.abc import AbstractStreamWriter

from plen.checksum import Crc32c
from plen.client.http import raise_for_wire_error, request, transport_error
from plen.wire import codec
from plen.wire.blocks import (
    CRC32C_HEADER,
    PIPELINE_HEADER,
    PIPELINE_SCOPE_HEADER,
    TOKEN_HEADER,
    PutBlockResponse,
    block_path,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import AllocateBlockResponse, FileBlock
from plen.wire.types import Replica, ServerId

log = logging.getLogger("plen.client.blockstore")

BadReplicaCallback = Callable[[FileBlock, Replica, WireError], Awaitable[None]]

BytesLike = bytes | bytearray | memoryview


def block_url(base_url: str, block_id: str) -> str:
    return base_url.rstrip("/") + block_path(block_id)


class PiecesPayload(aiohttp.payload.Payload):
    """A request body sent as the pieces it is held in, never joined into one buffer (a
    block arrives in the pieces its source delivered; joining would copy every byte), and
    sent again whole if aiohttp retries the request."""

    def __init__(self, pieces: Sequence[BytesLike]) -> None:
        super().__init__(pieces, content_type="application/octet-stream")
        self._size = sum(len(piece) for piece in pieces)

    async def write(self, writer: AbstractStreamWriter) -> None:
        for piece in self._value:
            await writer.write(piece)

    async def write_with_length(self, writer: AbstractStreamWriter,
                                content_length: int | None) -> None:
        if content_length is not None and content_length < self._size:
            raise ValueError("PiecesPayload is always sent whole")
        await self.write(writer)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value).decode(encoding, errors)


async def put_block(http: aiohttp.ClientSession, alloc: AllocateBlockResponse,
                    data: BytesLike | Sequence[BytesLike], crc: int, *,
                    timeout: aiohttp.ClientTimeout | None = None) -> list[ServerId]:
    """Store ``data`` (one buffer, or the block's pieces in order) on every server of
    ``alloc.pipeline``; the ids that acknowledged it.

    Raises the first hop's ``WireError`` (``PIPELINE_FAILED`` carries ``failed_url``, the
    private URL of the hop that failed downstream) or a transport error naming its ``url``.
    """
    if not alloc.pipeline:
        raise WireError(ErrorCode.NO_LIVE_SERVERS,
                        f"block {alloc.block_id} was allocated an empty pipeline")
    url = block_url(alloc.pipeline[0].url, alloc.block_id)
    headers = {
        TOKEN_HEADER: alloc.token,
        CRC32C_HEADER: str(crc),
        PIPELINE_HEADER: ",".join(alloc.forward_urls),
        PIPELINE_SCOPE_HEADER: ",".join(alloc.forward_urls),
        "Content-Type": "application/octet-stream",
    }
    pieces = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    raw = await request(http, "PUT", url, data=PiecesPayload(pieces), headers=headers,
                        timeout=timeout)
    stored_on = codec.loads(PutBlockResponse, raw).stored_on
    missing = [r.server_id for r in alloc.pipeline if r.server_id not in stored_on]
    if missing:
        raise WireError(ErrorCode.PIPELINE_FAILED,
                        f"block {alloc.block_id} was acknowledged by {stored_on} only, "
                        f"not by {missing}", missing=missing)
    return stored_on


def _content_range_start(value: str | None) -> int | None:
    """``bytes 10-19/100`` -> 10."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


async def read_range(http: aiohttp.ClientSession, block: FileBlock, start: int = 0,
                     end: int | None = None, *, on_bad_replica: BadReplicaCallback | None = None,
                     timeout: aiohttp.ClientTimeout | None = None) -> AsyncIterator[bytes]:
    """Bytes ``[start, end)`` of ``block`` (offsets inside the file's part of the block: a
    slice's bytes begin ``block.start`` bytes into the stored block), streamed in chunks."""
    end = block.size if end is None else end
    if not 0 <= start <= end <= block.size:
        raise ValueError(f"range [{start}, {end}) outside block of {block.size} bytes")
    if start == end:
        return
    # Only a read of a whole stored block can be checked against its CRC32C here; the
    # blockstore checks every block before it serves any range of it.
    whole = start == 0 and end == block.size and block.start is None
    if block.start:
        start, end = start + block.start, end + block.start
    crc = Crc32c()
    pos = start
    served_by: list[Replica] = []
    failures: list[WireError] = []
    for replica in block.replicas:
        url = block_url(replica.url, block.block_id)
        headers = {TOKEN_HEADER: block.token}
        if not (pos == 0 and whole):
            headers["Range"] = f"bytes={pos}-{end - 1}"
        delivered_before = pos
        try:
            async with http.get(url, headers=headers, timeout=timeout) as resp:
                await raise_for_wire_error(resp)
                skip = 0
                if resp.status == 206:
                    got = _content_range_start(resp.headers.get("Content-Range"))
                    if got != pos:
                        raise WireError(ErrorCode.INVALID,
                                        f"{url} answered range starting at {got}, not {pos}")
                elif pos > 0:
                    skip = pos  # a 200 despite the Range header: the whole block follows
                async for chunk in resp.content.iter_any():  # as received: no join
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk = chunk[skip:]
                        skip = 0
                    if len(chunk) > end - pos:
                        chunk = chunk[: end - pos]
                    if whole:
                        crc.update(chunk)
                    pos += len(chunk)
                    yield chunk
                    if pos >= end:
                        break
            if pos < end:
                raise WireError(ErrorCode.CONNECTION_LOST,
                                f"{url}: body ended at byte {pos} of {end}", url=url)
        except asyncio.CancelledError:
            raise
        except WireError as err:
            failures.append(err)
            if err.code is ErrorCode.CHECKSUM_MISMATCH and on_bad_replica is not None:
                await on_bad_replica(block, replica, err)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            failures.append(transport_error(
                exc, url, sent=not isinstance(exc, aiohttp.ClientConnectorError)))
        if pos > delivered_before:
            served_by.append(replica)
        if pos >= end:
            break
        log.info("block %s: replica %s failed at byte %d (%s); trying the next",
                 block.block_id, replica.url, pos, failures[-1].message)
    if pos < end:
        if not failures:
            raise WireError(ErrorCode.NO_LIVE_SERVERS,
                            f"block {block.block_id} has no live replica")
        last = failures[-1]
        detail = "; ".join(err.message for err in failures)
        raise WireError(last.code, f"block {block.block_id}: every replica failed: {detail}",
                        **last.details)
    if whole and crc.value != block.crc32c:
        err = WireError(ErrorCode.CHECKSUM_MISMATCH,
                        f"block {block.block_id}: read CRC32C {crc.value} but expected "
                        f"{block.crc32c}", block_id=block.block_id)
        if len(served_by) == 1 and on_bad_replica is not None:
            await on_bad_replica(block, served_by[0], err)
        raise err
