"""Forward-while-writing: one PUT stores the block here and streams it on to the next hop.

Rule 1: the body is read once, as the chunks the connection delivered (no copy), gathered
into batches of about ``BATCH_BYTES`` and fanned out through ``asyncio.Queue(maxsize=2)``
stages to the local writer and to the next hop, so a PUT holds a few batches in memory
whatever the block size, and a slow hop slows the sender instead of filling memory. A batch
is one trip to the writer thread (one ``writev``): per-chunk thread hand-offs and joins
cost more CPU than the disk write itself.
Rule 2: the block is committed here only after the local copy checked out (size, CRC32C,
fsync) AND the next hop answered 201 (so the last hop commits first). Any failure discards
the temp file; copies further down that did commit are unreferenced and get collected.
Rule 3: errors name the culprit. Once the whole body has arrived, a body that does not match
its CRC32C is the sender's fault: 422 ``checksum_mismatch``, whatever the next hop said. A
failing next hop is 502 ``pipeline_failed`` with ``failed_url`` = its URL; a deeper hop's
``pipeline_failed`` is passed up unchanged, so ``failed_url`` names the hop that broke.
Rule 4: once the whole body has been received and passed on, the answer waits for the next
hop's, so when the head answers, the pipeline has settled (no hop is cut off mid-cleanup).
Before that, the first failure ends every stage at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import aiohttp

from blockstore.disk import BlockDisk, BlockWriter
from plen.client.http import raise_for_wire_error, transport_error
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
from plen.wire.types import BlockId, ServerId

BATCH_BYTES = 1 << 20

Batch = Sequence[bytes]
Batches = asyncio.Queue[Batch | None]  # None marks the end of the body


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockWrite:
    """One PUT as received: which block, what it must hash to, and where it goes next."""

    block_id: BlockId
    crc32c: int
    size: int
    token: str
    hops: list[str]  # base URLs of the hops still to go, in order
    scope: list[str]  # every hop after the first, as the token signed them


async def store_and_forward(write: BlockWrite, body: aiohttp.StreamReader, *,
                            disk: BlockDisk, http: aiohttp.ClientSession) -> list[ServerId]:
    """Store ``body`` here and on every hop; the ids of the servers that hold it, in order."""
    writer = await disk.begin_write(write.block_id, write.crc32c, write.size)
    try:
        downstream = await _run_stages(write, body, writer, http)
        await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    return [disk.server_id, *downstream]


async def _run_stages(write: BlockWrite, body: aiohttp.StreamReader, writer: BlockWriter,
                      http: aiohttp.ClientSession) -> list[ServerId]:
    local: Batches = asyncio.Queue(maxsize=2)
    outgoing: Batches = asyncio.Queue(maxsize=2)
    forward = None
    if write.hops:
        forward = asyncio.create_task(_forward(write, outgoing, http))
    pump = asyncio.create_task(_pump(body, write.size, [local, outgoing] if forward else [local]))
    store = asyncio.create_task(_store(local, writer))
    stages = [stage for stage in (pump, store, forward) if stage is not None]
    try:
        await asyncio.wait(stages, return_when=asyncio.FIRST_EXCEPTION)
        if pump.done() and pump.exception() is None:
            # The whole body is out, so every stage can finish: the local verdict decides
            # whom to blame (Rule 3), and no hop is cut off while it cleans up and answers.
            await asyncio.wait(stages)
        for stage in stages:  # in order of blame: the sender, this disk, the next hop
            if stage.done() and (exc := stage.exception()) is not None:
                raise exc
        return forward.result() if forward else []
    finally:
        for stage in stages:
            stage.cancel()
        await asyncio.gather(*stages, return_exceptions=True)


async def read_batches(body: aiohttp.StreamReader, size: int) -> AsyncIterator[Batch]:
    """Exactly ``size`` bytes of ``body`` as batches of whole received chunks, each about
    ``BATCH_BYTES`` (the last may be smaller); ``WireError(INVALID)`` if the body ends early."""
    remaining = size
    batch: list[bytes] = []
    batched = 0
    while remaining:
        chunk = await body.readany()
        if not chunk:
            raise WireError(ErrorCode.INVALID,
                            f"the body ended after {size - remaining} of {size} bytes")
        if len(chunk) > remaining:  # a body longer than announced: keep only what was
            chunk = chunk[:remaining]
        remaining -= len(chunk)
        batch.append(chunk)
        batched += len(chunk)
        if batched >= BATCH_BYTES or not remaining:
            yield batch
            batch, batched = [], 0


async def _pump(body: aiohttp.StreamReader, size: int, queues: list[Batches]) -> None:
    async for batch in read_batches(body, size):
        for queue in queues:
            await queue.put(batch)
    for queue in queues:
        await queue.put(None)


async def _store(batches: Batches, writer: BlockWriter) -> None:
    while (batch := await batches.get()) is not None:
        await writer.write(batch)
    await writer.seal()


async def _drain(batches: Batches) -> AsyncIterator[bytes]:
    while (batch := await batches.get()) is not None:
        for chunk in batch:
            yield chunk


async def _forward(write: BlockWrite, batches: Batches,
                   http: aiohttp.ClientSession) -> list[ServerId]:
    hop, rest = write.hops[0], write.hops[1:]
    url = hop.rstrip("/") + block_path(write.block_id)
    headers = {TOKEN_HEADER: write.token, CRC32C_HEADER: str(write.crc32c),
               "Content-Length": str(write.size), "Content-Type": "application/octet-stream"}
    if rest:
        headers[PIPELINE_HEADER] = ",".join(rest)
    headers[PIPELINE_SCOPE_HEADER] = ",".join(write.scope)
    try:
        async with http.put(url, data=_drain(batches), headers=headers) as resp:
            await raise_for_wire_error(resp)
            raw = await resp.read()
        if resp.status != 201:
            raise WireError(ErrorCode.INTERNAL, f"answered HTTP {resp.status}, not 201")
        return codec.loads(PutBlockResponse, raw).stored_on
    except WireError as err:
        if err.code is ErrorCode.PIPELINE_FAILED:
            raise
        raise _hop_failed(hop, err.message) from err
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        sent = not isinstance(exc, aiohttp.ClientConnectorError)
        raise _hop_failed(hop, transport_error(exc, url, sent=sent).message) from exc


def _hop_failed(hop: str, why: str) -> WireError:
    return WireError(ErrorCode.PIPELINE_FAILED, f"pipeline hop {hop} failed: {why}",
                     failed_url=hop)
