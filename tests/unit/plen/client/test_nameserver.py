"""NameserverClient: endpoints, typed answers, and which errors are retried."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from plen import service
from plen.client.http import session
from plen.client.nameserver import NameserverClient
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import StatResponse


class FlakyNameserver:
    """Answers each endpoint with the queued errors first, then with success."""

    def __init__(self) -> None:
        self.failures: dict[str, list[ErrorCode]] = {}
        self.calls: list[tuple[str, dict]] = []

    def app(self) -> web.Application:
        app = service.base_app("flaky")
        app.router.add_post("/v1/{endpoint}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        self.calls.append((endpoint, json.loads(await request.read())))
        queued = self.failures.get(endpoint)
        if queued:
            raise WireError(queued.pop(0), f"injected {endpoint} failure")
        if endpoint == "stat":
            return service.json_response(StatResponse(file=None, dir=None))
        if endpoint == "mkdir":
            return web.json_response({"dir": {"name": "d", "mtime": 1.0, "marker": True,
                                              "kind": "dir"}, "created": True})
        if endpoint == "cluster-info":
            return web.json_response({"block_size_bytes": 1 << 20, "inline_max_bytes": 4096,
                                      "replication_factor": 3})
        return web.json_response({})


@pytest.fixture
async def flaky():
    ns = FlakyNameserver()
    runner = web.AppRunner(ns.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with session() as http:
        yield ns, NameserverClient(f"http://127.0.0.1:{port}/", http,
                                   retry_delays_s=(0.0, 0.0))
    await runner.cleanup()


async def test_requests_go_to_v1_endpoint_with_wire_body(flaky):
    ns, client = flaky
    info = await client.cluster_info()
    assert info.block_size_bytes == 1 << 20
    await client.stat("/b/x", with_blocks=True)
    await client.rename("/a", "/b", kind="dir")
    assert ns.calls == [("cluster-info", {}),
                        ("stat", {"path": "/b/x", "with_blocks": True, "offset": 0,
                                  "length": None}),
                        ("rename", {"src": "/a", "dst": "/b", "kind": "dir",
                                    "overwrite": True, "parents": False})]


async def test_reads_are_retried_after_indefinite_errors(flaky):
    ns, client = flaky
    ns.failures["stat"] = [ErrorCode.TIMEOUT, ErrorCode.CONNECTION_LOST]
    st = await client.stat("/b/x")
    assert st.file is None and st.dir is None
    assert [c for c, _ in ns.calls] == ["stat", "stat", "stat"]


async def test_reads_give_up_after_the_last_retry(flaky):
    ns, client = flaky
    ns.failures["stat"] = [ErrorCode.TIMEOUT] * 3
    with pytest.raises(WireError) as info:
        await client.stat("/b/x")
    assert info.value.code is ErrorCode.TIMEOUT
    assert len(ns.calls) == 3


async def test_mutations_are_not_retried_after_indefinite_errors(flaky):
    ns, client = flaky
    ns.failures["mkdir"] = [ErrorCode.TIMEOUT]
    with pytest.raises(WireError) as info:
        await client.mkdir("/b/d")
    assert info.value.code is ErrorCode.TIMEOUT
    assert [c for c, _ in ns.calls] == ["mkdir"]


async def test_definite_errors_are_never_retried(flaky):
    ns, client = flaky
    ns.failures["stat"] = [ErrorCode.NOT_A_DIRECTORY]
    with pytest.raises(WireError) as info:
        await client.stat("/f/x")
    assert info.value.code is ErrorCode.NOT_A_DIRECTORY
    assert len(ns.calls) == 1


async def test_unreachable_nameserver_is_a_definite_unavailable_error():
    async with session() as http:
        client = NameserverClient("http://127.0.0.1:9", http, retry_delays_s=(0.0,))
        with pytest.raises(WireError) as info:
            await client.mkdir("/b")
    assert info.value.code is ErrorCode.UNAVAILABLE_BEFORE_START
    assert info.value.details["url"] == "http://127.0.0.1:9/v1/mkdir"
