"""Forward-while-writing across three in-process blockstores on real sockets."""

from __future__ import annotations

import os

import aiohttp
import pytest

from plen.checksum import crc32c
from plen.wire.types import new_block_id
from tests.unit.blockstore.helpers import (
    Blockstore,
    FakeNameserver,
    MakeBlockstore,
    dead_url,
    files_under,
    wait_until,
    write_headers,
)

DATA = os.urandom(3 * 1024 * 1024 + 11)  # many chunks, and a short last one


@pytest.fixture
async def trio(make_blockstore: MakeBlockstore) -> list[Blockstore]:
    return [await make_blockstore(f"bs{i}", announce_agent=True) for i in range(3)]


async def put(http: aiohttp.ClientSession, head: Blockstore, block_id: str, hops: list[str],
              crc: int | None = None) -> tuple[int, dict]:
    async with http.put(f"{head.url}/blocks/{block_id}", data=DATA,
                        headers=write_headers(block_id, DATA, hops=hops, crc=crc)) as resp:
        return resp.status, await resp.json()


def assert_no_block_files(*stores: Blockstore) -> None:
    for bs in stores:
        assert files_under(bs.settings.data_dir / "blocks") == []
        assert files_under(bs.settings.data_dir / "tmp") == []


async def test_pipeline_stores_block_on_every_hop(trio: list[Blockstore],
                                                  fake_nameserver: FakeNameserver,
                                                  http: aiohttp.ClientSession) -> None:
    a, b, c = trio
    block_id = new_block_id()

    status, body = await put(http, a, block_id, [b.url, c.url])

    assert status == 201
    assert body == {"stored_on": [a.disk.server_id, b.disk.server_id, c.disk.server_id]}
    for bs in trio:
        assert bs.disk.block_file(block_id).read_bytes()[:len(DATA)] == DATA
        assert (await bs.disk.verify(block_id, crc32c(DATA))).size == len(DATA)
    registered = {r.server_id for r in fake_nameserver.registrations}
    assert registered == {bs.disk.server_id for bs in trio}
    # Each server reports the new block to the nameserver in a heartbeat.
    await wait_until(lambda: {hb.server_id for hb in fake_nameserver.heartbeats
                              if any(h.block_id == block_id for h in hb.added)} == registered)


async def test_pipeline_answers_502_with_failed_url_when_second_hop_down(
        trio: list[Blockstore], http: aiohttp.ClientSession) -> None:
    a, _, c = trio
    down = dead_url()

    status, body = await put(http, a, new_block_id(), [down, c.url])

    assert status == 502
    assert body["error"]["code"] == "pipeline_failed"
    assert body["error"]["failed_url"] == down
    assert_no_block_files(a, c)


async def test_pipeline_passes_up_failed_url_of_a_deeper_hop(
        trio: list[Blockstore], http: aiohttp.ClientSession) -> None:
    a, b, _ = trio
    down = dead_url()

    status, body = await put(http, a, new_block_id(), [b.url, down])

    assert status == 502
    assert body["error"]["code"] == "pipeline_failed"
    assert body["error"]["failed_url"] == down
    assert_no_block_files(a, b)


async def test_pipeline_blames_sender_when_body_does_not_match_crc(
        trio: list[Blockstore], http: aiohttp.ClientSession) -> None:
    a, b, c = trio

    status, body = await put(http, a, new_block_id(), [b.url, c.url], crc=crc32c(DATA) ^ 1)

    assert status == 422 and body["error"]["code"] == "checksum_mismatch"
    assert_no_block_files(a, b, c)


async def test_pipeline_put_of_block_already_stored_is_idempotent(
        trio: list[Blockstore], http: aiohttp.ClientSession) -> None:
    a, b, c = trio
    block_id = new_block_id()
    ids = [bs.disk.server_id for bs in trio]

    assert await put(http, a, block_id, [b.url, c.url]) == (201, {"stored_on": ids})
    assert await put(http, a, block_id, [b.url, c.url]) == (201, {"stored_on": ids})
    for bs in trio:
        assert bs.disk.inventory() == [(block_id, len(DATA))]
        assert files_under(bs.settings.data_dir / "tmp") == []


async def test_pipeline_refuses_hop_that_is_not_an_http_url(
        trio: list[Blockstore], http: aiohttp.ClientSession) -> None:
    a, _, _ = trio
    status, body = await put(http, a, new_block_id(), ["file:///etc/passwd"])
    assert status == 400 and body["error"]["code"] == "invalid"
    assert_no_block_files(a)
