"""Metadata store URLs: plain Redis URLs as redis-py reads them, Sentinel URLs taken apart,
and bad ones refused with the reason before anything is contacted."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis.asyncio.sentinel import SentinelConnectionPool

from nameserver.store.connect import StoreURLError, check_url, open_redis


def test_plain_url_is_redis_pys() -> None:
    pool = open_redis("redis://127.0.0.1:6390/2").connection_pool
    assert not isinstance(pool, SentinelConnectionPool)
    assert (pool.connection_kwargs["port"], pool.connection_kwargs["db"]) == (6390, 2)


def test_sentinel_url_names_sentinels_service_db_and_password() -> None:
    client = open_redis("redis+sentinel://:p%40ss@s1:26380,s2,[::1]:26381/my%20master/3")
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "my master"
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "p@ss")
    sentinels = [(c.connection_pool.connection_kwargs["host"],
                  c.connection_pool.connection_kwargs["port"])
                 for c in pool.sentinel_manager.sentinels]
    assert sentinels == [("s1", 26380), ("s2", 26379), ("::1", 26381)]


@pytest.mark.parametrize("url", ["redis+sentinel:///plen", "redis+sentinel://s1:26379",
                                 "redis+sentinel://s1:port/plen", "redis+sentinel://s1/plen/x",
                                 "http://redis:6379/0"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreURLError):
        check_url(url)


def test_nameserver_refuses_a_bad_url_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "nameserver", "--redis", "redis+sentinel://s1",
                           "--cluster-secret", "s", "--root-user", "root",
                           "--root-password", "password"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "names sentinels and a service" in done.stderr
