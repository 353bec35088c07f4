"""Servers as operators see them: cluster status with the bytes at risk, the server list,
drain and removal.

Rule 1: status counts a block at risk by its replicas on servers that are not dead (a
draining server still holds a good copy), from the moment a server falls silent, before
membership has dropped its replicas; the repair rate comes from Redis, written by whichever
nameserver holds the duties lease.
Rule 2: only a dead or drained server may be removed, so removal never drops a replica that
the block map still counts.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from nameserver.membership import Membership
from nameserver.settings import Settings
from nameserver.store.base import ServerRecord
from nameserver.store.redis_store import RedisStore
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    ClusterStatusResponse,
    EmptyResponse,
    ServerDrainRequest,
    ServerListRequest,
    ServerListResponse,
    ServerRemoveRequest,
    ServerStatus,
)
from plen.wire.types import ServerId

STATUS_SAMPLE = 100_000  # repair candidates status looks at
RATE_STALE_S = 60.0  # a repair rate older than this is no longer current


class Servers:
    def __init__(self, store: RedisStore, settings: Settings, membership: Membership,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.membership = membership
        self.clock = clock

    def _row(self, s: ServerRecord, now: float) -> ServerStatus:
        return ServerStatus(
            server_id=ServerId(s.server_id), public_url=s.public_url, private_url=s.private_url,
            zone=s.zone, state=s.state, capacity_bytes=s.capacity_bytes,  # type: ignore[arg-type]
            used_bytes=s.used_bytes, free_bytes=max(s.capacity_bytes - s.used_bytes, 0),
            blocks=s.blocks, last_heartbeat_age_s=round(now - s.last_heartbeat, 3))

    async def server_list(self, req: ServerListRequest) -> ServerListResponse:
        now = self.clock()
        return ServerListResponse(servers=[self._row(s, now) for s in
                                           await self.membership.servers(max_age_s=0)])

    async def _find(self, server_id: str) -> ServerRecord:
        rec = await self.membership.server(server_id)
        if rec is None:
            raise WireError(ErrorCode.NOT_FOUND, f"no such server: {server_id}")
        return rec

    async def drain(self, req: ServerDrainRequest) -> EmptyResponse:
        rec = await self._find(req.server_id)
        if rec.state == "dead":
            raise WireError(ErrorCode.CONFLICT, f"{req.server_id} is dead: its blocks are "
                            "already being repaired elsewhere; remove it instead")
        await self.store.set_draining(req.server_id)
        await self.store.mark_underreplicated(sorted(await self.store.server_blocks(
            req.server_id)))
        self.membership.forget_cache()
        return EmptyResponse()

    async def remove(self, req: ServerRemoveRequest) -> EmptyResponse:
        rec = await self._find(req.server_id)
        if rec.state not in ("dead", "drained"):
            raise WireError(ErrorCode.CONFLICT, f"{req.server_id} is {rec.state}: drain it "
                            "first (plen server drain), or stop it")
        await self.store.remove_server(req.server_id)
        self.membership.forget_cache()
        return EmptyResponse()

    async def cluster_status(self) -> ClusterStatusResponse:
        now = self.clock()
        servers = await self.membership.servers(max_age_s=0)
        rows = [self._row(s, now) for s in servers]
        up = [r for r in rows if r.state != "dead"]
        stats = await self.store.stats()
        risk = await self._risk(servers)
        repair = await self.store.repair_stats()
        rate = repair.get("rate", 0.0) if now - repair.get("at", 0.0) < RATE_STALE_S else 0.0
        eta = risk["left"] / rate if risk["left"] and rate > 0 else None
        return ClusterStatusResponse(
            servers=rows, replication_factor=self.settings.replication_factor,
            capacity_bytes=sum(r.capacity_bytes for r in up),
            used_bytes=sum(r.used_bytes for r in up),
            free_bytes=sum(r.free_bytes for r in up), blocks=stats.get("blocks", 0),
            files=stats.get("files", 0), under_replicated_blocks=risk["blocks"],
            bytes_below_rf=risk["bytes"], blocks_below_2=risk["blocks2"],
            bytes_below_2=risk["bytes2"], missing_blocks=risk["missing"],
            repair_bytes_left=risk["left"], repair_rate_bytes_per_s=round(rate, 1),
            repair_eta_s=round(eta, 1) if eta is not None else None,
            repaired_bytes=int(repair.get("repaired_bytes", 0)))

    async def _risk(self, servers: list[ServerRecord]) -> dict[str, int]:
        rf = self.settings.replication_factor
        up = {s.server_id for s in servers if s.state != "dead"}
        out = dict.fromkeys(("blocks", "bytes", "blocks2", "bytes2", "missing", "left"), 0)
        candidates = set(await self.store.underreplicated(STATUS_SAMPLE))
        for s in servers:  # silent, but its replicas not yet dropped: they are at risk too
            if s.state == "dead" and s.blocks:
                candidates |= await self.store.server_blocks(s.server_id)
        for info in await self.store.block_infos(sorted(candidates)):
            if info is None or info.state != "live":
                continue
            have = len(info.replicas & up)
            if have >= rf:
                continue
            out["blocks"] += 1
            out["bytes"] += info.size
            if have < 2:
                out["blocks2"] += 1
                out["bytes2"] += info.size
            if have == 0:
                out["missing"] += 1
            else:
                out["left"] += info.size * (rf - have)
        return out


class StatusCache:
    """``cluster_status()`` at most once per ``max_age_s``, however many pollers ask
    (Prometheus scrapes, open dashboards): each costs one walk of the at-risk sample."""

    def __init__(self, servers: Servers, max_age_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.servers = servers
        self.max_age_s = max_age_s
        self.clock = clock
        self._value: tuple[float, ClusterStatusResponse] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ClusterStatusResponse:
        async with self._lock:  # concurrent askers share one computation
            if self._value is None or self.clock() - self._value[0] > self.max_age_s:
                self._value = (self.clock(), await self.servers.cluster_status())
            return self._value[1]
