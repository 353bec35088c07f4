"""Control path: register with the nameserver, heartbeat what changed, run its commands.

Rule 1: nothing is registered before the server listens (``announce``), because the
nameserver hands this server's URLs to clients as soon as it knows them.
Rule 2: registration sends the whole inventory; a heartbeat sends the deltas gathered in
``disk.changes`` since the previous one. A batch the nameserver may not have seen (the call
failed) is put back and sent again: added/removed/corrupt are idempotent for it.
Every ``block_report_interval_s`` the whole inventory goes again as a block report, so a
block map that drifted (a lost delta, a nameserver restored from an old Redis) is mended.
Rule 3: commands run in the background, ``copy_concurrency`` at a time, never inside a
heartbeat, so a slow copy cannot make a live server look dead; what they did reaches the
nameserver as deltas of a later heartbeat. A command repeated while it still runs is not
started twice. The bytes copies receive share one ``copy_rate_bytes_per_s`` budget, so
repairing a dead neighbour cannot drown the clients of this server.
Rule 4: the nameserver being away never stops the agent. It logs, retries registration with
capped backoff, and keeps its heartbeat rhythm once registered; ``reregister: true``
(the nameserver forgot this server or declared it dead) means a fresh registration at once.
Rule 5: with several nameservers, each call goes to the one that answered last; a transport
error or a 5xx moves on to the next (any of them answers, they share one Redis), while a 4xx
is that nameserver's verdict and is final.
Rule 6: one conversation with the nameserver at a time (registration, heartbeat, block
report), so an inventory is never overtaken by deltas taken after it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import aiohttp

from blockstore.disk import BlockDisk, BlockWriter
from blockstore.metrics import BlockstoreMetrics
from blockstore.pacing import TokenBucket
from blockstore.pipeline import read_batches
from blockstore.settings import Settings
from plen import logs
from plen.client.http import call_json, raise_for_wire_error, transport_error
from plen.wire.blocks import TOKEN_HEADER, block_path
from plen.wire.cluster import (
    CLUSTER_SECRET_HEADER,
    BlockReportRequest,
    BlockReportResponse,
    CopyBlock,
    DeleteBlock,
    HeartbeatRequest,
    HeartbeatResponse,
    HeldBlock,
    RegisterRequest,
    RegisterResponse,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.request_id import new_request_id
from plen.wire.types import Replica
from plen.workers import WorkResult

log = logging.getLogger("blockstore.agent")
T = TypeVar("T")

DEFAULT_HEARTBEAT_INTERVAL_S = 3.0  # until the nameserver says otherwise
REGISTER_BACKOFF_S = 0.2
REGISTER_BACKOFF_MAX_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class InventorySent:
    """What a full inventory (block report, or registration in its place) carried and got."""

    blocks: int
    commands: int


class AgentWorker:
    def __init__(self, *, settings: Settings, disk: BlockDisk, http: aiohttp.ClientSession,
                 clock: Callable[[], float] = time.monotonic,
                 copy_pace: TokenBucket | None = None,
                 metrics: BlockstoreMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or BlockstoreMetrics()
        self.disk = disk
        self.http = http
        self.heartbeat_interval_s = DEFAULT_HEARTBEAT_INTERVAL_S
        self.registered = False
        self.copy_pace = copy_pace or TokenBucket(settings.copy_rate_bytes_per_s)
        self._clock = clock
        self._inventory_sent_at = 0.0  # clock() of the last registration or block report
        self._nameserver = 0  # index into settings.nameserver_urls: the one that answered last
        self._talk = asyncio.Lock()
        self._urls: tuple[str, str] | None = None
        self._announced = asyncio.Event()
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(settings.copy_concurrency)

    def announce(self, public_url: str, private_url: str) -> None:
        """The server is listening at these URLs: registration may begin."""
        self._urls = (public_url, private_url)
        self._announced.set()

    # -- one step each (tests and run_forever drive these) ---------------------------------

    async def run_once(self) -> WorkResult:
        busy = bool((await self.heartbeat_once()).commands)
        if self._block_report_due():
            try:
                busy |= bool((await self.block_report_once()).commands)
            except WireError as err:  # not a heartbeat failure: tried again next time
                log.warning("block report failed: %s", err.message)
        return WorkResult.BUSY if busy else WorkResult.IDLE

    def _block_report_due(self) -> bool:
        interval = self.settings.block_report_interval_s
        return (self.registered and interval > 0
                and self._clock() - self._inventory_sent_at >= interval)

    async def register_once(self) -> RegisterResponse:
        async with self._talk:
            return await self._register(self._held_blocks())

    async def heartbeat_once(self) -> RegisterResponse | HeartbeatResponse:
        """One heartbeat; a registration instead while not registered."""
        async with self._talk:
            if not self.registered:
                return await self._register(self._held_blocks())
            return await self._heartbeat()

    async def block_report_once(self) -> InventorySent:
        """The whole inventory now: a block report; a registration while not registered."""
        async with self._talk:
            blocks = self._held_blocks()
            if not self.registered:
                return InventorySent(blocks=len(blocks),
                                     commands=len((await self._register(blocks)).commands))
            resp = await self._call(BlockReportRequest(server_id=self.disk.server_id,
                                                       blocks=blocks), BlockReportResponse)
            self._inventory_sent_at = self._clock()
            await self._obey(resp)
            return InventorySent(blocks=len(blocks), commands=len(resp.commands))

    def _held_blocks(self) -> list[HeldBlock]:
        return [HeldBlock(block_id=b, size=size) for b, size in self.disk.inventory()]

    async def _register(self, blocks: list[HeldBlock]) -> RegisterResponse:
        if self._urls is None:
            raise RuntimeError("announce() the server's URLs before registering")
        usage = await self.disk.usage()
        req = RegisterRequest(
            server_id=self.disk.server_id, public_url=self._urls[0], private_url=self._urls[1],
            zone=self.settings.zone, capacity_bytes=usage.capacity_bytes,
            used_bytes=usage.used_bytes, blocks=blocks)
        resp = await self._call(req, RegisterResponse)
        self.heartbeat_interval_s = resp.heartbeat_interval_s
        self.registered = True
        self._inventory_sent_at = self._clock()
        log.info("registered as %s (%s) with %d blocks", req.server_id, req.public_url,
                 len(req.blocks))
        self._start(resp.commands)
        return resp

    async def _heartbeat(self) -> HeartbeatResponse:
        usage = await self.disk.usage()
        changes = self.disk.changes.take()
        req = HeartbeatRequest(
            server_id=self.disk.server_id, capacity_bytes=usage.capacity_bytes,
            used_bytes=usage.used_bytes, block_count=self.disk.block_count,
            added=[HeldBlock(block_id=b, size=size) for b, size in changes.added.items()],
            removed=sorted(changes.removed), corrupt=sorted(changes.corrupt))
        try:
            resp = await self._call(req, HeartbeatResponse)
        except BaseException:
            self.disk.changes.restore(changes)
            self.metrics.heartbeats.labels("failed").inc()
            raise
        self.metrics.heartbeats.labels("ok").inc()
        await self._obey(resp)
        return resp

    async def _obey(self, resp: HeartbeatResponse | BlockReportResponse) -> None:
        if resp.reregister:
            log.warning("the nameserver forgot this server or declared it dead; "
                        "registering again")
            self.registered = False
            await self._register(self._held_blocks())
        self._start(resp.commands)

    async def _call(self, request: Any, response_cls: type[T]) -> T:
        urls = self.settings.nameserver_urls
        order = [(self._nameserver + step) % len(urls) for step in range(len(urls))]
        for index in order[:-1]:
            try:
                return await self._call_at(index, request, response_cls)
            except WireError as err:
                if err.code.http_status < 500:  # that nameserver's verdict (Rule 5)
                    raise
                log.warning("nameserver %s: %s; trying the next", urls[index], err.message)
        return await self._call_at(order[-1], request, response_cls)

    async def _call_at(self, index: int, request: Any, response_cls: type[T]) -> T:
        base = self.settings.nameserver_urls[index]
        try:
            resp = await call_json(self.http, f"{base.rstrip('/')}/cluster/{request.ENDPOINT}",
                                   request, response_cls,
                                   headers={CLUSTER_SECRET_HEADER: self.settings.cluster_secret})
        except WireError as err:
            if err.code.http_status < 500:
                self._stick_to(index)  # a refusal is an answer too: that nameserver is up
            raise
        self._stick_to(index)
        return resp

    def _stick_to(self, index: int) -> None:
        if index != self._nameserver:
            log.info("nameserver %s answered; the agent now talks to it first",
                     self.settings.nameserver_urls[index])
            self._nameserver = index

    # -- the loop --------------------------------------------------------------------------

    async def run_forever(self) -> None:
        await self._announced.wait()
        failures = 0
        while True:
            try:
                await self.run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                what = "heartbeat" if self.registered else "registration"
                if isinstance(exc, WireError):
                    log.warning("%s with %s failed (%d in a row): %s", what,
                                self.settings.nameserver_url, failures, exc.message)
                else:
                    log.exception("%s failed (%d in a row)", what, failures)
            await asyncio.sleep(self._pause(failures))

    def _pause(self, failures: int) -> float:
        if self.registered:
            return self.heartbeat_interval_s
        backoff = min(REGISTER_BACKOFF_MAX_S, REGISTER_BACKOFF_S * 2 ** min(failures, 10))
        return backoff * random.uniform(0.5, 1.0)  # jitter: a restarted nameserver is not stormed

    # -- commands --------------------------------------------------------------------------

    def _start(self, commands: list[DeleteBlock | CopyBlock]) -> None:
        for command in commands:
            key = (command.kind, command.block_id)
            if key in self._running:
                continue
            task = asyncio.create_task(self._execute(command), name=f"{key[0]} {key[1]}")
            self._running[key] = task
            task.add_done_callback(lambda _, key=key: self._running.pop(key, None))

    async def wait_commands(self) -> None:
        """Until every command started so far has finished (tests, shutdown)."""
        while self._running:
            await asyncio.wait(list(self._running.values()))

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _execute(self, command: DeleteBlock | CopyBlock) -> None:
        # Its own task, so its own request id: the copy's lines here and at the source
        # blockstore share it (the session sends it, plen/logs.py Rule 2).
        logs.request_id.set(new_request_id())
        async with self._slots:
            try:
                if isinstance(command, DeleteBlock):
                    await self.disk.delete(command.block_id)
                    log.info("deleted block %s as told", command.block_id)
                else:
                    await self._copy(command)
            except asyncio.CancelledError:
                raise
            except WireError as err:
                # Nothing is reported for it, so the nameserver plans it again.
                log.warning("%s of block %s failed: %s", command.kind, command.block_id,
                            err.message)
            except Exception:
                log.exception("%s of block %s failed", command.kind, command.block_id)

    async def _copy(self, command: CopyBlock) -> None:
        if self.disk.has(command.block_id):
            try:
                info = await self.disk.verify(command.block_id, command.crc32c)
            except WireError as err:  # a bad copy is quarantined by verify: fetch a good one
                if err.code not in (ErrorCode.CHECKSUM_MISMATCH, ErrorCode.NOT_FOUND):
                    raise
            else:
                self.disk.changes.note_added(command.block_id, info.size)  # make sure it is known
                return
        failures = []
        for source in command.sources:
            try:
                await self._fetch(command, source)
            except WireError as err:
                failures.append(f"{source.url}: {err.message}")
                self.metrics.copy_source_failures.inc()
                continue
            self.metrics.block_writes.labels("copy").inc()
            self.metrics.block_write_bytes.labels("copy").inc(command.size)
            log.info("copied block %s from %s", command.block_id, source.url)
            return
        raise WireError(ErrorCode.UNAVAILABLE_AFTER_SEND,
                        "no source could provide it: " + "; ".join(failures or ["none given"]))

    async def _fetch(self, command: CopyBlock, source: Replica) -> None:
        writer = await self.disk.begin_write(command.block_id, command.crc32c, command.size)
        try:
            await self._receive(source.url.rstrip("/") + block_path(command.block_id),
                                command.token, writer)
            await writer.seal()  # checks the size and CRC32C the nameserver gave
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise

    async def _receive(self, url: str, token: str, writer: BlockWriter) -> None:
        try:
            async with self.http.get(url, headers={TOKEN_HEADER: token}) as resp:
                await raise_for_wire_error(resp)
                async for batch in read_batches(resp.content, writer.size):
                    await writer.write(batch)
                    # Waiting here leaves the socket unread: TCP slows the sender down.
                    await self.copy_pace.take(sum(len(chunk) for chunk in batch))
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            raise transport_error(exc, url,
                                  sent=not isinstance(exc, aiohttp.ClientConnectorError)) from exc
