"""Membership, repair, trim, rebalance, drain and fsck against a real Redis (both backends),
with a fake clock and no blockstores: the commands they queue are read back from Redis and
"carried out" by reporting what a blockstore would report."""

from __future__ import annotations

import random

import pytest

from nameserver.fsck import Fsck
from nameserver.membership import Membership
from nameserver.moves import Moves
from nameserver.namespace import Namespace
from nameserver.rebalance import Rebalancer
from nameserver.repair import RepairWorker
from nameserver.servers import Servers
from nameserver.settings import Settings
from nameserver.store import keys
from nameserver.store.redis_store import RedisStore
from plen.wire.cluster import (
    BlockReportRequest,
    HeartbeatRequest,
    HeldBlock,
    RegisterRequest,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AllocateBlockRequest,
    CommitFileRequest,
    CommittedBlock,
    FsckRequest,
    ServerDrainRequest,
    ServerRemoveRequest,
)
from plen.wire.types import BlockRef
from plen.workers import WorkResult

MiB = 1 << 20
SERVERS = [f"{i:x}" * 16 for i in range(10, 15)]
S0, S1, S2, S3, S4 = SERVERS
CAPACITY = 100 * MiB


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Env:
    def __init__(self, store: RedisStore, settings: Settings, clock: Clock) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self.membership = Membership(store, settings, clock)
        self.ns = Namespace(store, settings, self.membership, clock, random.Random(1))
        self.moves = Moves()
        self.repair = RepairWorker(store, settings, self.membership, self.moves, clock,
                                   random.Random(2))
        self.rebalance = Rebalancer(store, settings, self.membership, self.moves, clock,
                                    random.Random(3))
        self.servers = Servers(store, settings, self.membership, clock)
        self.fsck = Fsck(store, settings, self.membership)
        self.held: dict[str, dict[str, int]] = {}  # what each fake blockstore holds
        self.used: dict[str, int] = {}
        self.dead: set[str] = set()

    async def register(self, sid: str, zone: str = "") -> None:
        self.held.setdefault(sid, {})
        self.dead.discard(sid)
        await self.membership.register(RegisterRequest(
            server_id=sid, public_url=f"http://{sid}", private_url=f"http://{sid}.private",
            zone=zone, capacity_bytes=CAPACITY, used_bytes=self.used_bytes(sid),
            blocks=[HeldBlock(block_id=b, size=s) for b, s in self.held[sid].items()]))

    def used_bytes(self, sid: str) -> int:
        return self.used.get(sid, sum(self.held[sid].values()))

    async def heartbeat(self, sid: str, *, added=(), removed=()) -> list:
        resp = await self.membership.heartbeat(HeartbeatRequest(
            server_id=sid, capacity_bytes=CAPACITY, used_bytes=self.used_bytes(sid),
            block_count=len(self.held[sid]),
            added=[HeldBlock(block_id=b, size=self.held[sid][b]) for b in added],
            removed=list(removed)))
        assert not resp.reregister
        return resp.commands

    async def carry_out(self, sid: str) -> list:
        """One heartbeat of ``sid``: run its commands as a blockstore would, then report them
        in a second heartbeat."""
        commands = await self.heartbeat(sid)
        added, removed = [], []
        for cmd in commands:
            if cmd.kind == "copy":
                assert cmd.token and cmd.sources and cmd.crc32c == 7
                self.held[sid][cmd.block_id] = cmd.size
                added.append(cmd.block_id)
            elif self.held[sid].pop(cmd.block_id, None) is not None:
                removed.append(cmd.block_id)
        await self.heartbeat(sid, added=added, removed=removed)
        return commands

    async def put(self, path: str, size: int, servers: list[str]) -> str:
        alloc = await self.ns.allocate_block(AllocateBlockRequest(size_bytes=size))
        for sid in servers:
            self.held[sid][alloc.block_id] = size
        await self.ns.commit_file(CommitFileRequest(
            path=path, size=size, md5="m" * 32, parents=True, blocks=[CommittedBlock(
                block=BlockRef(block_id=alloc.block_id, size=size, crc32c=7),
                replicas=servers)]))
        for sid in servers:
            await self.heartbeat(sid, added=[alloc.block_id])
        return alloc.block_id

    async def replicas(self, bid: str) -> set[str]:
        return {r.decode() for r in await self.store.redis.smembers(keys.replicas_key(bid))}

    async def kill(self, sid: str) -> None:
        self.clock.now += self.settings.dead_after_s + 1
        self.dead.add(sid)
        for other in self.held:
            if other not in self.dead:
                await self.heartbeat(other)
        await self.membership.run_once()


@pytest.fixture
async def env(redis_proc):
    store = RedisStore(redis_proc.url)
    await store.redis.flushdb()
    settings = Settings(cluster_secret="s", replication_factor=3, heartbeat_interval_s=1,
                        dead_after_s=5, repair_concurrency=2)
    e = Env(store, settings, Clock())
    for i in range(4):
        await e.register(SERVERS[i])
    yield e
    await store.close()


async def test_a_dead_server_leaves_the_block_map_and_must_reregister(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    await env.kill(S0)
    assert await env.replicas(bid) == {S1, S2}
    assert bid in await env.store.underreplicated()
    resp = await env.membership.heartbeat(HeartbeatRequest(
        server_id=S0, capacity_bytes=CAPACITY, used_bytes=0, block_count=1))
    assert resp.reregister
    status = await env.servers.cluster_status()
    assert status.under_replicated_blocks == 1 and status.bytes_below_rf == MiB
    assert status.bytes_below_2 == 0 and status.repair_bytes_left == MiB
    assert {s.server_id: s.state for s in status.servers}[S0] == "dead"


async def test_repair_copies_to_a_live_server_that_lacks_the_block(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    await env.kill(S0)
    assert await env.repair.run_once() is WorkResult.BUSY
    commands = await env.carry_out(S3)
    assert [(c.kind, c.block_id) for c in commands] == [("copy", bid)]
    assert {s.url for s in commands[0].sources} == {f"http://{S1}.private", f"http://{S2}.private"}
    await env.repair.run_once()
    assert await env.replicas(bid) == {S1, S2, S3}
    assert bid not in await env.store.underreplicated()
    status = await env.servers.cluster_status()
    assert status.under_replicated_blocks == 0 and status.repaired_bytes == MiB


async def test_repair_takes_the_blocks_with_fewest_live_replicas_first(env):
    await env.register(S4)
    one_left = await env.put("/one", MiB, [S0, S1, S4])
    two_left = [await env.put(f"/two{i}", MiB, [S0, S2, S3]) for i in range(3)]
    await env.kill(S0)
    await env.kill(S1)  # one_left now has only s4; the others have two each
    await env.repair.run_once()
    # repair_concurrency=2 per target, 3 live targets: the one-copy block must be among them
    planned = env.moves.block_ids()
    assert one_left in planned
    assert len(env.moves.of_block(one_left)) == 2  # both missing copies at once
    assert all(env.moves.to_target(s) <= 2 for s in (S2, S3, S4))
    assert set(two_left) - planned  # the budget ran out before every other block


async def test_a_block_with_no_live_replica_is_reported_missing_not_planned(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    for sid in (S0, S1, S2):
        await env.kill(sid)
    assert await env.repair.run_once() is WorkResult.IDLE
    status = await env.servers.cluster_status()
    assert status.missing_blocks == 1 and status.repair_eta_s is None
    report = await env.fsck.run(FsckRequest())
    assert report.missing == [bid] and not report.ok


async def test_a_server_coming_back_is_trimmed_never_below_rf(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    await env.kill(S0)
    await env.repair.run_once()
    await env.carry_out(S3)
    await env.repair.run_once()
    await env.register(S0)  # back, with its old replica: four copies now
    assert await env.replicas(bid) == {S0, S1, S2, S3}
    assert await env.repair.run_once() is WorkResult.BUSY
    assert len(await env.replicas(bid)) == 3
    deleted = [sid for sid in SERVERS[:4]
               for c in await env.carry_out(sid) if c.kind == "delete"]
    assert len(deleted) == 1
    assert sum(bid in env.held[s] for s in env.held) == 3
    assert (await env.fsck.run(FsckRequest())).ok


async def test_trim_deletes_draining_replicas_first_and_keeps_rf_live(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    await env.servers.drain(ServerDrainRequest(server_id=S0))
    assert {s.server_id: s.state for s in
            (await env.servers.cluster_status()).servers}[S0] == "draining"
    await env.repair.run_once()
    await env.carry_out(S3)
    await env.repair.run_once()
    assert await env.replicas(bid) == {S1, S2, S3}
    await env.carry_out(S0)
    states = {s.server_id: s.state for s in (await env.servers.cluster_status()).servers}
    assert states[S0] == "drained"
    await env.servers.remove(ServerRemoveRequest(server_id=S0))
    assert S0 not in {s.server_id for s in (await env.servers.cluster_status()).servers}


async def test_only_dead_or_drained_servers_may_be_removed(env):
    await env.put("/a", MiB, [S0, S1, S2])
    with pytest.raises(WireError) as err:
        await env.servers.remove(ServerRemoveRequest(server_id=S1))
    assert err.value.code is ErrorCode.CONFLICT
    with pytest.raises(WireError) as err:
        await env.servers.drain(ServerDrainRequest(server_id="nope"))
    assert err.value.code is ErrorCode.NOT_FOUND


async def test_drain_with_nowhere_to_go_keeps_the_blocks(env):
    await env.kill(S3)
    bid = await env.put("/a", MiB, [S0, S1, S2])
    await env.servers.drain(ServerDrainRequest(server_id=S0))
    await env.repair.run_once()
    assert await env.replicas(bid) == {S0, S1, S2}
    assert not env.moves.block_ids()


async def test_rebalance_fills_an_empty_server_through_copy_then_trim(env):
    bids = [await env.put(f"/f{i}", MiB, [S0, S1, S2]) for i in range(20)]
    for sid in (S0, S1, S2):
        await env.heartbeat(sid)
    assert await env.rebalance.run_once() is WorkResult.BUSY
    moving = env.moves.block_ids()
    assert 0 < len(moving) <= env.settings.repair_concurrency
    for _ in range(20):
        await env.carry_out(S3)
        await env.repair.run_once()
        for sid in (S0, S1, S2):
            await env.carry_out(sid)
        await env.rebalance.run_once()
    for bid in bids:
        assert len(await env.replicas(bid)) == 3
    used = [env.used_bytes(s) / CAPACITY for s in (S0, S1, S2, S3)]
    assert max(used) - min(used) <= env.settings.rebalance_spread
    assert len(env.held[S3]) >= 8  # what a spread of 0.10 means for 60 MiB on 4 servers
    assert (await env.fsck.run(FsckRequest())).ok


async def test_block_report_deletes_orphans_and_drops_what_is_gone(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    resp = await env.membership.block_report(BlockReportRequest(
        server_id=S0, blocks=[HeldBlock(block_id="f" * 32, size=10)]))
    assert [(c.kind, c.block_id) for c in resp.commands] == [("delete", "f" * 32)]
    assert await env.replicas(bid) == {S1, S2}
    assert bid in await env.store.underreplicated()


async def test_fsck_finds_bad_reference_counts_and_unreferenced_blocks(env):
    bid = await env.put("/a", MiB, [S0, S1, S2])
    assert (await env.fsck.run(FsckRequest())).ok
    await env.store.redis.hset(keys.block_key(bid), "refs", 2)
    report = await env.fsck.run(FsckRequest())
    assert report.bad_refs == [bid] and not report.ok
    await env.store.redis.hdel(keys.dir_key(await env.store.root_id()), "a")
    report = await env.fsck.run(FsckRequest())
    assert report.unreferenced == [bid] and report.counts["unreferenced"] == 1


async def test_status_counts_a_silent_servers_blocks_at_risk_before_it_is_declared_dead(env):
    await env.put("/a", MiB, [S0, S1, S2])
    env.clock.now += env.settings.dead_after_s + 1
    for sid in (S1, S2, S3):
        await env.heartbeat(sid)  # S0 is silent; membership has not run yet
    status = await env.servers.cluster_status()
    assert {s.server_id: s.state for s in status.servers}[S0] == "dead"
    assert status.under_replicated_blocks == 1 and status.bytes_below_rf == MiB
