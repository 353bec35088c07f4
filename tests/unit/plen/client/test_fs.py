"""FileSystem against fake nameserver and blockstores (real HTTP, see ../conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
from collections.abc import AsyncIterator

import pytest

from plen.checksum import crc32c
from plen.client.fs import FileSystem
from plen.wire.errors import ErrorCode, WireError

BLOCK = 64 * 1024  # the fake nameserver's block size


def payload(n: int, seed: int = 1) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1))[:n] \
        if n < 1024 else os.urandom(n)


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i:i + size]


@pytest.fixture
async def fs(fake_cluster):
    async with FileSystem(fake_cluster.url) as fs:
        yield fs


async def test_write_small_file_is_inline_and_touches_no_blockstore(fake_cluster, fs):
    entry = await fs.write_file("/b/small", b"hello world", parents=True,
                                content_type="text/plain", meta={"k": "v"})
    assert entry.inline and entry.size == 11
    assert entry.md5 == hashlib.md5(b"hello world").hexdigest()
    assert fake_cluster.ns.allocations == []
    assert all(not s.puts for s in fake_cluster.stores)
    assert fake_cluster.ns.files["/b/small"].crc32c == crc32c(b"hello world")
    assert await fs.read_bytes("/b/small") == b"hello world"
    assert await fs.read_bytes("/b/small", 6, 3) == b"wor"


async def test_write_empty_file_is_inline(fake_cluster, fs):
    entry = await fs.write_file("/b/empty", b"", parents=True)
    assert entry.inline and entry.size == 0
    assert entry.md5 == hashlib.md5(b"").hexdigest()
    assert await fs.read_bytes("/b/empty") == b""


async def test_write_just_above_inline_limit_uses_a_block(fake_cluster, fs):
    data = payload(1025)  # the fake's inline limit is 1024
    entry = await fs.write_file("/b/f", data, parents=True)
    assert not entry.inline and entry.block_count == 1
    assert await fs.read_bytes("/b/f") == data


@pytest.mark.parametrize("source_kind", ["async-odd-chunks", "file-object", "bytes", "iterable"])
async def test_write_multi_block_file_commits_blocks_in_order(fake_cluster, fs, source_kind):
    data = payload(3 * BLOCK + 1000)
    source = {
        "async-odd-chunks": lambda: chunks_of(data, 7001),
        "file-object": lambda: io.BytesIO(data),
        "bytes": lambda: data,
        "iterable": lambda: [data[:10], data[10:BLOCK + 5], data[BLOCK + 5:]],
    }[source_kind]()
    entry = await fs.write_file("/b/big", source, parents=True)
    assert entry.size == len(data)
    assert entry.md5 == hashlib.md5(data).hexdigest()
    stored = fake_cluster.ns.files["/b/big"]
    assert stored.crc32c == crc32c(data)
    assert [cb.block.size for cb in stored.blocks] == [BLOCK, BLOCK, BLOCK, 1000]
    # Each committed block holds exactly its slice of the file, on every acknowledged replica.
    for i, cb in enumerate(stored.blocks):
        piece = data[i * BLOCK:(i + 1) * BLOCK]
        assert cb.block.crc32c == crc32c(piece)
        assert len(cb.replicas) == 2
        for sid in cb.replicas:
            assert fake_cluster.store(sid).blocks[cb.block.block_id] == piece
    assert await fs.read_bytes("/b/big") == data


async def test_write_exact_multiple_of_block_size(fake_cluster, fs):
    data = payload(2 * BLOCK)
    await fs.write_file("/b/x", chunks_of(data, BLOCK), parents=True)
    assert [cb.block.size for cb in fake_cluster.ns.files["/b/x"].blocks] == [BLOCK, BLOCK]
    assert len(fake_cluster.ns.allocations) == 2
    assert await fs.read_bytes("/b/x") == data


async def test_write_retries_failed_pipeline_excluding_downstream_server(fake_cluster, fs):
    s0, s1, s2 = fake_cluster.stores
    s1.put_fail = 1  # the second hop fails once: s0 answers 502 with failed_url = s1's
    data = payload(BLOCK // 2 + 2000)
    await fs.write_file("/b/f", data, parents=True)
    allocs = fake_cluster.ns.allocations
    assert len(allocs) == 2
    assert allocs[0].exclude == []
    assert allocs[1].exclude == [s1.server_id]
    assert fake_cluster.ns.files["/b/f"].blocks[0].replicas == [s0.server_id, s2.server_id]
    assert await fs.read_bytes("/b/f") == data


async def test_write_retries_when_first_hop_unreachable(fake_cluster, fs):
    s0 = fake_cluster.stores[0]
    await s0.runner.cleanup()
    s0.runner = None
    data = payload(BLOCK + 10)
    await fs.write_file("/b/f", data, parents=True)
    for alloc in fake_cluster.ns.allocations:
        assert alloc.exclude in ([], [s0.server_id])
    assert [a.exclude for a in fake_cluster.ns.allocations].count([]) == 2  # one per block
    for cb in fake_cluster.ns.files["/b/f"].blocks:
        assert s0.server_id not in cb.replicas
    assert await fs.read_bytes("/b/f") == data


async def test_write_gives_up_after_four_retries_and_commits_nothing(fake_cluster, fs):
    for s in fake_cluster.stores:
        s.put_fail = 100
    with pytest.raises(WireError) as info:
        await fs.write_file("/b/f", payload(BLOCK), parents=True)
    assert "after 5 attempts" in info.value.message or \
        info.value.code is ErrorCode.NO_LIVE_SERVERS
    assert len(fake_cluster.ns.allocations) <= 5
    assert "/b/f" not in fake_cluster.ns.files
    assert "commit-file" not in fake_cluster.ns.calls


async def test_write_fails_cleanly_when_every_server_is_excluded(fake_cluster, fs):
    for s in fake_cluster.stores:
        s.put_fail = 100
    fake_cluster.ns.replication = 1  # each failure excludes one server: 3 fail, then none left
    with pytest.raises(WireError) as info:
        await fs.write_file("/b/f", payload(BLOCK), parents=True)
    assert info.value.code is ErrorCode.NO_LIVE_SERVERS
    assert len(fake_cluster.ns.allocations) == 4
    assert fake_cluster.ns.allocations[-1].exclude == [s.server_id for s in fake_cluster.stores]


async def test_write_keeps_at_most_max_blocks_in_flight(fake_cluster, fs):
    """While stores are stalled, the writer reads at most one block more than it has in
    flight."""
    limit = fs.max_blocks_in_flight
    assert limit > 1
    release = asyncio.Event()
    tracker = {"active": 0, "peak": 0}  # first-hop PUTs, shared by every store
    for store in fake_cluster.stores:
        store.put_gate, store.tracker = release, tracker
    produced = 0
    data = payload(10 * BLOCK)

    async def source() -> AsyncIterator[bytes]:
        nonlocal produced
        for i in range(0, len(data), 4096):
            produced += 4096
            yield data[i:i + 4096]

    task = asyncio.create_task(fs.write_file("/b/big", source(), parents=True))
    for _ in range(500):
        await asyncio.sleep(0.01)
        if tracker["active"] == limit:
            break
    await asyncio.sleep(0.1)  # give a misbehaving writer the chance to read on
    assert tracker["active"] == limit
    assert produced <= (limit + 1) * BLOCK + 4096, f"read {produced / BLOCK:.1f} blocks ahead"
    release.set()
    entry = await task
    assert tracker["peak"] == limit
    assert entry.size == len(data)
    assert len(fake_cluster.ns.files["/b/big"].blocks) == 10
    assert await fs.read_bytes("/b/big") == data


async def test_read_fails_over_when_first_replica_cuts_mid_stream(fake_cluster, fs):
    data = payload(3 * BLOCK)
    await fs.write_file("/b/f", data, parents=True)
    s0, s1, _ = fake_cluster.stores
    fake_cluster.ns.replica_order = [s0.server_id, s1.server_id]
    s0.get_mode = "cut"
    assert await fs.read_bytes("/b/f") == data
    # s1 was asked to continue from where s0 broke off, not from the start.
    resumed = [rng for _, rng in s1.gets]
    assert len(resumed) == 3
    for rng in resumed:
        assert rng is not None and rng.startswith("bytes=")
        start = int(rng.removeprefix("bytes=").split("-")[0])
        assert 0 < start < BLOCK
    assert fake_cluster.ns.bad_reports == []


async def test_read_fails_over_on_corrupt_replica_and_reports_it(fake_cluster, fs):
    data = payload(BLOCK + 5000)
    await fs.write_file("/b/f", data, parents=True)
    s0, s1, _ = fake_cluster.stores
    fake_cluster.ns.replica_order = [s0.server_id, s1.server_id]
    s0.get_mode = "corrupt"
    assert await fs.read_bytes("/b/f") == data
    reports = fake_cluster.ns.bad_reports
    assert {r.server_id for r in reports} == {s0.server_id}
    assert len(reports) == 2  # one per block
    assert len(s1.gets) == 2


async def test_read_fails_over_on_server_error(fake_cluster, fs):
    data = payload(BLOCK * 2)
    await fs.write_file("/b/f", data, parents=True)
    s0, s1, _ = fake_cluster.stores
    fake_cluster.ns.replica_order = [s0.server_id, s1.server_id]
    s0.get_mode = "error"
    assert await fs.read_bytes("/b/f") == data
    assert fake_cluster.ns.bad_reports == []  # a 500 is not a corrupt replica


async def test_read_raises_when_every_replica_fails(fake_cluster, fs):
    await fs.write_file("/b/f", payload(BLOCK), parents=True)
    for s in fake_cluster.stores:
        s.get_mode = "error"
    with pytest.raises(WireError) as info:
        await fs.read_bytes("/b/f")
    assert "every replica failed" in info.value.message


async def test_read_detects_silently_corrupt_block(fake_cluster, fs):
    data = payload(BLOCK)
    await fs.write_file("/b/f", data, parents=True)
    for s in fake_cluster.stores:  # bytes flipped on disk, served with 200 by every replica
        for block_id, body in s.blocks.items():
            s.blocks[block_id] = bytes([body[0] ^ 0xFF]) + body[1:]
    with pytest.raises(WireError) as info:
        await fs.read_bytes("/b/f")
    assert info.value.code is ErrorCode.CHECKSUM_MISMATCH


async def test_ranged_read_touches_only_needed_blocks(fake_cluster, fs):
    data = payload(4 * BLOCK)
    await fs.write_file("/b/f", data, parents=True)
    blocks = [cb.block.block_id for cb in fake_cluster.ns.files["/b/f"].blocks]

    def gets() -> list[tuple[str, str | None]]:
        out = [g for s in fake_cluster.stores for g in s.gets]
        for s in fake_cluster.stores:
            s.gets.clear()
        return out

    got = await fs.read_bytes("/b/f", BLOCK + 10, 100)
    assert got == data[BLOCK + 10:BLOCK + 110]
    assert gets() == [(blocks[1], "bytes=10-109")]

    got = await fs.read_bytes("/b/f", 2 * BLOCK - 5, 10)  # straddles blocks 1 and 2
    assert got == data[2 * BLOCK - 5:2 * BLOCK + 5]
    assert sorted(gets()) == sorted([(blocks[1], f"bytes={BLOCK - 5}-{BLOCK - 1}"),
                                     (blocks[2], "bytes=0-4")])

    assert await fs.read_bytes("/b/f", 4 * BLOCK - 3) == data[-3:]
    assert [b for b, _ in gets()] == [blocks[3]]
    assert await fs.read_bytes("/b/f", 10 * BLOCK) == b""
    assert gets() == []


async def test_read_can_stop_early_without_leaking_tasks(fake_cluster, fs):
    data = payload(6 * BLOCK)
    await fs.write_file("/b/f", data, parents=True)
    async with contextlib.aclosing(fs.read_file("/b/f")) as stream:
        first = await stream.__anext__()
    assert data.startswith(first)
    await asyncio.sleep(0)
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in pending if "_run" in repr(t) or "produce" in repr(t)]


async def test_read_of_missing_file_or_directory(fake_cluster, fs):
    await fs.mkdir("/b/d", parents=True)
    with pytest.raises(WireError) as info:
        await fs.read_bytes("/b/missing")
    assert info.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(WireError) as info:
        await fs.read_bytes("/b/d")
    assert info.value.code is ErrorCode.IS_A_DIRECTORY


async def test_iter_dir_walks_every_page_in_order(fake_cluster, fs):
    names = ["a", "a-c", "b", "c", "z"]
    for name in names:
        await fs.write_file(f"/b/{name}", name.encode(), parents=True)
    await fs.mkdir("/b/a", parents=True)  # sorts as "a/", after "a-c"
    listed = [e.name + ("/" if e.kind == "dir" else "")
              async for e in fs.iter_dir("/b", page_size=2)]
    assert listed == ["a", "a-c", "a/", "b", "c", "z"]
    assert fake_cluster.ns.calls.count("list-dir") == 3
    keys = [item.key async for item in fs.iter_walk("/b", page_size=2)]
    assert keys == sorted(names, key=str.encode)


async def test_info_is_asked_once(fake_cluster, fs):
    await fs.write_file("/b/1", b"x", parents=True)
    await fs.write_file("/b/2", payload(BLOCK + 1), parents=True)
    assert fake_cluster.ns.calls.count("cluster-info") == 1


async def test_read_refreshes_an_expired_token_once(fake_cluster, fs):
    data = payload(2 * BLOCK)
    await fs.write_file("/b/f", data, parents=True)
    entry = await fs.stat_file("/b/f", with_blocks=True)  # tokens of generation 0
    for s in fake_cluster.stores:
        s.min_read_token = 1  # ... have expired
    fake_cluster.ns.token_generation = 1
    stats_before = fake_cluster.ns.calls.count("stat")
    assert await fs.read_bytes(entry, path="/b/f") == data
    assert fake_cluster.ns.calls.count("stat") > stats_before
    with pytest.raises(WireError) as info:  # without a path there is nothing to refresh from
        await fs.read_bytes(entry)
    assert info.value.code is ErrorCode.FORBIDDEN


async def test_read_of_an_entry_without_its_data(fake_cluster, fs):
    await fs.write_file("/b/small", b"inline bytes", parents=True)
    await fs.write_file("/b/big", payload(BLOCK + 1), parents=True)
    listed = {e.name: e async for e in fs.iter_dir("/b")}
    for name in ("small", "big"):
        with pytest.raises(WireError) as info:
            await fs.read_bytes(listed[name])
        assert info.value.code is ErrorCode.INVALID
    assert await fs.read_bytes(listed["small"], path="/b/small") == b"inline bytes"
