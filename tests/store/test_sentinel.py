"""The metadata store through Redis Sentinel: after the master dies and Sentinel promotes its
replica, the same ``redis+sentinel://`` store keeps working on the new master, with the data
written before the failover."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
import redis

from nameserver.store.embedded import free_port
from nameserver.store.redis_store import RedisStore
from plen.wire.errors import WireError
from tests.store.conftest import RedisProcess, _external_argv, _start

SERVICE = "plen"


@pytest.fixture
def replicated(tmp_path: Path):
    """A master, its replica, and one Sentinel that fails over after 500 ms of silence."""
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = RedisProcess(_external_argv(tmp_path / "m", master_port), master_port)
    replica = RedisProcess(_external_argv(tmp_path / "r", replica_port)
                           + ["--replicaof", "127.0.0.1", str(master_port)], replica_port)
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
                    f"sentinel down-after-milliseconds {SERVICE} 500\n"
                    f"sentinel failover-timeout {SERVICE} 3000\n")
    sentinel = _start([master.argv[0], str(conf), "--sentinel"], sentinel_port)
    yield master, replica, sentinel_port
    for proc in (master, replica):
        proc.stop()
    sentinel.terminate()
    try:
        sentinel.wait(10)
    except subprocess.TimeoutExpired:
        sentinel.kill()


def _wait(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def test_store_follows_a_sentinel_failover(replicated) -> None:
    master, replica, sentinel_port = replicated
    replica_client = redis.Redis(port=replica.port)
    _wait(lambda: replica_client.info("replication")["master_link_status"] == "up",
          "the replica to sync")
    store = RedisStore(f"redis+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}/0")
    try:
        await store.redis.set(b"plen:test:before", b"1")
        _wait(lambda: replica_client.get(b"plen:test:before") == b"1", "replication")

        master.kill()
        _wait(lambda: replica_client.info("replication")["role"] == "master",
              "Sentinel to promote the replica")
        deadline = time.monotonic() + 30
        while True:  # the first calls may still meet the dead master's connection
            try:
                await store.ping()
                break
            except WireError:
                assert time.monotonic() < deadline, "the store never reached the new master"
                await asyncio.sleep(0.2)
        assert await store.redis.get(b"plen:test:before") == b"1"
        await store.redis.set(b"plen:test:after", b"2")
        assert replica_client.get(b"plen:test:after") == b"2"  # written to the new master
    finally:
        await store.close()
        replica_client.close()
