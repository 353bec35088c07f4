"""Scrubbing: re-read held blocks and check their CRC32C, to find bit rot before a reader does.

Rule 1: one ``run_once`` checks at most ``blocks_per_run`` blocks. A pass walks a snapshot of
the inventory in id order, resuming where the previous run stopped; blocks deleted since the
snapshot are skipped, blocks stored since wait for the next pass.
Rule 2: reads average at most ``max_bytes_per_s``, so scrubbing never starves clients.
Rule 3: a corrupt block is quarantined and reported through ``disk.changes`` (``disk.py``
Rule 3), exactly like one a reader found.
"""

from __future__ import annotations

import asyncio
import logging

from blockstore.disk import BlockDisk
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId
from plen.workers import WorkResult

log = logging.getLogger("blockstore.scrubber")


class Scrubber:
    def __init__(self, disk: BlockDisk, *, blocks_per_run: int = 64,
                 max_bytes_per_s: float = 64 * 1024 * 1024) -> None:
        self.disk = disk
        self.blocks_per_run = blocks_per_run
        self.max_bytes_per_s = max_bytes_per_s
        self.checked = 0  # blocks verified since start
        self.corrupt_found = 0
        self._pass: list[BlockId] = []
        self._next = 0  # index into _pass

    async def run_once(self) -> WorkResult:
        """Check the next batch; BUSY while the pass goes on, IDLE once it is complete."""
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
            await asyncio.sleep(info.size / self.max_bytes_per_s)
        return WorkResult.BUSY if self._next < len(self._pass) else WorkResult.IDLE
