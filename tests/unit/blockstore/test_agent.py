"""The agent against a fake nameserver: registration, deltas, commands, outages."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import AsyncIterator, Callable

import aiohttp
import pytest

from blockstore.agent import AgentWorker
from blockstore.disk import BlockDisk
from blockstore.settings import Settings
from plen import tokens
from plen.checksum import crc32c
from plen.wire.cluster import CopyBlock, DeleteBlock, HeldBlock
from plen.wire.errors import WireError
from plen.wire.types import Replica, new_block_id
from plen.workers import WorkResult
from tests.unit.blockstore.helpers import (
    SECRET,
    FakeNameserver,
    MakeBlockstore,
    dead_url,
    files_under,
    store_block,
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

    def make(nameserver_url: str | None = None) -> AgentWorker:
        settings = Settings(data_dir=disk.root, nameserver_url=nameserver_url or fake_nameserver.url,
                            cluster_secret=SECRET, zone="z1")
        agent = AgentWorker(settings=settings, disk=disk, http=http)
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
