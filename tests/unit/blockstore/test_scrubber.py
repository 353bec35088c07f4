"""Scrubber.run_once and run_pass on real files: bit rot is found, quarantined and
reported; reads are paced."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import AsyncIterator

import pytest

from blockstore.disk import BlockDisk
from blockstore.pacing import TokenBucket
from blockstore.scrubber import PassCounts, Scrubber
from plen.wire.types import new_block_id
from plen.workers import WorkResult
from tests.unit.blockstore.helpers import FakeClock, files_under, flip_byte, store_block

DATA = os.urandom(50_001)


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[BlockDisk]:
    disk = BlockDisk(tmp_path / "data")
    await disk.open()
    yield disk
    await disk.close()


def unpaced(disk: BlockDisk, *, blocks_per_run: int) -> Scrubber:
    return Scrubber(disk, pace=TokenBucket(0), blocks_per_run=blocks_per_run)


async def store_blocks(disk: BlockDisk, count: int) -> list[str]:
    block_ids = sorted(new_block_id() for _ in range(count))
    for block_id in block_ids:
        await store_block(disk, block_id, DATA)
    return block_ids


async def test_scrubber_quarantines_corrupt_block_and_reports_it(disk: BlockDisk) -> None:
    block_ids = [new_block_id() for _ in range(3)]
    for block_id in block_ids:
        await store_block(disk, block_id, DATA)
    disk.changes.take()
    rotten = block_ids[1]
    flip_byte(disk.block_file(rotten), offset=len(DATA) - 1)
    scrubber = unpaced(disk, blocks_per_run=10)

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
    scrubber = unpaced(disk, blocks_per_run=2)

    results = [await scrubber.run_once() for _ in range(3)]

    assert results == [WorkResult.BUSY, WorkResult.BUSY, WorkResult.IDLE]
    assert scrubber.checked == 5
    assert await scrubber.run_once() is WorkResult.BUSY  # a new pass starts
    assert scrubber.checked == 7


async def test_scrubber_skips_block_deleted_since_pass_began(disk: BlockDisk) -> None:
    block_ids = sorted(new_block_id() for _ in range(2))
    for block_id in block_ids:
        await store_block(disk, block_id, DATA)
    scrubber = unpaced(disk, blocks_per_run=1)
    assert await scrubber.run_once() is WorkResult.BUSY
    await disk.delete(block_ids[1])

    assert await scrubber.run_once() is WorkResult.IDLE
    assert (scrubber.checked, scrubber.corrupt_found) == (1, 0)


async def test_scrubber_run_pass_counts_only_that_pass(disk: BlockDisk) -> None:
    block_ids = await store_blocks(disk, 4)
    flip_byte(disk.block_file(block_ids[2]))
    scrubber = unpaced(disk, blocks_per_run=1)
    await scrubber.run_once()  # a background pass is under way: 1 block checked

    assert await scrubber.run_pass() == PassCounts(checked=3, corrupt=1)
    assert await scrubber.run_pass() == PassCounts(checked=3, corrupt=0)  # it is quarantined
    assert (scrubber.checked, scrubber.corrupt_found) == (7, 1)


async def test_scrubber_run_pass_takes_turns_with_run_once(disk: BlockDisk) -> None:
    await store_blocks(disk, 3)
    scrubber = unpaced(disk, blocks_per_run=1)

    _, counts = await asyncio.gather(scrubber.run_once(), scrubber.run_pass())

    assert counts == PassCounts(checked=3, corrupt=0)  # run_once's block is not counted in
    assert scrubber.checked == 4


async def test_scrubber_paces_reads_at_its_rate(disk: BlockDisk) -> None:
    await store_blocks(disk, 4)
    clock = FakeClock()  # stands still: each delay is the whole debt so far
    rate, burst_s = 100_000.0, 0.1
    scrubber = Scrubber(disk, blocks_per_run=10, pace=TokenBucket(
        rate, burst_s=burst_s, clock=clock, sleep=clock.sleep))

    assert await scrubber.run_pass() == PassCounts(checked=4, corrupt=0)

    assert len(clock.slept) == 4
    assert clock.slept[-1] == pytest.approx((4 * len(DATA) - rate * burst_s) / rate)
