"""Control path: register with the nameserver, heartbeat what changed, run its commands.

Rule 1: nothing is registered before the server listens (``announce``), because the
nameserver hands this server's URLs to clients as soon as it knows them.
Rule 2: registration sends the whole inventory; a heartbeat sends the deltas gathered in
``disk.changes`` since the previous one. A batch the nameserver may not have seen (the call
failed) is put back and sent again: added/removed/corrupt are idempotent for it.
Rule 3: commands run in the background with bounded concurrency, never inside a heartbeat,
so a slow copy cannot make a live server look dead; what they did reaches the nameserver as
deltas of a later heartbeat. A command repeated while it still runs is not started twice.
Rule 4: the nameserver being away never stops the agent. It logs, retries registration with
capped backoff, and keeps its heartbeat rhythm once registered; ``reregister: true``
(the nameserver forgot this server) means a fresh registration at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, TypeVar

import aiohttp

from blockstore.disk import BlockDisk, BlockWriter
from blockstore.settings import Settings
from plen.client.http import call_json, raise_for_wire_error, transport_error
from plen.wire.blocks import TOKEN_HEADER, block_path
from plen.wire.cluster import (
    CLUSTER_SECRET_HEADER,
    CopyBlock,
    DeleteBlock,
    HeartbeatRequest,
    HeartbeatResponse,
    HeldBlock,
    RegisterRequest,
    RegisterResponse,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import Replica
from plen.workers import WorkResult

log = logging.getLogger("blockstore.agent")
T = TypeVar("T")

DEFAULT_HEARTBEAT_INTERVAL_S = 3.0  # until the nameserver says otherwise
REGISTER_BACKOFF_S = 0.2
REGISTER_BACKOFF_MAX_S = 5.0
COPY_CHUNK_BYTES = 256 * 1024


class AgentWorker:
    def __init__(self, *, settings: Settings, disk: BlockDisk, http: aiohttp.ClientSession,
                 max_concurrent_commands: int = 4) -> None:
        self.settings = settings
        self.disk = disk
        self.http = http
        self.heartbeat_interval_s = DEFAULT_HEARTBEAT_INTERVAL_S
        self.registered = False
        self._urls: tuple[str, str] | None = None
        self._announced = asyncio.Event()
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_concurrent_commands)

    def announce(self, public_url: str, private_url: str) -> None:
        """The server is listening at these URLs: registration may begin."""
        self._urls = (public_url, private_url)
        self._announced.set()

    # -- one step each (tests and run_forever drive these) ---------------------------------

    async def run_once(self) -> WorkResult:
        resp = await (self.heartbeat_once() if self.registered else self.register_once())
        return WorkResult.BUSY if resp.commands else WorkResult.IDLE

    async def register_once(self) -> RegisterResponse:
        if self._urls is None:
            raise RuntimeError("announce() the server's URLs before registering")
        usage = await self.disk.usage()
        req = RegisterRequest(
            server_id=self.disk.server_id, public_url=self._urls[0], private_url=self._urls[1],
            zone=self.settings.zone, capacity_bytes=usage.capacity_bytes,
            used_bytes=usage.used_bytes,
            blocks=[HeldBlock(block_id=b, size=size) for b, size in self.disk.inventory()])
        resp = await self._call(req, RegisterResponse)
        self.heartbeat_interval_s = resp.heartbeat_interval_s
        self.registered = True
        log.info("registered as %s (%s) with %d blocks", req.server_id, req.public_url,
                 len(req.blocks))
        self._start(resp.commands)
        return resp

    async def heartbeat_once(self) -> HeartbeatResponse:
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
            raise
        if resp.reregister:
            log.warning("the nameserver forgot this server; registering again")
            self.registered = False
            await self.register_once()
        self._start(resp.commands)
        return resp

    async def _call(self, request: Any, response_cls: type[T]) -> T:
        url = f"{self.settings.nameserver_url.rstrip('/')}/cluster/{request.ENDPOINT}"
        return await call_json(self.http, url, request, response_cls,
                               headers={CLUSTER_SECRET_HEADER: self.settings.cluster_secret})

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
                continue
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
                async for chunk in resp.content.iter_chunked(COPY_CHUNK_BYTES):
                    await writer.write(chunk)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            raise transport_error(exc, url,
                                  sent=not isinstance(exc, aiohttp.ClientConnectorError)) from exc
