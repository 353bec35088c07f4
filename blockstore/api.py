"""The data path: ``PUT``/``GET``/``DELETE /blocks/{block_id}``, bytes as raw HTTP bodies.

Rule 1: nothing touches the disk before the block id is well formed and the request is
authorised: a block token (``plen.tokens``, ``w`` or ``r``) for PUT and GET, the cluster
secret for DELETE. Refusals are ``forbidden`` (token) and ``unauthorized`` (secret), as on
the nameserver's cluster API.
Rule 2: a GET checks the whole block's CRC32C before its first byte leaves; a corrupt replica
is quarantined (``disk.py`` Rule 3) and answered 422 ``checksum_mismatch`` so the reader
fails over. The answer carries the block's CRC32C in ``X-Plen-Crc32c``.
Rule 3: the bytes are sent with sendfile from the very descriptor that was checked.
Ranges: ``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` (one range); a malformed header is 400
``invalid``, a range outside the block 416 with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from aiohttp import hdrs, web

from blockstore.disk import BlockDisk, OpenBlock
from blockstore.metrics import BlockstoreMetrics
from blockstore.pipeline import BlockWrite, store_and_forward
from blockstore.settings import Settings
from plen import tokens
from plen.service import check_cluster_secret, json_response
from plen.tokens import Access
from plen.wire.blocks import (
    CRC32C_HEADER,
    PIPELINE_HEADER,
    PIPELINE_SCOPE_HEADER,
    TOKEN_HEADER,
    PutBlockResponse,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId

settings_key = web.AppKey("settings", Settings)
disk_key = web.AppKey("disk", BlockDisk)
http_key = web.AppKey("http", aiohttp.ClientSession)
metrics_key = web.AppKey("metrics", BlockstoreMetrics)

MAX_HOPS = 16  # far beyond any replication factor; bounds what one PUT can fan out to
SEND_CHUNK_BYTES = 1 << 20

_CRC = re.compile(r"[0-9]{1,10}")
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def add_routes(app: web.Application) -> None:
    app.router.add_put("/blocks/{block_id}", put_block)
    app.router.add_get("/blocks/{block_id}", get_block, allow_head=False)
    app.router.add_delete("/blocks/{block_id}", delete_block)


async def put_block(request: web.Request) -> web.Response:
    """The token's scope binds the body's size and the hops (plen/tokens.py): a writer can
    neither store more than it was allocated nor have its bytes sent anywhere else."""
    block_id = _block_id(request)
    size = request.content_length
    if size is None:
        raise WireError(ErrorCode.INVALID, "a block PUT needs a Content-Length")
    hops = _hops(request, PIPELINE_HEADER)
    scope = _hops(request, PIPELINE_SCOPE_HEADER) if PIPELINE_SCOPE_HEADER in request.headers \
        else hops
    token = _require_token(request, block_id, "w", scope=tokens.write_scope(size, scope))
    if hops != scope[len(scope) - len(hops):]:
        raise WireError(ErrorCode.FORBIDDEN, "the pipeline is not the one the token was "
                        "signed for")
    write = BlockWrite(block_id=block_id, crc32c=_crc32c(request), size=size, token=token,
                       hops=hops, scope=scope)
    metrics = request.app[metrics_key]
    try:
        stored_on = await store_and_forward(write, request.content, disk=request.app[disk_key],
                                            http=request.app[http_key])
    except WireError as err:
        metrics.pipeline_failed(err)
        raise
    metrics.block_writes.labels("pipeline").inc()
    metrics.block_write_bytes.labels("pipeline").inc(write.size)
    return json_response(PutBlockResponse(stored_on=stored_on), status=201)


async def get_block(request: web.Request) -> web.StreamResponse:
    block_id = _block_id(request)
    _require_token(request, block_id, "r")
    async with request.app[disk_key].open_verified(block_id) as block:
        try:
            span = parse_range(request.headers.get(hdrs.RANGE), block.size)
        except UnsatisfiableRangeError:
            raise web.HTTPRequestRangeNotSatisfiable(
                headers={hdrs.CONTENT_RANGE: f"bytes */{block.size}"}) from None
        resp = await _send(request, block, span)
    metrics = request.app[metrics_key]
    metrics.block_reads.inc()
    metrics.block_read_bytes.inc(resp.content_length or 0)
    return resp


async def delete_block(request: web.Request) -> web.Response:
    block_id = _block_id(request)
    check_cluster_secret(request, request.app[settings_key].cluster_secret)
    if not await request.app[disk_key].delete(block_id):
        raise WireError(ErrorCode.NOT_FOUND, f"no block {block_id}", block_id=block_id)
    return web.Response(status=204)


class UnsatisfiableRangeError(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range`` -> ``(start, end)`` (end exclusive) inside a block of ``size`` bytes, or
    None for the whole block. Raises ``WireError(INVALID)`` for a header we do not accept
    and ``UnsatisfiableRangeError`` for a well-formed range that selects no byte."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise WireError(ErrorCode.INVALID, f"unsupported Range header {header[:80]!r}")
    first, last = match.group(1), match.group(2)
    if first == "":  # bytes=-n: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise UnsatisfiableRangeError
        return max(0, size - suffix), size
    start = int(first)
    if last != "" and int(last) < start:
        raise WireError(ErrorCode.INVALID, f"Range {header[:80]!r} ends before it starts")
    if start >= size:
        raise UnsatisfiableRangeError
    end = size if last == "" else min(int(last) + 1, size)
    return start, end


async def _send(request: web.Request, block: OpenBlock,
                span: tuple[int, int] | None) -> web.StreamResponse:
    start, end = span or (0, block.size)
    resp = web.StreamResponse(status=200 if span is None else 206, headers={
        hdrs.CONTENT_TYPE: "application/octet-stream",
        hdrs.ACCEPT_RANGES: "bytes",
        CRC32C_HEADER: str(block.crc32c),
    })
    if span is not None:
        resp.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{block.size}"
    resp.content_length = end - start
    await resp.prepare(request)
    if end > start:
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the client went away")
        try:
            await asyncio.get_running_loop().sendfile(transport, block.file, start, end - start)
        except NotImplementedError:  # a transport without sendfile (e.g. TLS): copy instead
            await _copy(block, start, end, resp)
    await resp.write_eof()
    return resp


async def _copy(block: OpenBlock, start: int, end: int, resp: web.StreamResponse) -> None:
    await asyncio.to_thread(block.file.seek, start)
    while start < end:
        chunk = await asyncio.to_thread(block.file.read, min(SEND_CHUNK_BYTES, end - start))
        if not chunk:
            raise ConnectionResetError("block file ended early")
        await resp.write(chunk)
        start += len(chunk)


def _block_id(request: web.Request) -> BlockId:
    value = request.match_info["block_id"]
    request.app[disk_key].block_file(value)  # the one gate: refuses anything but a block id
    return BlockId(value)


def _require_token(request: web.Request, block_id: BlockId, access: Access, *,
                   scope: str = "") -> str:
    token = request.headers.get(TOKEN_HEADER)
    if not token:
        raise WireError(ErrorCode.FORBIDDEN, f"a block token is required ({TOKEN_HEADER})")
    if not tokens.verify(request.app[settings_key].cluster_secret, token, block_id, access,
                         scope=scope):
        raise WireError(ErrorCode.FORBIDDEN, f"the token does not grant '{access}' on block "
                        f"{block_id} (forged, expired, or for another block or access)")
    return token


def _crc32c(request: web.Request) -> int:
    raw = request.headers.get(CRC32C_HEADER, "")
    if _CRC.fullmatch(raw) is None or int(raw) > 0xFFFFFFFF:
        raise WireError(ErrorCode.INVALID,
                        f"{CRC32C_HEADER} must be a decimal unsigned 32-bit number")
    return int(raw)


def _hops(request: web.Request, header: str) -> list[str]:
    hops = [h.strip() for h in request.headers.get(header, "").split(",") if h.strip()]
    if len(hops) > MAX_HOPS:
        raise WireError(ErrorCode.INVALID, f"a pipeline of {len(hops)} hops is too long")
    for hop in hops:
        if not hop.startswith(("http://", "https://")):
            raise WireError(ErrorCode.INVALID, f"pipeline hop {hop[:80]!r} is not an http URL")
    return hops
