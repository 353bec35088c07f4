"""RepairWorker: bring every block back to the replication factor, and trim replicas in excess.

Rule 1: a replica counts towards the replication factor only on a live server (not dead,
not draining). Draining servers still serve as copy sources.
Rule 2: blocks with the fewest live replicas are repaired first. A copy is a ``CopyBlock``
command to a target chosen by placement among live servers that do not hold the block, with
at most ``repair_concurrency`` copies in flight per target (``moves.py``); the blockstore
caps its own copy bandwidth. Candidates are a sample of the ``underrep`` set per pass, so a
pass costs the same however many blocks are at risk.
Rule 3: trimming never takes a block below the replication factor in live replicas: the
replicas of draining servers go first, then that of the server a rebalance move relieves,
then the fullest server's. A block with a copy in flight is left until the copy settles. A
replica told to delete itself may be reported again (a block report that overtook the
delete); until its grace runs out it counts as gone, so no second victim is picked for it.
Rule 4: the repair rate is measured over the current burst (from the first copy planned
after an idle spell) and kept in Redis, so any nameserver can report it.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable

from nameserver.membership import Membership
from nameserver.moves import Move, Moves
from nameserver.placement import Candidate, choose_pipeline
from nameserver.settings import Settings
from nameserver.store.base import BlockInfo, ServerRecord
from nameserver.store.redis_store import RedisStore
from plen import tokens
from plen.wire import codec
from plen.wire.cluster import CopyBlock
from plen.wire.types import BlockId, Replica, ServerId
from plen.workers import WorkResult

log = logging.getLogger("nameserver.repair")

SAMPLE = 5000  # candidates looked at per pass
COPY_FLOOR_BYTES_PER_S = 4 * 1024 * 1024  # slowest copy a deadline allows for
TRIM_GRACE_S = 60.0  # a trimmed replica may be reported again until its delete has run


def copy_deadline(settings: Settings, size: int, now: float) -> float:
    """When a copy that has not landed is given up (it travels: next heartbeat of the
    target, the transfer, the heartbeat that reports it)."""
    return now + 3 * settings.heartbeat_interval_s + 10 + size / COPY_FLOOR_BYTES_PER_S


def copy_command(settings: Settings, info: BlockInfo, sources: list[ServerRecord],
                 now: float) -> dict:
    token = tokens.sign(settings.cluster_secret, info.block_id, "r", settings.read_token_ttl_s,
                        now=now)
    return codec.encode(CopyBlock(
        block_id=BlockId(info.block_id), size=info.size, crc32c=info.crc32c or 0, token=token,
        sources=[Replica(server_id=ServerId(s.server_id), url=s.private_url) for s in sources]))


def utilisation(rec: ServerRecord) -> float:
    return rec.used_bytes / rec.capacity_bytes if rec.capacity_bytes > 0 else 1.0


class RepairWorker:
    def __init__(self, store: RedisStore, settings: Settings, membership: Membership,
                 moves: Moves, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.settings = settings
        self.membership = membership
        self.moves = moves
        self.clock = clock
        self.rng = rng or random.Random()
        self._trims: dict[tuple[str, str], float] = {}  # (block, server) -> trim pending until
        self._burst: tuple[float, int] | None = None  # (started at, bytes repaired since)
        self.repaired_blocks = 0  # copies seen landing by this worker (nameserver/metrics.py)
        self.repaired_bytes = 0

    async def run_once(self) -> WorkResult:
        now = self.clock()
        servers = {s.server_id: s for s in await self.membership.servers(max_age_s=0)}
        planned = await self._repair(servers, now)
        trimmed = await self._trim(servers, now)
        return WorkResult.BUSY if planned or trimmed else WorkResult.IDLE

    # -- repair ----------------------------------------------------------------------------

    async def _repair(self, servers: dict[str, ServerRecord], now: float) -> int:
        rf = self.settings.replication_factor
        live = {sid for sid, s in servers.items() if s.state == "live"}
        sources_ok = {sid for sid, s in servers.items() if s.state != "dead"}
        candidates = await self.store.underreplicated(SAMPLE)
        ids = sorted(set(candidates) | self.moves.block_ids())
        infos = dict(zip(ids, await self.store.block_infos(ids)))
        await self._settle(infos, now)

        healthy, work, excess = [], [], []
        for bid in candidates:
            info = infos[bid]
            if info is None or info.state != "live":
                healthy.append(bid)  # gone, or not committed yet (commit marks it again)
                continue
            have = info.replicas & live
            if len(have) >= rf:
                if not self.moves.of_block(bid):
                    healthy.append(bid)
                if len(info.replicas) > rf:
                    excess.append(bid)
                continue
            sources = [servers[h] for h in info.replicas if h in sources_ok]
            need = rf - len(have) - len(self.moves.of_block(bid))
            if sources and need > 0 and info.crc32c is not None:
                work.append((len(have), info, sources, need))
        await self.store.clear_underreplicated(healthy)
        await self.store.mark_excess(excess)

        planned = 0
        work.sort(key=lambda w: w[0])
        for _, info, sources, need in work:
            planned += await self._plan_copies(info, sources, need, servers, live, now)
        if planned:
            log.info("repair: %d block copies planned (%d blocks at risk in this sample)",
                     planned, len(work))
        return planned

    async def _plan_copies(self, info: BlockInfo, sources: list[ServerRecord], need: int,
                           servers: dict[str, ServerRecord], live: set[str], now: float) -> int:
        busy = {sid for sid in live
                if self.moves.to_target(sid) >= self.settings.repair_concurrency}
        exclude = info.replicas | {m.target for m in self.moves.of_block(info.block_id)} | busy
        candidates = [Candidate(sid, servers[sid].zone,
                                max(servers[sid].capacity_bytes - servers[sid].used_bytes
                                    - self.moves.bytes_to(sid), 0))
                      for sid in sorted(live)]
        zones = frozenset(servers[h].zone for h in info.replicas if h in live)
        targets = choose_pipeline(candidates, need, info.size, self.rng,
                                  exclude=frozenset(exclude), used_zones=zones)
        ordered = sorted(sources, key=lambda s: (s.state != "live", self.rng.random()))
        for target in targets:
            await self.store.push_commands(target.server_id,
                                           [copy_command(self.settings, info, ordered, now)])
            self.moves.add(Move(block_id=info.block_id, target=target.server_id, size=info.size,
                                deadline=copy_deadline(self.settings, info.size, now)))
            if self._burst is None:
                self._burst = (now, 0)
        return len(targets)

    async def _settle(self, infos: dict[str, BlockInfo | None], now: float) -> None:
        landed = self.moves.settle(infos, now)
        for move in landed:  # a fresh copy on a server once trimmed is not the old replica
            self._trims.pop((move.block_id, move.target), None)
        repaired = sum(m.size for m in landed if m.source is None)
        self.repaired_blocks += sum(1 for m in landed if m.source is None)
        self.repaired_bytes += repaired
        if self._burst is None:
            return
        started, total = self._burst[0], self._burst[1] + repaired
        rate = total / max(now - started, 1e-3)
        await self.store.record_repaired(repaired, rate, now)
        # A burst ends when nothing is in flight; the rate then stands until the next one.
        self._burst = (started, total) if self.moves.block_ids() else None

    # -- trim ------------------------------------------------------------------------------

    async def _trim(self, servers: dict[str, ServerRecord], now: float) -> int:
        rf = self.settings.replication_factor
        for pending, until in list(self._trims.items()):
            if now >= until:
                del self._trims[pending]
        ids = await self.store.excess(SAMPLE)
        settled, trimmed = [], 0
        for bid, info in zip(ids, await self.store.block_infos(ids)):
            if info is None or info.state != "live":
                settled.append(bid)
                continue
            if self.moves.of_block(bid):
                continue  # decided once the copy has settled
            for sid in self._victims(info, servers, rf):
                await self.store.trim_replica(bid, sid)
                log.info("trimmed the replica of %s on %s", bid, sid)
                self._trims[(bid, sid)] = now + TRIM_GRACE_S
                trimmed += 1
            if not any((bid, h) in self._trims for h in info.replicas):
                settled.append(bid)  # else: looked at again once the pending trim is done
        await self.store.clear_excess(settled)
        return trimmed

    def _victims(self, info: BlockInfo, servers: dict[str, ServerRecord], rf: int) -> list[str]:
        """Replicas to delete so that ``rf`` remain, never fewer than ``rf`` live ones."""
        holders = [h for h in info.replicas if h in servers and servers[h].state != "dead"
                   and (info.block_id, h) not in self._trims]
        live = sum(1 for h in holders if servers[h].state == "live")
        relieved = self.moves.trim_preference(info.block_id)
        order = sorted(holders, key=lambda h: (servers[h].state == "live", h != relieved,
                                               -utilisation(servers[h]), h))
        victims = []
        for h in order:
            if len(holders) - len(victims) <= rf:
                break
            if servers[h].state == "live":
                if live - 1 < rf:
                    continue
                live -= 1
            victims.append(h)
        return victims
