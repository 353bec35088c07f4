"""plen/logs.py and the request id middleware of plen/service.py: one JSON line per event,
the request id on every line written while serving, and on every call made meanwhile."""

from __future__ import annotations

import json
import logging
import sys
from typing import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from plen import logs, service
from plen.client.http import session
from plen.wire.request_id import REQUEST_ID_HEADER, accept_request_id


def record(msg: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "plen.test", "levelno": logging.WARNING,
                                  "levelname": "WARNING", "msg": msg, "args": args,
                                  "exc_info": exc_info, **extra})


def test_json_formatter_writes_one_line_with_the_exception_in_a_field() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        rec = record("copy of %s failed\nsecond line", "b1", exc_info=sys.exc_info())
    line = logs.JsonFormatter("blockstore").format(rec)
    assert "\n" not in line
    event = json.loads(line)
    assert event["message"] == "copy of b1 failed\nsecond line"
    assert event["level"] == "WARNING"
    assert event["logger"] == "plen.test"
    assert event["service"] == "blockstore"
    assert isinstance(event["pid"], int)
    assert event["ts"].endswith("Z") and "T" in event["ts"]
    assert "Traceback" in event["exc_info"] and "ValueError: bad\nvalue" in event["exc_info"]
    assert "request_id" not in event


def test_json_formatter_adds_request_id_and_extra_fields() -> None:
    token = logs.request_id.set("ABC123")
    try:
        line = logs.JsonFormatter("gateway").format(record("hi", status=200, path="/b/k"))
    finally:
        logs.request_id.reset(token)
    event = json.loads(line)
    assert event["request_id"] == "ABC123"
    assert (event["status"], event["path"]) == (200, "/b/k")


def test_text_formatter_shows_request_id() -> None:
    token = logs.request_id.set("ABC123")
    try:
        line = logs.TextFormatter().format(record("hello"))
    finally:
        logs.request_id.reset(token)
    assert line.endswith("WARNING plen.test [ABC123]: hello")


@pytest.mark.parametrize("given", [None, "", "x" * 65, "a b", "a\nb", "é"])
def test_accept_request_id_replaces_missing_or_unsafe_ids(given: str | None) -> None:
    made = accept_request_id(given)
    assert made != given and len(made) == 16


def test_accept_request_id_keeps_plain_ids() -> None:
    assert accept_request_id("0123ABCD-x_y.z") == "0123ABCD-x_y.z"


class Lines(logging.Handler):
    """Formats at emit time, as the stderr handler does, i.e. in the context of the event."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.JsonFormatter("nameserver"))
        self.events: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_base_app_serves_under_the_callers_request_id_and_passes_it_on(
        lines: Lines) -> None:
    """A server's handler calling another server: the id it received goes out again, the
    answer echoes it, and the access line (DEBUG) carries it."""
    seen: list[str | None] = []

    async def downstream(request: web.Request) -> web.Response:
        seen.append(request.headers.get(REQUEST_ID_HEADER))
        return web.Response(text="ok")

    down_app = web.Application()
    down_app.router.add_get("/down", downstream)
    async with TestServer(down_app, host="127.0.0.1") as down, session() as http:
        async def upstream(request: web.Request) -> web.Response:
            logging.getLogger("plen.test").info("calling down")
            async with http.get(down.make_url("/down")) as resp:
                return web.Response(text=await resp.text())

        app = service.base_app("nameserver")
        app.router.add_get("/up", upstream)
        async with TestServer(app, host="127.0.0.1") as up:
            async with http.get(up.make_url("/up"), headers={REQUEST_ID_HEADER: "RID-1"}) as r:
                assert r.headers[REQUEST_ID_HEADER] == "RID-1"
            async with http.get(up.make_url("/up")) as r:
                fresh = r.headers[REQUEST_ID_HEADER]
    assert seen == ["RID-1", fresh] and fresh != "RID-1"
    mine = [e for e in lines.events if e["logger"] in ("plen.test", "plen.access")]
    assert [(e["logger"], e.get("request_id")) for e in mine] == [
        ("plen.test", "RID-1"), ("plen.access", "RID-1"),
        ("plen.test", fresh), ("plen.access", fresh)]
    access = [e for e in mine if e["logger"] == "plen.access"]
    assert all((e["method"], e["path"], e["status"], e["bytes_out"]) == ("GET", "/up", 200, 2)
               and isinstance(e["duration_ms"], float) for e in access)
