"""Helpers for blockstore unit tests: tokens and headers, byte flipping, waiting on a
condition, bytes forged to another's CRC32C, a fake clock whose sleeps are only recorded, and a fake nameserver (the cluster
API only) that records what it hears."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from blockstore.disk import BlockDisk
from blockstore.settings import Settings
from plen import tokens
from plen.checksum import crc32c
from plen.service import json_response
from plen.wire import codec
from plen.wire.blocks import CRC32C_HEADER, PIPELINE_HEADER, TOKEN_HEADER
from plen.wire.cluster import (
    CLUSTER_SECRET_HEADER,
    BlockReportRequest,
    BlockReportResponse,
    CopyBlock,
    DeleteBlock,
    HeartbeatRequest,
    HeartbeatResponse,
    RegisterRequest,
    RegisterResponse,
)
from plen.wire.errors import ErrorCode, WireError

SECRET = "unit-test-cluster-secret"


def url_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def dead_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_headers(block_id: str, data: bytes, *, hops: list[str] | None = None,
                  crc: int | None = None) -> dict[str, str]:
    scope = tokens.write_scope(len(data), hops or [])
    headers = {TOKEN_HEADER: tokens.sign(SECRET, block_id, "w", 60, scope=scope),
               CRC32C_HEADER: str(crc32c(data) if crc is None else crc)}
    if hops:
        headers[PIPELINE_HEADER] = ",".join(hops)
    return headers


def read_headers(block_id: str, **extra: str) -> dict[str, str]:
    return {TOKEN_HEADER: tokens.sign(SECRET, block_id, "r", 60), **extra}


def flip_byte(path: Path, offset: int = 0) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def same_crc32c(data: bytes, length: int | None = None) -> bytes:
    """Other bytes (``length`` of them, default as many) with the same CRC32C, as a hostile
    writer would make them: a CRC is affine over GF(2), so the last four can be solved for."""
    base = bytearray(data.ljust(length or len(data), b"\0")[:length or len(data)])
    base[0] ^= 0xFF
    base[-4:] = bytes(4)
    c0 = crc32c(bytes(base))
    rows: list[tuple[int, int]] = []  # (effect on the CRC, the bits that make it), reduced
    for bit in range(32):
        trial = bytearray(base)
        trial[len(trial) - 4 + bit // 8] ^= 1 << (bit % 8)
        effect, mask = crc32c(bytes(trial)) ^ c0, 1 << bit
        for r_effect, r_mask in rows:
            if effect ^ r_effect < effect:
                effect, mask = effect ^ r_effect, mask ^ r_mask
        if effect:
            rows = sorted([*rows, (effect, mask)], reverse=True)  # by leading bit
    want, patch = crc32c(data) ^ c0, 0
    for r_effect, r_mask in rows:
        if want ^ r_effect < want:
            want, patch = want ^ r_effect, patch ^ r_mask
    assert want == 0
    base[-4:] = patch.to_bytes(4, "little")
    forged = bytes(base)
    assert forged != data and crc32c(forged) == crc32c(data)
    return forged


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


async def store_block(disk: BlockDisk, block_id: str, data: bytes) -> None:
    writer = await disk.begin_write(block_id, crc32c(data), len(data))
    await writer.write([data])
    await writer.seal()
    await writer.commit()


@dataclass
class FakeClock:
    """``now`` moves only when a test moves it; ``sleep`` records and returns at once."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


@dataclass
class FakeNameserver:
    """Answers /cluster/register, /cluster/heartbeat and /cluster/block-report like the
    nameserver's cluster API."""

    heartbeat_interval_s: float = 0.05
    registrations: list[RegisterRequest] = field(default_factory=list)
    heartbeats: list[HeartbeatRequest] = field(default_factory=list)
    block_reports: list[BlockReportRequest] = field(default_factory=list)
    commands: list[DeleteBlock | CopyBlock] = field(default_factory=list)  # for the next answer
    reregister_next: bool = False
    failures_left: int = 0  # answer this many calls with 503 first
    secret: str = SECRET  # the cluster secret it accepts
    answer_delay_s: float = 0.0  # time each call stays in flight
    in_flight: int = 0
    max_in_flight: int = 0  # most calls in flight at once
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cluster/register", self._register)
        app.router.add_post("/cluster/heartbeat", self._heartbeat)
        app.router.add_post("/cluster/block-report", self._block_report)
        return app

    @property
    def calls(self) -> int:
        return len(self.registrations) + len(self.heartbeats) + len(self.block_reports)

    async def _in_flight(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.answer_delay_s)
        finally:
            self.in_flight -= 1

    def _refusal(self, request: web.Request) -> web.Response | None:
        err = None
        if request.headers.get(CLUSTER_SECRET_HEADER) != self.secret:
            err = WireError(ErrorCode.UNAUTHORIZED, "wrong or missing cluster secret")
        elif self.failures_left:
            self.failures_left -= 1
            err = WireError(ErrorCode.UNAVAILABLE_BEFORE_START, "fake outage")
        return None if err is None else web.json_response(err.to_json(),
                                                          status=err.code.http_status)

    def _take_commands(self) -> list[DeleteBlock | CopyBlock]:
        commands, self.commands = self.commands, []
        return commands

    async def _register(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        self.registrations.append(codec.loads(RegisterRequest, await request.read()))
        await self._in_flight()
        return json_response(RegisterResponse(heartbeat_interval_s=self.heartbeat_interval_s,
                                              commands=self._take_commands()))

    async def _heartbeat(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        self.heartbeats.append(codec.loads(HeartbeatRequest, await request.read()))
        await self._in_flight()
        if self.reregister_next:
            self.reregister_next = False
            return json_response(HeartbeatResponse(reregister=True))
        return json_response(HeartbeatResponse(commands=self._take_commands()))

    async def _block_report(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        self.block_reports.append(codec.loads(BlockReportRequest, await request.read()))
        await self._in_flight()
        if self.reregister_next:
            self.reregister_next = False
            return json_response(BlockReportResponse(reregister=True))
        return json_response(BlockReportResponse(commands=self._take_commands()))


@dataclass
class Blockstore:
    app: web.Application
    url: str
    disk: BlockDisk
    settings: Settings


MakeBlockstore = Callable[..., Awaitable[Blockstore]]
MakeNameserver = Callable[[], Awaitable[FakeNameserver]]
