"""Membership: registration, heartbeats, block reports and liveness of blockstores.

Rule 1: a server is live while its last heartbeat is younger than ``dead_after_s``. Once
``run_once`` declares it dead, its replicas leave the block map (its blocks become repair
candidates) and its heartbeats are answered ``reregister``: it comes back only with its
whole inventory, so the block map never trusts what a server held before it went away.
Rule 2: an inventory (registration, block report) is reconciled with the block map: replicas
of live blocks are recorded, blocks the nameserver does not know are deleted (orphans),
and replicas the server no longer holds are dropped and repaired. Blocks still being
written (allocated, not committed) are left alone. Heartbeats carry deltas.
Rule 3: a block that gains a replica beyond the replication factor becomes a trim candidate.
Rule 4: state as shown: ``dead`` when silent, else ``draining`` while an operator's drain
moves its blocks away, ``drained`` once it holds none, else ``live``. Only live servers take
new blocks; draining ones still serve reads and act as repair sources.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from nameserver.settings import Settings
from nameserver.store.base import ServerRecord
from nameserver.store.redis_store import RedisStore
from plen.wire import codec
from plen.wire.cluster import (
    BlockReportRequest,
    BlockReportResponse,
    Command,
    DeleteBlock,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterRequest,
    RegisterResponse,
)
from plen.workers import WorkResult

log = logging.getLogger("nameserver.membership")

Clock = Callable[[], float]


class Membership:
    def __init__(self, store: RedisStore, settings: Settings, clock: Clock = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._cache: tuple[float, list[ServerRecord]] | None = None

    def is_silent(self, rec: ServerRecord, now: float) -> bool:
        return now - rec.last_heartbeat > self.settings.dead_after_s

    def state_of(self, rec: ServerRecord, now: float) -> str:
        if rec.state == "dead" or self.is_silent(rec, now):
            return "dead"
        if rec.draining:
            return "drained" if rec.blocks == 0 else "draining"
        return "live"

    async def servers(self, max_age_s: float = 0.5) -> list[ServerRecord]:
        """All known servers with their state as of now (cached briefly: allocations ask often)."""
        now = self.clock()
        if self._cache is None or max_age_s <= 0 or now - self._cache[0] > max_age_s:
            records = await self.store.servers()
            for rec in records:
                rec.state = self.state_of(rec, now)
            self._cache = (now, records)
        return self._cache[1]

    def forget_cache(self) -> None:
        self._cache = None

    async def register(self, req: RegisterRequest) -> RegisterResponse:
        now = self.clock()
        await self.store.save_server(ServerRecord(
            server_id=req.server_id, public_url=req.public_url, private_url=req.private_url,
            zone=req.zone, capacity_bytes=req.capacity_bytes, used_bytes=req.used_bytes,
            last_heartbeat=now, registered_at=now))
        await self._reconcile(req.server_id, [b.block_id for b in req.blocks])
        self.forget_cache()
        log.info("server %s registered at %s with %d blocks", req.server_id, req.public_url,
                 len(req.blocks))
        return RegisterResponse(heartbeat_interval_s=self.settings.heartbeat_interval_s,
                                commands=await self._commands(req.server_id))

    async def block_report(self, req: BlockReportRequest) -> BlockReportResponse:
        rec = await self.server(req.server_id)
        if rec is None or rec.state == "dead":
            return BlockReportResponse(reregister=True)
        await self._reconcile(req.server_id, [b.block_id for b in req.blocks])
        return BlockReportResponse(commands=await self._commands(req.server_id))

    async def heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        recorded = await self.store.touch_server(req.server_id, capacity=req.capacity_bytes,
                                                 used=req.used_bytes, now=self.clock())
        if recorded != "live":
            return HeartbeatResponse(reregister=True)
        await self._record_held(req.server_id, [b.block_id for b in req.added])
        lost = sorted(set(req.removed) | set(req.corrupt))
        await self.store.remove_replicas(req.server_id, lost)
        await self.store.mark_underreplicated(lost)
        if req.corrupt:
            log.warning("server %s quarantined corrupt replicas: %s", req.server_id, req.corrupt)
        return HeartbeatResponse(commands=await self._commands(req.server_id))

    async def server(self, server_id: str) -> ServerRecord | None:
        """One server with its state as of now (None: unknown)."""
        for rec in await self.servers(max_age_s=0):
            if rec.server_id == server_id:
                return rec
        return None

    async def _reconcile(self, server_id: str, reported: list[str]) -> None:
        known = await self.store.server_blocks(server_id)
        gone = sorted(known - set(reported))
        if gone:
            log.warning("server %s no longer holds %d blocks it was recorded with", server_id,
                        len(gone))
        await self.store.remove_replicas(server_id, gone)
        await self.store.mark_underreplicated(gone)
        await self._record_held(server_id, reported)

    async def _record_held(self, server_id: str, block_ids: list[str]) -> None:
        for start in range(0, len(block_ids), 1000):
            batch = block_ids[start:start + 1000]
            states = await self.store.block_states(batch)
            live = [b for b, s in zip(batch, states) if s == "live"]
            orphans = [b for b, s in zip(batch, states) if s is None]
            counts = await self.store.add_replicas(server_id, live)
            await self.store.mark_excess(
                [b for b, n in zip(live, counts) if n > self.settings.replication_factor])
            await self.store.push_commands(
                server_id, [codec.encode(DeleteBlock(block_id=b)) for b in orphans])

    async def _commands(self, server_id: str) -> list[Command]:
        return [codec.decode(Command, c)  # type: ignore[arg-type]
                for c in await self.store.pop_commands(server_id)]

    async def run_once(self) -> WorkResult:
        """Declare silent servers dead; their blocks become candidates for repair."""
        now = self.clock()
        changed = False
        for rec in await self.store.servers():
            if rec.state != "dead" and self.is_silent(rec, now):
                log.warning("server %s is dead (silent for %.1fs)", rec.server_id,
                            now - rec.last_heartbeat)
                await self.store.set_server_state(rec.server_id, "dead")
                dropped = await self.store.drop_server_replicas(rec.server_id)
                log.warning("%d replicas on %s left the block map", len(dropped), rec.server_id)
                changed = True
        if changed:
            self.forget_cache()
        return WorkResult.BUSY if changed else WorkResult.IDLE
