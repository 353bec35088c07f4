"""Scrubber.run_once on real files: bit rot is found, quarantined and reported."""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator

import pytest

from blockstore.disk import BlockDisk
from blockstore.scrubber import Scrubber
from plen.wire.types import new_block_id
from plen.workers import WorkResult
from tests.unit.blockstore.helpers import files_under, flip_byte, store_block

DATA = os.urandom(50_001)


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[BlockDisk]:
    disk = BlockDisk(tmp_path / "data")
    await disk.open()
    yield disk
    await disk.close()


async def test_scrubber_quarantines_corrupt_block_and_reports_it(disk: BlockDisk) -> None:
    block_ids = [new_block_id() for _ in range(3)]
    for block_id in block_ids:
        await store_block(disk, block_id, DATA)
    disk.changes.take()
    rotten = block_ids[1]
    flip_byte(disk.block_file(rotten), offset=len(DATA) - 1)
    scrubber = Scrubber(disk, blocks_per_run=10)

    assert await scrubber.run_once() is WorkResult.IDLE

    assert (scrubber.checked, scrubber.corrupt_found) == (2, 1)
    assert sorted(block_id for block_id, _ in disk.inventory()) == \
        sorted(set(block_ids) - {rotten})
    assert [p.name.split(".")[0] for p in files_under(disk.root / "quarantine")] == [rotten]
    changes = disk.changes.take()
    assert changes.corrupt == {rotten} and changes.removed == {rotten}


async def test_scrubber_resumes_where_previous_run_stopped(disk: BlockDisk) -> None:
    for _ in range(5):
        await store_block(disk, new_block_id(), DATA)
    scrubber = Scrubber(disk, blocks_per_run=2)

    results = [await scrubber.run_once() for _ in range(3)]

    assert results == [WorkResult.BUSY, WorkResult.BUSY, WorkResult.IDLE]
    assert scrubber.checked == 5
    assert await scrubber.run_once() is WorkResult.BUSY  # a new pass starts
    assert scrubber.checked == 7


async def test_scrubber_skips_block_deleted_since_pass_began(disk: BlockDisk) -> None:
    block_ids = sorted(new_block_id() for _ in range(2))
    for block_id in block_ids:
        await store_block(disk, block_id, DATA)
    scrubber = Scrubber(disk, blocks_per_run=1)
    assert await scrubber.run_once() is WorkResult.BUSY
    await disk.delete(block_ids[1])

    assert await scrubber.run_once() is WorkResult.IDLE
    assert (scrubber.checked, scrubber.corrupt_found) == (1, 0)
