"""Fixtures for blockstore unit tests: real files in tmp_path, real aiohttp servers on
loopback port 0, and a fake nameserver (``helpers.FakeNameserver``).

- ``make_nameserver()``: another started ``FakeNameserver`` (failover between several).
- ``fake_nameserver``: a started ``FakeNameserver``; queue commands in ``.commands``.
- ``make_blockstore(name, announce_agent=False, **settings)``: a started in-process blockstore
  app (``settings`` override ``Settings`` fields); with ``announce_agent`` its agent
  registers with the fake nameserver and heartbeats.
- ``http``: a client session, closed at teardown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from blockstore.app import announce, disk_key, make_app
from blockstore.settings import Settings
from tests.unit.blockstore.helpers import (
    SECRET,
    Blockstore,
    FakeNameserver,
    MakeBlockstore,
    MakeNameserver,
    url_of,
)


@pytest.fixture
async def make_nameserver() -> AsyncIterator[MakeNameserver]:
    servers: list[TestServer] = []

    async def make() -> FakeNameserver:
        fake = FakeNameserver()
        server = TestServer(fake.app(), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        fake.url = url_of(server)
        return fake

    try:
        yield make
    finally:
        for server in servers:
            await server.close()


@pytest.fixture
async def fake_nameserver(make_nameserver: MakeNameserver) -> FakeNameserver:
    return await make_nameserver()


@pytest.fixture
async def make_blockstore(tmp_path: Path,
                          fake_nameserver: FakeNameserver) -> AsyncIterator[MakeBlockstore]:
    servers: list[TestServer] = []

    async def make(name: str = "bs0", *, announce_agent: bool = False,
                   **overrides: Any) -> Blockstore:
        settings = Settings(**{"data_dir": tmp_path / name, "nameserver_url": fake_nameserver.url,
                               "cluster_secret": SECRET, "port": 0, **overrides}).validate()
        app = make_app(settings)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        if announce_agent:
            announce(app, url_of(server))
        return Blockstore(app=app, url=url_of(server), disk=app[disk_key], settings=settings)

    try:
        yield make
    finally:
        for server in reversed(servers):
            await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
