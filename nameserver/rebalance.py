"""Rebalancer: move blocks from the fullest live server to the emptiest until their
utilisation (used / capacity) differs by at most ``rebalance_spread``.

Rule 1: a move is a copy to the emptier server first; the fuller server's replica is trimmed
only once the copy has landed (``repair.py`` Rule 3), so a block never drops below the
replication factor while it moves.
Rule 2: only healthy blocks move (at the replication factor, no copy in flight); repair has
the blocks at risk. Moves share repair's per-target concurrency, and utilisation is projected
with the moves in flight, so one pass never overshoots.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable

from nameserver.membership import Membership
from nameserver.moves import Move, Moves
from nameserver.repair import copy_command, copy_deadline, utilisation
from nameserver.settings import Settings
from nameserver.store.base import ServerRecord
from nameserver.store.redis_store import RedisStore
from plen.workers import WorkResult

log = logging.getLogger("nameserver.rebalance")

SAMPLE = 256  # blocks of the fullest server looked at per pass


class Rebalancer:
    def __init__(self, store: RedisStore, settings: Settings, membership: Membership,
                 moves: Moves, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.settings = settings
        self.membership = membership
        self.moves = moves
        self.clock = clock
        self.rng = rng or random.Random()

    def projected(self, rec: ServerRecord) -> float:
        used = (rec.used_bytes + self.moves.bytes_to(rec.server_id)
                - self.moves.bytes_from(rec.server_id))
        return used / rec.capacity_bytes

    async def run_once(self) -> WorkResult:
        now = self.clock()
        servers = await self.membership.servers(max_age_s=0)
        live = [s for s in servers if s.state == "live" and s.capacity_bytes > 0]
        if len(live) < 2:
            return WorkResult.IDLE
        fullest = max(live, key=self.projected)
        emptiest = min(live, key=self.projected)
        if self.projected(fullest) - self.projected(emptiest) <= self.settings.rebalance_spread:
            return WorkResult.IDLE
        budget = self.settings.repair_concurrency - self.moves.to_target(emptiest.server_id)
        if budget <= 0:
            return WorkResult.IDLE  # moves in flight: wait for them to land
        by_id = {s.server_id: s for s in servers}
        sample = await self.store.sample_server_blocks(fullest.server_id, SAMPLE)
        planned = 0
        for info in await self.store.block_infos(sample):
            if planned >= budget or (self.projected(fullest) - self.projected(emptiest)
                                     <= self.settings.rebalance_spread):
                break
            if (info is None or info.state != "live" or info.crc32c is None
                    or emptiest.server_id in info.replicas or self.moves.of_block(info.block_id)
                    or len(info.replicas) != self.settings.replication_factor
                    or any(by_id.get(h) is None or by_id[h].state != "live"
                           for h in info.replicas)):
                continue
            sources = [fullest] + [by_id[h] for h in sorted(info.replicas)
                                   if h != fullest.server_id]
            await self.store.push_commands(emptiest.server_id,
                                           [copy_command(self.settings, info, sources, now)])
            self.moves.add(Move(block_id=info.block_id, target=emptiest.server_id,
                                size=info.size, source=fullest.server_id,
                                deadline=copy_deadline(self.settings, info.size, now)))
            planned += 1
        if planned:
            log.info("rebalance: %d blocks moving from %s (%.0f%%) to %s (%.0f%%)", planned,
                     fullest.server_id, 100 * utilisation(fullest),
                     emptiest.server_id, 100 * utilisation(emptiest))
        return WorkResult.BUSY if planned else WorkResult.IDLE

