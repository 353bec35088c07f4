"""put_block and read_range against the fake blockstores (real HTTP, see ../conftest.py)."""

from __future__ import annotations

import os
import time

import pytest

from plen.checksum import crc32c
from plen.client.blockstore import put_block, read_range
from plen.client.fs import failed_servers
from plen.client.http import session
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import AllocateBlockResponse, FileBlock
from plen.wire.types import Replica, new_block_id


def alloc_for(stores, *, forward: bool = True) -> AllocateBlockResponse:
    return AllocateBlockResponse(
        block_id=new_block_id(),
        pipeline=[Replica(server_id=s.server_id, url=s.url) for s in stores],
        forward_urls=[s.private_url for s in stores[1:]] if forward else [],
        token="w.0.x", expires_at=time.time() + 60)


async def test_put_block_stores_on_every_hop_of_the_pipeline(fake_cluster):
    data = os.urandom(5000)
    alloc = alloc_for(fake_cluster.stores)
    async with session() as http:
        stored = await put_block(http, alloc, memoryview(data), crc32c(data))
    assert stored == [s.server_id for s in fake_cluster.stores]
    for s in fake_cluster.stores:
        assert s.blocks[alloc.block_id] == data


async def test_put_block_fails_when_a_hop_did_not_acknowledge(fake_cluster):
    data = b"x" * 100
    alloc = alloc_for(fake_cluster.stores[:2], forward=False)  # no hop to forward to
    async with session() as http:
        with pytest.raises(WireError) as info:
            await put_block(http, alloc, data, crc32c(data))
    assert info.value.code is ErrorCode.PIPELINE_FAILED
    assert failed_servers(alloc, info.value) == [fake_cluster.stores[1].server_id]


async def test_put_block_wrong_crc_is_refused(fake_cluster):
    alloc = alloc_for(fake_cluster.stores[:1])
    async with session() as http:
        with pytest.raises(WireError) as info:
            await put_block(http, alloc, b"abc", crc32c(b"abd"))
    assert info.value.code is ErrorCode.CHECKSUM_MISMATCH
    assert failed_servers(alloc, info.value) == [fake_cluster.stores[0].server_id]


def test_failed_servers_maps_failed_url_to_its_hop():
    alloc = AllocateBlockResponse(
        block_id=new_block_id(),
        pipeline=[Replica(server_id=f"{i:016x}", url=f"http://pub{i}:1") for i in range(3)],
        forward_urls=["http://priv1:2", "http://priv2:2"], token="w", expires_at=0.0)
    err = WireError(ErrorCode.PIPELINE_FAILED, "x", failed_url="http://priv2:2/")
    assert failed_servers(alloc, err) == ["0000000000000002"]
    err = WireError(ErrorCode.PIPELINE_FAILED, "x", failed_url="http://priv1:2/blocks/abc")
    assert failed_servers(alloc, err) == ["0000000000000001"]
    err = WireError(ErrorCode.PIPELINE_FAILED, "x", failed_url="http://elsewhere:9")
    assert failed_servers(alloc, err) == []
    err = WireError(ErrorCode.UNAVAILABLE_BEFORE_START, "x", url="http://pub0:1/blocks/abc")
    assert failed_servers(alloc, err) == ["0000000000000000"]


async def test_read_range_reports_nothing_for_an_empty_range(fake_cluster):
    block = FileBlock(block_id=new_block_id(), offset=0, size=10, crc32c=0,
                      replicas=[], token="r.0.x")
    async with session() as http:
        assert [c async for c in read_range(http, block, 4, 4)] == []
        with pytest.raises(WireError) as info:
            [c async for c in read_range(http, block, 0, 10)]
    assert info.value.code is ErrorCode.NO_LIVE_SERVERS


async def test_read_range_skips_a_dead_replica(fake_cluster):
    data = os.urandom(3000)
    alloc = alloc_for(fake_cluster.stores[1:])
    async with session() as http:
        await put_block(http, alloc, data, crc32c(data))
        block = FileBlock(block_id=alloc.block_id, offset=0, size=len(data),
                          crc32c=crc32c(data), token="r.0.x",
                          replicas=[Replica(server_id="dead", url="http://127.0.0.1:9"),
                                    *alloc.pipeline])
        got = b"".join([c async for c in read_range(http, block, 100, 2000)])
    assert got == data[100:2000]
