"""One contract suite for the metadata store, run against every Redis backend.

It drives the nameserver's namespace layer over a real RedisStore, so the Lua scripts that
make each mutation atomic run for real.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random

import pytest

from nameserver.gc import GCWorker
from nameserver.membership import Membership
from nameserver.namespace import Namespace
from nameserver.settings import Settings
from nameserver.store import keys
from nameserver.store.base import ServerRecord
from nameserver.store.redis_store import RedisStore
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AllocateBlockRequest,
    CommitFileRequest,
    CommittedBlock,
    CopyFileRequest,
    DeleteFileRequest,
    InitRequest,
    ListDirRequest,
    MkdirRequest,
    RenameRequest,
    ReportBadReplicaRequest,
    RmdirRequest,
    StatRequest,
    WalkRequest,
)
from plen.wire.types import BlockRef, new_block_id

SERVERS = ["a" * 16, "b" * 16, "c" * 16]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def env(redis_proc):
    store = RedisStore(redis_proc.url)
    await store.redis.flushdb()
    clock = Clock()
    settings = Settings(cluster_secret="s", replication_factor=3, allocation_ttl_s=60)
    membership = Membership(store, settings, clock)
    ns = Namespace(store, settings, membership, clock, random.Random(7))
    for sid in SERVERS:
        await store.save_server(ServerRecord(
            server_id=sid, public_url=f"http://{sid}", private_url=f"http://{sid}", zone="",
            capacity_bytes=10**12, used_bytes=0, last_heartbeat=clock.now,
            registered_at=clock.now))
    yield ns, store, clock, redis_proc
    await store.close()


async def put_inline(ns: Namespace, path: str, data: bytes = b"x", **kw) -> None:
    await ns.commit_file(CommitFileRequest(
        path=path, size=len(data), md5=hashlib.md5(data).hexdigest(),
        inline_data=base64.b64encode(data).decode(), **kw))


async def put_blocks(ns: Namespace, path: str, sizes: list[int], **kw) -> list[str]:
    blocks = []
    for size in sizes:
        a = await ns.allocate_block(AllocateBlockRequest(size_bytes=size))
        blocks.append(CommittedBlock(block=BlockRef(block_id=a.block_id, size=size, crc32c=7),
                                     replicas=[r.server_id for r in a.pipeline]))
    await ns.commit_file(CommitFileRequest(path=path, size=sum(sizes), md5="m" * 32,
                                           blocks=blocks, **kw))
    return [b.block.block_id for b in blocks]


async def keys_of(ns: Namespace, path: str, prefix: str = "", limit: int = 1000) -> list[str]:
    out, after = [], None
    while True:
        page = await ns.walk(WalkRequest(path=path, prefix=prefix, start_after=after, limit=limit))
        out += [i.key for i in page.items]
        if not page.truncated:
            return out
        after = page.items[-1].key


async def refs(store: RedisStore, bid: str) -> int | None:
    raw = await store.redis.hget(keys.block_key(bid), "refs")
    return None if raw is None else int(raw)


async def test_commit_then_stat_returns_entry_with_blocks_and_replicas(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    bids = await put_blocks(ns, "/b/f", [10, 5])
    st = await ns.stat(StatRequest(path="/b/f", with_blocks=True))
    assert st.file is not None and st.file.size == 15
    assert [b.block_id for b in st.file.blocks] == bids
    assert [b.offset for b in st.file.blocks] == [0, 10]
    assert all(len(b.replicas) == 3 for b in st.file.blocks)
    assert await refs(store, bids[0]) == 1


async def test_overwrite_releases_previous_blocks_to_gc(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    old = await put_blocks(ns, "/b/f", [10])
    await put_blocks(ns, "/b/f", [20])
    assert await refs(store, old[0]) == 0
    assert old[0] in await store.gc_candidates()
    assert (await store.stats())["files"] == 1


async def test_file_and_directory_of_one_name_coexist_in_byte_order(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    for key in ["a", "a/b", "a-c", "a0"]:
        await put_inline(ns, f"/b/{key}", parents=True)
    page = await ns.list_dir(ListDirRequest(path="/b"))
    assert [(e.name, e.kind) for e in page.entries] == [
        ("a", "file"), ("a-c", "file"), ("a", "dir"), ("a0", "file")]
    assert await keys_of(ns, "/b") == ["a", "a-c", "a/b", "a0"]


HOSTILE = ["a//b", "../x", "./y", "sp ace", "ünï/cødé", "100%", "a+b", "#frag", "ctl\x01\x7f",
           "emoji😀", "x" * 1024, "dir/", "deep/er/than/that/"]


async def test_hostile_keys_round_trip_unchanged(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    for key in HOSTILE:
        if key.endswith("/"):
            await ns.mkdir(MkdirRequest(path=f"/b/{key}", parents=True, exist_ok=True,
                                        mark_parents=False))
        else:
            await put_inline(ns, f"/b/{key}", key.encode(), parents=True)
    expected = set(HOSTILE)
    walked = await keys_of(ns, "/b", limit=3)
    assert set(walked) == expected
    assert walked == sorted(walked, key=lambda k: k.encode())
    st = await ns.stat(StatRequest(path="/b/a//b", with_blocks=True))
    assert st.file is not None and base64.b64decode(st.file.inline_data) == b"a//b"


async def test_walk_resumes_in_byte_order_for_random_keys(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    rng = random.Random(42)
    alphabet = ["a", "b", "-", "/", "é", "0", "~"]
    keys_set = set()
    while len(keys_set) < 150:
        k = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        if not k.endswith("/") and "//" not in k and not k.startswith("/"):
            keys_set.add(k)
    stored = set()
    for k in sorted(keys_set):
        await put_inline(ns, f"/b/{k}", parents=True)
        stored.add(k)
    expected = sorted(stored, key=lambda k: k.encode())
    for limit in (1, 7, 1000):
        assert await keys_of(ns, "/b", limit=limit) == expected
    for prefix in ("a", "a/", "b-", "é/", "zz"):
        got = await keys_of(ns, "/b", prefix=prefix, limit=5)
        assert got == [k for k in expected if k.startswith(prefix)]


async def test_list_dir_pages_with_prefix_and_start_after(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    names = [f"k{i:03d}" for i in range(25)]
    for n in names:
        await put_inline(ns, f"/b/{n}")
    seen, after = [], None
    while True:
        page = await ns.list_dir(ListDirRequest(path="/b", prefix="k0", start_after=after, limit=4))
        seen += [e.name for e in page.entries]
        if not page.truncated:
            break
        after = seen[-1]
    assert seen == [n for n in names if n.startswith("k0")]


async def test_implicit_directory_vanishes_with_last_key_but_marker_stays(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await put_inline(ns, "/b/imp/x", parents=True)
    await ns.mkdir(MkdirRequest(path="/b/kept"))
    await put_inline(ns, "/b/kept/y")
    await ns.delete_file(DeleteFileRequest(path="/b/imp/x"))
    await ns.delete_file(DeleteFileRequest(path="/b/kept/y"))
    names = [e.name for e in (await ns.list_dir(ListDirRequest(path="/b"))).entries]
    assert names == ["kept"]


async def test_errors_name_what_is_wrong(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await put_inline(ns, "/b/file")
    cases = [
        (put_inline(ns, "/b/missing/x"), ErrorCode.NOT_FOUND),
        (put_inline(ns, "/b/file/x"), ErrorCode.NOT_A_DIRECTORY),
        (ns.mkdir(MkdirRequest(path="/b")), ErrorCode.ALREADY_EXISTS),
        (ns.delete_file(DeleteFileRequest(path="/b/nope")), ErrorCode.NOT_FOUND),
        (ns.rmdir(RmdirRequest(path="/b")), ErrorCode.NOT_EMPTY),
        (ns.rmdir(RmdirRequest(path="/b/file")), ErrorCode.NOT_A_DIRECTORY),
        (ns.list_dir(ListDirRequest(path="/nope")), ErrorCode.NOT_FOUND),
        (ns.rename(RenameRequest(src="/b", dst="/b/inner", kind="dir")), ErrorCode.INVALID),
    ]
    for coro, code in cases:
        with pytest.raises(WireError) as info:
            await coro
        assert info.value.code is code, info.value


async def test_failed_commit_leaves_previous_version_intact(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await put_inline(ns, "/b/f", b"old")
    bogus = CommittedBlock(block=BlockRef(block_id=new_block_id(), size=3, crc32c=1),
                           replicas=[SERVERS[0]])
    with pytest.raises(WireError) as info:
        await ns.commit_file(CommitFileRequest(path="/b/f", size=3, md5="x", blocks=[bogus]))
    assert info.value.code is ErrorCode.CONFLICT
    st = await ns.stat(StatRequest(path="/b/f", with_blocks=True))
    assert base64.b64decode(st.file.inline_data) == b"old"


async def test_preconditions_on_commit_and_delete(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await put_inline(ns, "/b/f", b"one", if_absent=True)
    with pytest.raises(WireError) as info:
        await put_inline(ns, "/b/f", b"two", if_absent=True)
    assert info.value.code is ErrorCode.PRECONDITION_FAILED
    with pytest.raises(WireError):
        await put_inline(ns, "/b/f", b"two", if_md5="0" * 32)
    await put_inline(ns, "/b/f", b"two", if_md5=hashlib.md5(b"one").hexdigest())
    with pytest.raises(WireError):
        await ns.delete_file(DeleteFileRequest(path="/b/f", if_md5="0" * 32))
    await ns.delete_file(DeleteFileRequest(path="/b/f", if_md5=hashlib.md5(b"two").hexdigest()))


async def test_directory_rename_moves_whole_subtree_in_one_step(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    for i in range(200):
        await put_inline(ns, f"/b/src/d{i % 7}/f{i}", parents=True)
    before = await keys_of(ns, "/b/src")
    calls = []
    orig = store.redis.execute_command

    async def counting(*args, **kw):
        calls.append(args[0])
        return await orig(*args, **kw)

    store.redis.execute_command = counting
    await ns.rename(RenameRequest(src="/b/src", dst="/b/new/place", kind="dir", parents=True))
    store.redis.execute_command = orig
    # one script, whatever the subtree's size: no command per file below
    assert set(calls) <= {"EVALSHA", "SCRIPT LOAD"} and calls.count("EVALSHA") <= 2
    assert await keys_of(ns, "/b/new/place") == before
    assert (await ns.stat(StatRequest(path="/b/src/"))).dir is None


async def test_file_rename_overwrites_and_keeps_counts(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    a = await put_blocks(ns, "/b/a", [5])
    b = await put_blocks(ns, "/b/b", [6])
    await ns.rename(RenameRequest(src="/b/a", dst="/b/b", kind="file"))
    assert await refs(store, a[0]) == 1 and await refs(store, b[0]) == 0
    assert (await store.stats())["files"] == 1
    with pytest.raises(WireError) as info:
        await ns.rename(RenameRequest(src="/b/zz", dst="/b/c", kind="file"))
    assert info.value.code is ErrorCode.NOT_FOUND
    await put_inline(ns, "/b/c")
    with pytest.raises(WireError) as info:
        await ns.rename(RenameRequest(src="/b/b", dst="/b/c", kind="file", overwrite=False))
    assert info.value.code is ErrorCode.ALREADY_EXISTS


async def test_copy_shares_blocks_and_counts_references(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    bids = await put_blocks(ns, "/b/src", [10, 10])
    await ns.copy_file(CopyFileRequest(src="/b/src", dst="/b/dst"))
    assert [await refs(store, b) for b in bids] == [2, 2]
    await ns.delete_file(DeleteFileRequest(path="/b/src"))
    assert [await refs(store, b) for b in bids] == [1, 1]
    assert not set(bids) & set(await store.gc_candidates())
    await ns.delete_file(DeleteFileRequest(path="/b/dst"))
    assert set(bids) <= set(await store.gc_candidates())


async def test_gc_collects_released_blocks_and_tells_holders(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    bids = await put_blocks(ns, "/b/f", [10])
    await ns.delete_file(DeleteFileRequest(path="/b/f"))
    await GCWorker(store).run_once()
    assert await store.redis.exists(keys.block_key(bids[0])) == 0
    for sid in SERVERS:
        assert {"kind": "delete", "block_id": bids[0]} in await store.pop_commands(sid)


async def test_recursive_rmdir_detaches_then_gc_releases_everything(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    bids = []
    for i in range(30):
        bids += await put_blocks(ns, f"/b/tree/{i % 4}/f{i}", [3], parents=True)
    await ns.rmdir(RmdirRequest(path="/b/tree", recursive=True))
    assert (await ns.stat(StatRequest(path="/b/tree/"))).dir is None
    gc = GCWorker(store, batch=7)
    while (await gc.run_once()).value == "busy":
        pass
    assert await store.trash_length() == 0
    assert all([await refs(store, b) is None for b in bids])
    assert (await store.stats())["files"] == 0


async def test_init_wipes_namespace_and_counts_stay_sane(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    bids = await put_blocks(ns, "/b/x/f", [3], parents=True)
    await ns.init(InitRequest(confirm=True))
    assert (await ns.list_dir(ListDirRequest(path="/"))).entries == []
    gc = GCWorker(store)
    while (await gc.run_once()).value == "busy":
        pass
    assert (await store.stats())["files"] == 0
    assert await refs(store, bids[0]) is None


async def test_uncommitted_allocation_expires_into_delete_commands(env):
    ns, store, clock, _ = env
    a = await ns.allocate_block(AllocateBlockRequest(size_bytes=100))
    clock.now += 61
    await GCWorker(store, clock=clock).run_once()
    assert await store.redis.exists(keys.block_key(a.block_id)) == 0
    for r in a.pipeline:
        assert {"kind": "delete", "block_id": a.block_id} in await store.pop_commands(r.server_id)


async def test_allocation_places_on_distinct_live_servers_only(env):
    ns, store, clock, _ = env
    rec = (await store.servers())[0]
    rec.last_heartbeat = clock.now - 100
    await store.save_server(rec)
    ns.membership.forget_cache()
    for _ in range(10):
        a = await ns.allocate_block(AllocateBlockRequest(size_bytes=1))
        ids = [r.server_id for r in a.pipeline]
        assert len(ids) == len(set(ids)) == 2 and rec.server_id not in ids
    with pytest.raises(WireError) as info:
        await ns.allocate_block(AllocateBlockRequest(size_bytes=1, exclude=SERVERS))
    assert info.value.code is ErrorCode.NO_LIVE_SERVERS


@pytest.mark.parametrize("redis_proc", ["embedded"], indirect=True)  # the one with an AOF
async def test_acknowledged_commit_survives_redis_sigkill(env):
    ns, store, _, proc = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await put_inline(ns, "/b/durable", b"kept")
    proc.kill()
    proc.restart()
    await store.redis.connection_pool.disconnect()
    st = await ns.stat(StatRequest(path="/b/durable", with_blocks=True))
    assert base64.b64decode(st.file.inline_data) == b"kept"
    assert json.loads(json.dumps(st.file.meta)) == {}


async def test_mkdir_parents_makes_every_level_explicit(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b/x/y", parents=True))
    await ns.rmdir(RmdirRequest(path="/b/x/y"))
    assert (await ns.stat(StatRequest(path="/b/x/"))).dir.marker is True


async def test_lease_has_one_holder_until_it_expires(env):
    _, store, *_ = env
    assert await store.acquire_lease("duties", "ns-a", 0.3)
    assert not await store.acquire_lease("duties", "ns-b", 0.3)
    assert await store.acquire_lease("duties", "ns-a", 0.3)  # renewal
    await store.redis.pexpire(keys.lease_key("duties"), 1)  # as if ns-a died long ago
    for _ in range(500):  # expiry is lazy on access; bounded all the same
        if not await store.redis.exists(keys.lease_key("duties")):
            break
        await asyncio.sleep(0.01)
    assert await store.acquire_lease("duties", "ns-b", 0.3)
    assert not await store.acquire_lease("duties", "ns-a", 0.3)


async def test_reported_bad_replica_stops_counting_and_marks_block(env):
    ns, store, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    (bid,) = await put_blocks(ns, "/b/f", [10])
    await store.clear_underreplicated([bid])
    await ns.report_bad_replica(ReportBadReplicaRequest(block_id=bid, server_id=SERVERS[0],
                                                        reason="crc"))
    assert (await store.replicas_of([bid]))[0] == sorted(SERVERS[1:])
    assert bid in await store.underreplicated()


async def test_stat_resolves_a_path_as_posix_does(env):
    ns, *_ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    await ns.mkdir(MkdirRequest(path="/b/sub"))
    await put_inline(ns, "/b/sub/f")
    found = await ns.stat(StatRequest(path="/b/sub/f"))
    assert found.file is not None and found.file.name == "f" and found.dir is None
    assert (await ns.stat(StatRequest(path="/b/sub"))).dir is not None
    for missing in ("/b/nope", "/b/nope/deeper/f", "/nope/f"):
        st = await ns.stat(StatRequest(path=missing))
        assert (st.file, st.dir) == (None, None), missing
    with pytest.raises(WireError) as info:
        await ns.stat(StatRequest(path="/b/sub/f/x"))
    assert info.value.code is ErrorCode.NOT_A_DIRECTORY
