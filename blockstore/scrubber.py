"""Scrubbing: re-read held blocks and check their CRC32C, to find bit rot before a reader does.

Rule 1: one ``run_once`` checks at most ``blocks_per_run`` blocks. A pass walks a snapshot of
the inventory in id order, resuming where the previous run stopped; blocks deleted since the
snapshot are skipped, blocks stored since wait for the next pass.
Rule 2: reads are paced by ``pace`` (``--scrub-rate``), so scrubbing never starves clients.
Rule 3: a corrupt block is quarantined and reported through ``disk.changes`` (``disk.py``
Rule 3), exactly like one a reader found.
Rule 4: ``run_pass`` (the admin door) checks every block held when it starts, from the
first, and counts only what it found itself: it takes turns with ``run_once``, which then
starts a fresh pass of its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from blockstore.disk import BlockDisk
from blockstore.pacing import TokenBucket
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId
from plen.workers import WorkResult

log = logging.getLogger("blockstore.scrubber")


@dataclass(frozen=True, slots=True, kw_only=True)
class PassCounts:
    checked: int  # blocks whose CRC32C checked out
    corrupt: int  # blocks found corrupt (and quarantined)


class Scrubber:
    def __init__(self, disk: BlockDisk, *, pace: TokenBucket, blocks_per_run: int = 64) -> None:
        self.disk = disk
        self.pace = pace
        self.blocks_per_run = blocks_per_run
        self.checked = 0  # blocks verified since start
        self.checked_bytes = 0
        self.corrupt_found = 0
        self._pass: list[BlockId] = []
        self._next = 0  # index into _pass
        self._turn = asyncio.Lock()

    async def run_once(self) -> WorkResult:
        """Check the next batch; BUSY while the pass goes on, IDLE once it is complete."""
        async with self._turn:
            return await self._next_batch()

    async def run_pass(self) -> PassCounts:
        """Check every block held now, from the first; the counts of this pass alone."""
        async with self._turn:
            checked, corrupt = self.checked, self.corrupt_found
            self._pass, self._next = [], 0
            while await self._next_batch() is WorkResult.BUSY:
                pass
            return PassCounts(checked=self.checked - checked,
                              corrupt=self.corrupt_found - corrupt)

    async def _next_batch(self) -> WorkResult:
        if self._next >= len(self._pass):
            self._pass = sorted(block_id for block_id, _ in self.disk.inventory())
            self._next = 0
        batch = self._pass[self._next:self._next + self.blocks_per_run]
        self._next += len(batch)
        for block_id in batch:
            if not self.disk.has(block_id):
                continue
            try:
                info = await self.disk.verify(block_id)
            except WireError as err:
                if err.code is ErrorCode.CHECKSUM_MISMATCH:
                    self.corrupt_found += 1  # already quarantined and recorded by verify
                elif err.code is not ErrorCode.NOT_FOUND:
                    raise
                continue
            self.checked += 1
            self.checked_bytes += info.size
            await self.pace.take(info.size)
        return WorkResult.BUSY if self._next < len(self._pass) else WorkResult.IDLE
