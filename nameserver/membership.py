"""Membership: registration, heartbeats and liveness of blockstores (clock injected).

A server is live while its last heartbeat is younger than ``dead_after_s``. Registration
carries the server's whole inventory, which is reconciled with the block map: replicas of
live blocks are recorded, blocks the nameserver does not know are deleted (orphans), and
replicas the server no longer holds are dropped. Heartbeats carry deltas.
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

    def state_of(self, rec: ServerRecord, now: float) -> str:
        if rec.state == "draining":
            return "draining"
        return "live" if now - rec.last_heartbeat <= self.settings.dead_after_s else "dead"

    async def servers(self, max_age_s: float = 0.5) -> list[ServerRecord]:
        """All known servers with their state as of now (cached briefly: allocations ask often)."""
        now = self.clock()
        if self._cache is None or now - self._cache[0] > max_age_s:
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
        reported = [b.block_id for b in req.blocks]
        known = await self.store.server_blocks(req.server_id)
        gone = sorted(known - set(reported))
        await self.store.remove_replicas(req.server_id, gone)
        await self.store.mark_underreplicated(gone)
        await self._record_held(req.server_id, reported)
        self.forget_cache()
        log.info("server %s registered at %s with %d blocks", req.server_id, req.public_url,
                 len(reported))
        return RegisterResponse(heartbeat_interval_s=self.settings.heartbeat_interval_s,
                                commands=await self._commands(req.server_id))

    async def heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        known = await self.store.touch_server(req.server_id, capacity=req.capacity_bytes,
                                              used=req.used_bytes, now=self.clock())
        if not known:
            return HeartbeatResponse(reregister=True)
        await self._record_held(req.server_id, [b.block_id for b in req.added])
        lost = sorted(set(req.removed) | set(req.corrupt))
        await self.store.remove_replicas(req.server_id, lost)
        if req.corrupt:
            log.warning("server %s quarantined corrupt replicas: %s", req.server_id, req.corrupt)
            await self.store.mark_underreplicated(list(req.corrupt))
        return HeartbeatResponse(commands=await self._commands(req.server_id))

    async def _record_held(self, server_id: str, block_ids: list[str]) -> None:
        """Record replicas of live blocks; delete blocks nobody references (orphans).
        Blocks still being written (allocated, not committed) are left alone."""
        for start in range(0, len(block_ids), 1000):
            batch = block_ids[start:start + 1000]
            states = await self.store.block_states(batch)
            live = [b for b, s in zip(batch, states) if s == "live"]
            orphans = [b for b, s in zip(batch, states) if s is None]
            await self.store.add_replicas(server_id, live)
            await self.store.push_commands(
                server_id, [codec.encode(DeleteBlock(block_id=b)) for b in orphans])

    async def _commands(self, server_id: str) -> list[Command]:
        return [codec.decode(Command, c)  # type: ignore[arg-type]
                for c in await self.store.pop_commands(server_id)]

    async def run_once(self) -> WorkResult:
        """Record newly dead servers; their blocks become candidates for repair."""
        now = self.clock()
        changed = False
        for rec in await self.store.servers():
            state = self.state_of(rec, now)
            if state == "dead" and rec.state == "live":
                log.warning("server %s is dead (silent for %.1fs)", rec.server_id,
                            now - rec.last_heartbeat)
                await self.store.set_server_state(rec.server_id, "dead")
                await self.store.mark_underreplicated(
                    sorted(await self.store.server_blocks(rec.server_id)))
                changed = True
            elif state == "live" and rec.state == "dead":
                await self.store.set_server_state(rec.server_id, "live")
                changed = True
        if changed:
            self.forget_cache()
        return WorkResult.BUSY if changed else WorkResult.IDLE
