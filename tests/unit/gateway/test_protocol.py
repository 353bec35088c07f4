"""gateway/protocol.py in-process: what aiohttp's parser refuses leaves as S3 XML, and the
header and idle deadlines end slow connections (a real socket, a trivial app; no cluster).
Deadlines are short; the waits allow far more than them and check only that the connection
ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import http_exceptions, web

from gateway.protocol import CLOSE_AFTER_RESPONSE, S3AppRunner, parse_error, raw_error_response
from gateway.s3.errors import S3Error

WAIT_S = 20.0


async def ok(request: web.Request) -> web.Response:
    if request.query.get("close"):
        request[CLOSE_AFTER_RESPONSE] = True
    return web.Response(text="ok")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", ok)
    runner = S3AppRunner(app, header_timeout=0.3, keepalive_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    yield sock.getsockname()[1]
    await runner.cleanup()


async def exchange(port: int, data: bytes, *, pause_after: float = 0.0) -> bytes:
    """Send ``data``, then read until the server closes (failing after WAIT_S)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), WAIT_S)
    finally:
        writer.close()


@pytest.mark.parametrize("data, code", [
    (b"\x16\x03\x01\x00\x05hello\r\n\r\n", "BadRequest"),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nX: " + b"v" * 20000 + b"\r\n\r\n", "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "BadRequest"),
])
async def test_parser_refusals_are_s3_xml_and_close(port: int, data: bytes, code: str):
    reply = await exchange(port, data)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400"
    assert b"content-type: application/xml" in head.lower()
    assert f"<Code>{code}</Code>".encode() in body
    assert b"<RequestId>" in body


async def test_headers_that_never_finish_get_request_timeout(port: int):
    reply = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"<Code>RequestTimeout</Code>" in reply


async def test_idle_connections_are_closed_after_a_request(port: int):
    reply = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok")


async def test_a_connection_that_sends_nothing_is_closed(port: int):
    assert await exchange(port, b"") == b""


async def test_close_after_response_closes_at_once(port: int):
    reply = await exchange(port, b"GET /?close=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200") == 1  # the pipelined second request is not served


def test_parse_errors_map_to_s3_codes():
    assert parse_error(400, http_exceptions.LineTooLong(b"x", "8190")).code == \
        "RequestHeaderSectionTooLarge"
    assert parse_error(400, http_exceptions.BadHttpMessage("Too many headers")).code == \
        "RequestHeaderSectionTooLarge"
    assert parse_error(400, http_exceptions.InvalidURLError("bad")).code == "InvalidURI"
    assert parse_error(400, http_exceptions.BadHttpMethod("\x16")).code == "BadRequest"
    assert parse_error(500, RuntimeError()).code == "InternalError"


def test_raw_error_response_is_one_complete_http_response():
    data = raw_error_response(S3Error("RequestTimeout"), "RID")
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    assert length == len(body) and b"<RequestId>RID</RequestId>" in body


async def test_a_client_that_stops_reading_is_cut_off():
    """Rule 5: the handler's write fails instead of waiting forever for a reader."""
    outcome: list[str] = []

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(2000):  # up to 2 GB: far more than any socket buffer
                await response.write(b"x" * (1024 * 1024))
        except ConnectionResetError:
            outcome.append("cut off")
            raise
        outcome.append("all written")
        return response

    app = web.Application()
    app.router.add_get("/big", big)
    runner = S3AppRunner(app, header_timeout=5, send_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        for _ in range(int(WAIT_S / 0.1)):  # read nothing, wait for the server to give up
            if outcome:
                break
            await asyncio.sleep(0.1)
        assert outcome == ["cut off"]
        writer.close()
    finally:
        await runner.cleanup()
