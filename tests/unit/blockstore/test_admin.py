"""The blockstore's run-once doors: a whole scrub pass, a block report, a heartbeat and the
commands it started; the cluster secret guards each."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import pytest

from blockstore.admin import agent_key
from plen.wire.cluster import CLUSTER_SECRET_HEADER, DeleteBlock, HeldBlock
from plen.wire.types import new_block_id
from tests.unit.blockstore.helpers import (
    SECRET,
    Blockstore,
    FakeNameserver,
    MakeBlockstore,
    flip_byte,
    store_block,
    wait_until,
)

DATA = os.urandom(40_003)
DOORS = ["scrub", "block-report", "heartbeat"]


@pytest.fixture
async def blockstore(make_blockstore: MakeBlockstore,
                     fake_nameserver: FakeNameserver) -> Blockstore:
    """Registered, then quiet: no background scrub, no heartbeat within a test."""
    fake_nameserver.heartbeat_interval_s = 3600
    store = await make_blockstore(announce_agent=True, scrub_interval_s=0)
    await wait_until(lambda: store.app[agent_key].registered)
    return store


async def post(http: aiohttp.ClientSession, store: Blockstore, duty: str,
               secret: str | None = SECRET) -> tuple[int, Any]:
    headers = {} if secret is None else {CLUSTER_SECRET_HEADER: secret}
    async with http.post(f"{store.url}/admin/{duty}/run-once", headers=headers) as resp:
        return resp.status, await resp.json()


async def test_scrub_door_runs_whole_pass_and_counts_it(blockstore: Blockstore,
                                                        http: aiohttp.ClientSession) -> None:
    block_ids = [new_block_id() for _ in range(3)]
    for block_id in block_ids:
        await store_block(blockstore.disk, block_id, DATA)
    flip_byte(blockstore.disk.block_file(block_ids[0]))

    assert await post(http, blockstore, "scrub") == (200, {"checked": 2, "corrupt": 1})
    assert not blockstore.disk.has(block_ids[0])
    assert await post(http, blockstore, "scrub") == (200, {"checked": 2, "corrupt": 0})


async def test_block_report_door_sends_inventory_now(blockstore: Blockstore,
                                                     fake_nameserver: FakeNameserver,
                                                     http: aiohttp.ClientSession) -> None:
    block_ids = sorted(new_block_id() for _ in range(2))
    for block_id in block_ids:
        await store_block(blockstore.disk, block_id, DATA)
    fake_nameserver.commands = [DeleteBlock(block_id=block_ids[0])]

    assert await post(http, blockstore, "block-report") == (200, {"blocks": 2, "commands": 1})

    (report,) = fake_nameserver.block_reports
    assert sorted(report.blocks, key=lambda b: b.block_id) == [
        HeldBlock(block_id=b, size=len(DATA)) for b in block_ids]


async def test_heartbeat_door_answers_once_its_commands_are_done(
        blockstore: Blockstore, fake_nameserver: FakeNameserver,
        http: aiohttp.ClientSession) -> None:
    block_id = new_block_id()
    await store_block(blockstore.disk, block_id, DATA)
    beats = len(fake_nameserver.heartbeats)
    fake_nameserver.commands = [DeleteBlock(block_id=block_id)]

    assert await post(http, blockstore, "heartbeat") == (200, {"commands": 1})

    assert not blockstore.disk.has(block_id)  # deleted before the door answered
    assert len(fake_nameserver.heartbeats) == beats + 1
    assert fake_nameserver.heartbeats[-1].added == [HeldBlock(block_id=block_id,
                                                              size=len(DATA))]


@pytest.mark.parametrize("duty", DOORS)
@pytest.mark.parametrize("secret", [None, "wrong"])
async def test_admin_door_requires_cluster_secret(blockstore: Blockstore, duty: str,
                                                  secret: str | None,
                                                  fake_nameserver: FakeNameserver,
                                                  http: aiohttp.ClientSession) -> None:
    calls = fake_nameserver.calls

    status, body = await post(http, blockstore, duty, secret=secret)

    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert fake_nameserver.calls == calls
