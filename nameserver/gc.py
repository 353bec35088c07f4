"""GCWorker: collect what nothing references any more.

- expired allocations (blocks written but never committed): their servers delete them;
- blocks whose reference count fell to zero: every holder deletes its replica;
- detached directory subtrees (``rmdir -r``, ``plen init``), in bounded batches, releasing
  the blocks of the files below.
A block is forgotten only once its count is zero, so a referenced block is never deleted.
"""

from __future__ import annotations

import time
from typing import Callable

from nameserver.store.redis_store import RedisStore
from plen.workers import WorkResult


class GCWorker:
    def __init__(self, store: RedisStore, clock: Callable[[], float] = time.time,
                 batch: int = 500) -> None:
        self.store = store
        self.clock = clock
        self.batch = batch

    async def run_once(self) -> WorkResult:
        busy = False
        for _ in range(20):
            if await self.store.collect_trash(self.batch) == 0:
                break
            busy = True
        for bid in await self.store.expired_allocations(self.clock(), self.batch):
            busy = await self.store.expire_allocation(bid, self.clock()) or busy
        for bid in await self.store.gc_candidates(self.batch):
            busy = await self.store.collect_block(bid) or busy
        return WorkResult.BUSY if busy else WorkResult.IDLE
