"""The agent against fake nameservers: registration, deltas, block reports, commands and
their limits, outages and failover."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from blockstore.agent import AgentWorker, InventorySent
from blockstore.disk import BlockDisk
from blockstore.pacing import TokenBucket
from blockstore.settings import Settings
from plen import tokens
from plen.checksum import crc32c
from plen.wire.cluster import CopyBlock, DeleteBlock, HeldBlock
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId, Replica, ServerId, new_block_id
from plen.workers import WorkResult
from tests.unit.blockstore.helpers import (
    SECRET,
    FakeClock,
    FakeNameserver,
    MakeBlockstore,
    MakeNameserver,
    dead_url,
    files_under,
    store_block,
    url_of,
    wait_until,
)

DATA = os.urandom(300_007)
PUBLIC, PRIVATE = "http://public.example:7100", "http://private.example:7100"

MakeAgent = Callable[..., AgentWorker]


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[BlockDisk]:
    disk = BlockDisk(tmp_path / "agent-data")
    await disk.open()
    yield disk
    await disk.close()


@pytest.fixture
async def make_agent(disk: BlockDisk, fake_nameserver: FakeNameserver,
                     http: aiohttp.ClientSession) -> AsyncIterator[MakeAgent]:
    agents: list[AgentWorker] = []

    def make(nameserver_url: str | None = None, *, clock: Callable[[], float] = time.monotonic,
             copy_pace: TokenBucket | None = None, **overrides: Any) -> AgentWorker:
        settings = Settings(**{"data_dir": disk.root, "cluster_secret": SECRET, "zone": "z1",
                               "nameserver_url": nameserver_url or fake_nameserver.url,
                               **overrides}).validate()
        agent = AgentWorker(settings=settings, disk=disk, http=http, clock=clock,
                            copy_pace=copy_pace)
        agent.announce(PUBLIC, PRIVATE)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.close()


async def test_agent_registers_with_full_inventory(disk: BlockDisk, make_agent: MakeAgent,
                                                   fake_nameserver: FakeNameserver) -> None:
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    agent = make_agent()

    assert await agent.run_once() is WorkResult.IDLE

    (req,) = fake_nameserver.registrations
    assert (req.server_id, req.public_url, req.private_url, req.zone) == \
        (disk.server_id, PUBLIC, PRIVATE, "z1")
    assert req.blocks == [HeldBlock(block_id=block_id, size=len(DATA))]
    assert req.used_bytes == len(DATA) and req.capacity_bytes > 0
    assert agent.registered and agent.heartbeat_interval_s == fake_nameserver.heartbeat_interval_s


async def test_agent_executes_delete_command_and_reports_it_removed(
        disk: BlockDisk, make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    block_id, kept = new_block_id(), new_block_id()
    await store_block(disk, block_id, DATA)
    await store_block(disk, kept, DATA)
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.commands = [DeleteBlock(block_id=block_id)]

    assert (await agent.heartbeat_once()).commands == [DeleteBlock(block_id=block_id)]
    await agent.wait_commands()

    assert not disk.block_file(block_id).exists() and disk.block_file(kept).exists()
    await agent.heartbeat_once()
    last = fake_nameserver.heartbeats[-1]
    assert last.removed == [block_id]
    assert (last.block_count, last.used_bytes) == (1, len(DATA))


async def test_agent_copies_block_from_source_and_reports_it_added(
        disk: BlockDisk, make_agent: MakeAgent, make_blockstore: MakeBlockstore,
        fake_nameserver: FakeNameserver) -> None:
    source = await make_blockstore("source")
    block_id = new_block_id()
    await store_block(source.disk, block_id, DATA)
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.commands = [CopyBlock(
        block_id=block_id, size=len(DATA), crc32c=crc32c(DATA), token=tokens.sign(
            SECRET, block_id, "r", 60),
        sources=[Replica(server_id=source.disk.server_id, url=dead_url()),  # tried first, down
                 Replica(server_id=source.disk.server_id, url=source.url)])]

    await agent.heartbeat_once()
    await agent.wait_commands()

    assert (await disk.verify(block_id, crc32c(DATA))).size == len(DATA)
    await agent.heartbeat_once()
    assert fake_nameserver.heartbeats[-1].added == [HeldBlock(block_id=block_id, size=len(DATA))]


async def test_agent_copy_refuses_bytes_not_matching_command_crc(
        disk: BlockDisk, make_agent: MakeAgent, make_blockstore: MakeBlockstore,
        fake_nameserver: FakeNameserver) -> None:
    source = await make_blockstore("source")
    block_id = new_block_id()
    await store_block(source.disk, block_id, DATA)
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.commands = [CopyBlock(
        block_id=block_id, size=len(DATA), crc32c=crc32c(DATA) ^ 1,
        token=tokens.sign(SECRET, block_id, "r", 60),
        sources=[Replica(server_id=source.disk.server_id, url=source.url)])]

    await agent.heartbeat_once()
    await agent.wait_commands()

    assert not disk.has(block_id)
    assert files_under(disk.root / "blocks") == files_under(disk.root / "tmp") == []
    await agent.heartbeat_once()
    assert fake_nameserver.heartbeats[-1].added == []


async def test_agent_registers_again_when_told_to(make_agent: MakeAgent,
                                                  fake_nameserver: FakeNameserver) -> None:
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.reregister_next = True

    assert (await agent.heartbeat_once()).reregister
    assert len(fake_nameserver.registrations) == 2 and agent.registered


async def test_agent_keeps_deltas_when_heartbeat_fails(disk: BlockDisk, make_agent: MakeAgent,
                                                       fake_nameserver: FakeNameserver) -> None:
    block_id = new_block_id()
    agent = make_agent()
    await agent.register_once()
    await store_block(disk, block_id, DATA)
    fake_nameserver.failures_left = 1

    with pytest.raises(WireError):
        await agent.heartbeat_once()
    await agent.heartbeat_once()

    assert fake_nameserver.heartbeats[-1].added == [HeldBlock(block_id=block_id, size=len(DATA))]


async def test_agent_outlives_nameserver_outage(make_agent: MakeAgent,
                                               fake_nameserver: FakeNameserver) -> None:
    fake_nameserver.failures_left = 2  # registration fails twice, then succeeds
    agent = make_agent()
    task = asyncio.create_task(agent.run_forever())
    try:
        await wait_until(lambda: agent.registered)
        fake_nameserver.failures_left = 2  # now two heartbeats fail
        await wait_until(lambda: len(fake_nameserver.heartbeats) >= 2)
        assert not task.done()
        assert len(fake_nameserver.registrations) == 1  # a failed heartbeat is not forgetting
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_agent_retries_registration_while_nameserver_unreachable(
        make_agent: MakeAgent, caplog: pytest.LogCaptureFixture) -> None:
    agent = make_agent(nameserver_url=dead_url())
    task = asyncio.create_task(agent.run_forever())
    try:
        await wait_until(lambda: "registration" in caplog.text and "(3 in a row)" in caplog.text)
        assert not task.done() and not agent.registered
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- block reports ----------------------------------------------------------------------------


async def test_agent_block_report_sends_whole_inventory_and_runs_its_commands(
        disk: BlockDisk, make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    doomed, kept = new_block_id(), new_block_id()
    agent = make_agent()
    await agent.register_once()
    await store_block(disk, doomed, DATA)
    await store_block(disk, kept, DATA)
    fake_nameserver.commands = [DeleteBlock(block_id=doomed)]

    assert await agent.block_report_once() == InventorySent(blocks=2, commands=1)
    await agent.wait_commands()

    (report,) = fake_nameserver.block_reports
    assert report.server_id == disk.server_id
    assert sorted(report.blocks, key=lambda b: b.block_id) == sorted(
        [HeldBlock(block_id=b, size=len(DATA)) for b in (doomed, kept)], key=lambda b: b.block_id)
    assert not disk.has(doomed) and disk.has(kept)


async def test_agent_registers_again_when_block_report_says_so(
        make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.reregister_next = True

    await agent.block_report_once()

    assert len(fake_nameserver.registrations) == 2 and agent.registered


async def test_agent_unregistered_registers_instead_of_reporting_or_beating(
        disk: BlockDisk, make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    await store_block(disk, new_block_id(), DATA)

    assert await make_agent().block_report_once() == InventorySent(blocks=1, commands=0)
    await make_agent().heartbeat_once()

    assert len(fake_nameserver.registrations) == 2
    assert fake_nameserver.block_reports == fake_nameserver.heartbeats == []


async def test_agent_sends_block_report_every_interval_after_inventory(
        make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    clock = FakeClock(now=1000.0)
    agent = make_agent(clock=clock, block_report_interval_s=600)
    reports_at = {}

    for now in (1000.0, 1599.0, 1600.0, 1700.0, 2199.0, 2200.0):
        clock.now = now
        await agent.run_once()
        reports_at[now] = len(fake_nameserver.block_reports)

    assert len(fake_nameserver.registrations) == 1  # the first inventory, at 1000
    assert reports_at == {1000.0: 0, 1599.0: 0, 1600.0: 1, 1700.0: 1, 2199.0: 1, 2200.0: 2}
    assert len(fake_nameserver.heartbeats) == 5  # a report comes with the heartbeat, not for it


async def test_agent_with_block_report_interval_zero_reports_only_by_registering(
        make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    clock = FakeClock()
    agent = make_agent(clock=clock, block_report_interval_s=0)

    for now in (0.0, 10.0**6, 10.0**9):
        clock.now = now
        await agent.run_once()

    assert len(fake_nameserver.registrations) == 1 and fake_nameserver.block_reports == []


async def test_agent_holds_one_conversation_with_nameserver_at_a_time(
        make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    agent = make_agent()
    await agent.register_once()
    fake_nameserver.answer_delay_s = 0.05

    await asyncio.gather(agent.heartbeat_once(), agent.block_report_once(),
                         agent.heartbeat_once())

    assert fake_nameserver.calls == 4 and fake_nameserver.max_in_flight == 1


# -- several nameservers ----------------------------------------------------------------------


async def test_agent_fails_over_on_5xx_then_sticks_to_the_nameserver_that_answered(
        make_agent: MakeAgent, make_nameserver: MakeNameserver) -> None:
    first, second = await make_nameserver(), await make_nameserver()
    first.failures_left = 1
    agent = make_agent(f"{first.url},{second.url}")

    await agent.register_once()
    await agent.heartbeat_once()  # the first would answer now, but the second did last time

    assert (first.calls, len(second.registrations), len(second.heartbeats)) == (0, 1, 1)


async def test_agent_fails_over_when_nameserver_unreachable(
        make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    agent = make_agent(f"{dead_url()}, {fake_nameserver.url}")

    await agent.register_once()

    assert len(fake_nameserver.registrations) == 1


async def test_agent_failover_wraps_around_the_list(make_agent: MakeAgent,
                                                    make_nameserver: MakeNameserver) -> None:
    first, second = await make_nameserver(), await make_nameserver()
    agent = make_agent(f"{first.url},{second.url}")
    first.failures_left = 1
    await agent.register_once()  # now on the second
    second.failures_left = 1

    await agent.heartbeat_once()

    assert (len(first.heartbeats), len(second.heartbeats)) == (1, 0)


async def test_agent_takes_4xx_as_final_without_failing_over(
        make_agent: MakeAgent, make_nameserver: MakeNameserver) -> None:
    first, second = await make_nameserver(), await make_nameserver()
    first.secret = "another cluster's secret"
    agent = make_agent(f"{first.url},{second.url}")

    with pytest.raises(WireError) as caught:
        await agent.register_once()

    assert caught.value.code is ErrorCode.UNAUTHORIZED
    assert second.calls == 0 and not agent.registered


async def test_agent_raises_when_every_nameserver_fails_and_keeps_deltas(
        disk: BlockDisk, make_agent: MakeAgent, make_nameserver: MakeNameserver) -> None:
    first, second = await make_nameserver(), await make_nameserver()
    agent = make_agent(f"{first.url},{second.url}")
    await agent.register_once()
    block_id = new_block_id()
    await store_block(disk, block_id, DATA)
    first.failures_left = second.failures_left = 1

    with pytest.raises(WireError) as caught:
        await agent.heartbeat_once()
    await agent.heartbeat_once()

    assert caught.value.code is ErrorCode.UNAVAILABLE_BEFORE_START
    (beat,) = first.heartbeats + second.heartbeats
    assert beat.added == [HeldBlock(block_id=block_id, size=len(DATA))]


# -- copies: concurrency and bandwidth -------------------------------------------------------


class HeldSource:
    """A blockstore stand-in whose GETs wait until ``release`` is set, counting them."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/blocks/{block_id}", self._get)
        return app

    async def _get(self, request: web.Request) -> web.Response:
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        return web.Response(body=DATA)


def copy_command(block_id: BlockId, source_url: str) -> CopyBlock:
    return CopyBlock(block_id=block_id, size=len(DATA), crc32c=crc32c(DATA),
                     token=tokens.sign(SECRET, block_id, "r", 60),
                     sources=[Replica(server_id=ServerId("source"), url=source_url)])


async def test_agent_runs_at_most_copy_concurrency_commands_at_once(
        disk: BlockDisk, make_agent: MakeAgent, fake_nameserver: FakeNameserver) -> None:
    source = HeldSource()
    server = TestServer(source.app(), host="127.0.0.1")
    await server.start_server()
    try:
        agent = make_agent(copy_concurrency=2)
        await agent.register_once()
        block_ids = [new_block_id() for _ in range(4)]
        fake_nameserver.commands = [copy_command(b, url_of(server)) for b in block_ids]
        await agent.heartbeat_once()

        await wait_until(lambda: source.started >= 2)
        await asyncio.sleep(0.1)  # room for a third copy to start, were it allowed to
        assert source.started == 2
        source.release.set()
        await agent.wait_commands()
    finally:
        source.release.set()  # a held GET would keep the server from closing
        await server.close()

    assert source.max_in_flight == 2 and source.started == 4
    assert all(disk.has(b) for b in block_ids)


async def test_agent_paces_concurrent_copies_with_one_shared_budget(
        disk: BlockDisk, make_agent: MakeAgent, make_blockstore: MakeBlockstore,
        fake_nameserver: FakeNameserver) -> None:
    source = await make_blockstore("source")
    block_ids = [new_block_id() for _ in range(2)]
    for block_id in block_ids:
        await store_block(source.disk, block_id, DATA)
    clock = FakeClock()  # stands still: each delay is the whole debt so far
    rate, burst_s = 1_000_000.0, 0.1
    agent = make_agent(copy_pace=TokenBucket(rate, burst_s=burst_s, clock=clock,
                                             sleep=clock.sleep))
    await agent.register_once()
    fake_nameserver.commands = [copy_command(b, source.url) for b in block_ids]

    await agent.heartbeat_once()
    await agent.wait_commands()

    assert all(disk.has(b) for b in block_ids)
    assert max(clock.slept) == pytest.approx((2 * len(DATA) - rate * burst_s) / rate)


async def test_agent_copy_rate_setting_caps_copies_received(
        disk: BlockDisk, make_agent: MakeAgent, make_blockstore: MakeBlockstore,
        fake_nameserver: FakeNameserver) -> None:
    source = await make_blockstore("source")
    block_ids = [new_block_id() for _ in range(2)]
    for block_id in block_ids:
        await store_block(source.disk, block_id, DATA)
    rate = 1_500_000  # 2 x 300 kB, less 0.1 s of burst: at least 0.3 s
    agent = make_agent(copy_rate_bytes_per_s=rate)
    await agent.register_once()
    fake_nameserver.commands = [copy_command(b, source.url) for b in block_ids]

    started = time.monotonic()
    await agent.heartbeat_once()
    await agent.wait_commands()
    elapsed = time.monotonic() - started

    assert all(disk.has(b) for b in block_ids)
    assert elapsed >= (2 * len(DATA) - 0.1 * rate) / rate * 0.9  # 0.9: timer granularity
