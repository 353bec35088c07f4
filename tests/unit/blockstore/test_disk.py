"""BlockDisk on real files in tmp_path: durability sequence, checks, quarantine, identity."""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator

import pytest

from blockstore.disk import TRAILER, BlockDisk, ChangeLog, DataDirError
from plen.checksum import crc32c
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId, is_server_id, new_block_id
from tests.unit.blockstore.helpers import files_under, flip_byte, same_crc32c, store_block

DATA = os.urandom(700_001)  # not a multiple of any chunk size


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[BlockDisk]:
    disk = BlockDisk(tmp_path / "data")
    await disk.open()
    yield disk
    await disk.close()


async def test_written_block_reads_back_with_its_crc(disk: BlockDisk) -> None:
    block_id = new_block_id()
    writer = await disk.begin_write(block_id, crc32c(DATA), len(DATA))
    pieces = [DATA[start:start + 65536] for start in range(0, len(DATA), 65536)]
    await writer.write(pieces[:1])
    await writer.write([bytearray(pieces[1]), memoryview(pieces[2])])  # any bytes-like
    await writer.write(pieces[3:])
    await writer.seal()
    await writer.commit()

    path = disk.root / "blocks" / block_id[:2] / block_id
    assert path.read_bytes() == DATA + TRAILER.pack(crc32c(DATA))
    async with disk.open_verified(block_id) as block:
        assert (block.size, block.crc32c) == (len(DATA), crc32c(DATA))
        assert block.file.read(block.size) == DATA
    assert disk.inventory() == [(block_id, len(DATA))]
    assert disk.used_bytes == len(DATA)
    assert disk.changes.take().added == {block_id: len(DATA)}
    assert files_under(disk.root / "tmp") == []


async def test_seal_refuses_bytes_not_matching_crc_and_abort_leaves_nothing(
        disk: BlockDisk) -> None:
    writer = await disk.begin_write(new_block_id(), crc32c(DATA) ^ 1, len(DATA))
    await writer.write([DATA])
    with pytest.raises(WireError) as caught:
        await writer.seal()
    assert caught.value.code is ErrorCode.CHECKSUM_MISMATCH
    await writer.abort()

    assert files_under(disk.root / "blocks") == []
    assert files_under(disk.root / "tmp") == []
    assert disk.inventory() == []
    assert disk.changes.take().added == {}


async def test_seal_refuses_fewer_bytes_than_declared(disk: BlockDisk) -> None:
    writer = await disk.begin_write(new_block_id(), crc32c(DATA), len(DATA) + 1)
    await writer.write([DATA])
    with pytest.raises(WireError) as caught:
        await writer.seal()
    assert caught.value.code is ErrorCode.CHECKSUM_MISMATCH
    await writer.abort()


async def test_verify_quarantines_block_when_one_byte_flipped(disk: BlockDisk) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    disk.changes.take()
    flip_byte(disk.block_file(block_id), offset=12345)

    with pytest.raises(WireError) as caught:
        await disk.verify(block_id)

    assert caught.value.code is ErrorCode.CHECKSUM_MISMATCH
    assert not disk.block_file(block_id).exists()
    quarantined = files_under(disk.root / "quarantine")
    assert [p.name.split(".")[0] for p in quarantined] == [block_id]
    assert not disk.has(block_id) and disk.used_bytes == 0
    changes = disk.changes.take()
    assert changes.corrupt == {block_id} and changes.removed == {block_id}


async def test_verify_quarantines_block_when_crc_differs_from_expected(disk: BlockDisk) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    assert (await disk.verify(block_id, crc32c(DATA))).size == len(DATA)

    with pytest.raises(WireError) as caught:
        await disk.verify(block_id, crc32c(DATA) ^ 0x80)
    assert caught.value.code is ErrorCode.CHECKSUM_MISMATCH
    assert not disk.has(block_id)


async def test_verify_answers_not_found_for_missing_block(disk: BlockDisk) -> None:
    with pytest.raises(WireError) as caught:
        await disk.verify(new_block_id())
    assert caught.value.code is ErrorCode.NOT_FOUND


@pytest.mark.parametrize("bad_id", [
    "../x", "../../../../etc/passwd", "AB" * 16, "ab" * 15, "ab" * 16 + "/", "ab" * 17,
    "/" + "ab" * 16, "ab" * 15 + "..", "",
])
async def test_disk_refuses_ids_that_are_not_block_ids(disk: BlockDisk, bad_id: str) -> None:
    for attempt in (lambda: disk.begin_write(bad_id, 0, 0), lambda: disk.verify(bad_id),
                    lambda: disk.delete(bad_id), lambda: disk.quarantine(bad_id)):
        with pytest.raises(WireError) as caught:
            await attempt()
        assert caught.value.code is ErrorCode.INVALID
    assert files_under(disk.root / "blocks") == files_under(disk.root / "tmp") == []


async def test_reopen_keeps_server_id_and_inventory(tmp_path: Path) -> None:
    first = BlockDisk(tmp_path / "data")
    await first.open()
    block_id = new_block_id()
    await store_block(first, block_id, DATA)
    server_id = first.server_id
    await first.close()

    again = BlockDisk(tmp_path / "data")
    await again.open()
    try:
        assert is_server_id(again.server_id) and again.server_id == server_id
        assert again.inventory() == [(block_id, len(DATA))]
        assert again.changes.take().added == {}  # the inventory is not a change
    finally:
        await again.close()


async def test_open_removes_stale_temp_files(tmp_path: Path) -> None:
    stale = tmp_path / "data" / "tmp" / f"{new_block_id()}.dead"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a block from a crashed write")
    disk = BlockDisk(tmp_path / "data")
    await disk.open()
    try:
        assert not stale.exists()
    finally:
        await disk.close()


async def test_open_quarantines_file_too_short_for_a_trailer(tmp_path: Path) -> None:
    block_id = new_block_id()
    path = tmp_path / "data" / "blocks" / block_id[:2] / block_id
    path.parent.mkdir(parents=True)
    path.write_bytes(b"ab")
    disk = BlockDisk(tmp_path / "data")
    await disk.open()
    try:
        assert not path.exists() and not disk.has(block_id)
        assert disk.changes.take().corrupt == {block_id}
    finally:
        await disk.close()


async def test_open_refuses_data_dir_in_use(disk: BlockDisk) -> None:
    with pytest.raises(DataDirError, match="in use"):
        await BlockDisk(disk.root).open()


async def test_open_refuses_damaged_server_id(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "server_id").write_text("not-an-id\n")
    with pytest.raises(DataDirError, match="server id"):
        await BlockDisk(tmp_path / "data").open()


async def test_commit_of_same_block_again_is_idempotent(disk: BlockDisk) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    disk.changes.take()
    await store_block(disk, block_id, DATA)
    assert disk.inventory() == [(block_id, len(DATA))]
    assert disk.used_bytes == len(DATA)
    assert disk.changes.take().added == {}


async def test_commit_refuses_same_id_with_other_bytes(disk: BlockDisk) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    other = DATA[::-1]
    writer = await disk.begin_write(block_id, crc32c(other), len(other))
    await writer.write([other])
    await writer.seal()
    with pytest.raises(WireError) as caught:
        await writer.commit()
    await writer.abort()
    assert caught.value.code is ErrorCode.CONFLICT
    assert (await disk.verify(block_id, crc32c(DATA))).size == len(DATA)
    assert files_under(disk.root / "tmp") == []


async def test_commit_refuses_other_bytes_forged_to_the_same_crc(disk: BlockDisk) -> None:
    """Blocks are immutable: a writer still holding a write token for a committed block
    cannot swap its bytes for others made to hash alike (CRC32C is no MAC)."""
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    path = disk.block_file(block_id)
    held = path.read_bytes()
    for other in (same_crc32c(DATA), same_crc32c(DATA, len(DATA) + 10)):
        writer = await disk.begin_write(block_id, crc32c(DATA), len(other))
        await writer.write([other])
        await writer.seal()
        with pytest.raises(WireError) as caught:
            await writer.commit()
        assert caught.value.code is ErrorCode.CONFLICT
    assert path.read_bytes() == held and files_under(disk.root / "tmp") == []
    assert disk.inventory() == [(block_id, len(DATA))] and disk.used_bytes == len(DATA)
    assert (await disk.verify(block_id, crc32c(DATA))).size == len(DATA)


async def test_commit_over_a_damaged_copy_replaces_it(disk: BlockDisk) -> None:
    # The held copy no longer matches its trailer (it rotted): a fresh, checked copy of the
    # same block heals it rather than being refused as "other bytes".
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    flip_byte(disk.block_file(block_id), 10)
    await store_block(disk, block_id, DATA)
    assert disk.block_file(block_id).read_bytes() == DATA + TRAILER.pack(crc32c(DATA))
    assert files_under(disk.root / "tmp") == []


async def test_begin_write_refuses_block_beyond_capacity(tmp_path: Path) -> None:
    disk = BlockDisk(tmp_path / "data", capacity_bytes=1000)
    await disk.open()
    try:
        usage = await disk.usage()
        assert (usage.capacity_bytes, usage.free_bytes) == (1000, 1000)
        first = await disk.begin_write(new_block_id(), 0, 600)  # reserves 600
        with pytest.raises(WireError) as caught:
            await disk.begin_write(new_block_id(), 0, 600)
        assert caught.value.code is ErrorCode.NO_SPACE
        await first.abort()
        await (await disk.begin_write(new_block_id(), 0, 600)).abort()  # room again
    finally:
        await disk.close()


async def test_delete_removes_block_and_reports_it(disk: BlockDisk) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    disk.changes.take()
    assert await disk.delete(block_id) is True
    assert not disk.block_file(block_id).exists() and disk.inventory() == []
    assert disk.changes.take().removed == {block_id}
    assert await disk.delete(block_id) is False


def test_changelog_restore_keeps_what_happened_since() -> None:
    log = ChangeLog()
    kept, gone, bad = BlockId("a" * 32), BlockId("b" * 32), BlockId("c" * 32)
    log.note_added(kept, 1)
    log.note_added(gone, 2)
    log.note_corrupt(bad)
    unsent = log.take()
    log.note_removed(gone)  # happened after the batch was taken
    log.note_added(bad, 3)  # repaired since

    log.restore(unsent)
    merged = log.take()
    assert merged.added == {kept: 1, bad: 3}
    assert merged.removed == {gone}
    assert merged.corrupt == frozenset()


async def test_capacity_is_held_plus_free_never_the_shared_disk_size(disk: BlockDisk) -> None:
    data = b"z" * 5000
    writer = await disk.begin_write("e" * 32, crc32c(data), len(data))
    await writer.write([data])
    await writer.seal()
    await writer.commit()
    usage = await disk.usage()
    st = os.statvfs(disk.root)
    assert usage.used_bytes == 5000
    assert usage.capacity_bytes == usage.used_bytes + usage.free_bytes
    assert usage.free_bytes <= st.f_bavail * st.f_frsize
