"""Structured logs: one JSON object per line, each carrying the request id being served.

Rule 1: a log record is one line, whatever it holds; a traceback goes into the ``exc_info``
field of that line, so ``grep``/``jq`` over a log never sees half an event.
Rule 2: the request id lives in ``request_id`` (a ContextVar), set by the servers'
middleware for the task serving a request; tasks created while serving copy it, and
``trace_config()`` puts it on every outgoing call of a session from ``plen.client.http``.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import aiohttp

from plen.wire.request_id import REQUEST_ID_HEADER

request_id: ContextVar[str | None] = ContextVar("plen_request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is
# written as a field of its own (for example the access line's status and duration_ms).
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
                          .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        rid = request_id.get()
        if rid is not None:
            event["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in event:
                event[key] = value
        if record.exc_info:
            event["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack_info"] = self.formatStack(record.stack_info)
        # json.dumps escapes newlines inside strings, so the event stays on one line.
        return json.dumps(event, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The old human format, with the request id after the logger name when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = request_id.get()
        return text if rid is None else text.replace(": ", f" [{rid}]: ", 1)


def handler(service: str, fmt: str) -> logging.Handler:
    out = logging.StreamHandler()  # stderr
    out.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter(service))
    return out


async def _add_request_id(session: aiohttp.ClientSession, ctx: SimpleNamespace,
                          params: aiohttp.TraceRequestStartParams) -> None:
    rid = request_id.get()
    if rid is not None and REQUEST_ID_HEADER not in params.headers:
        params.headers[REQUEST_ID_HEADER] = rid


def trace_config() -> aiohttp.TraceConfig:
    """Runs in the caller's task as a request starts, so it sees that task's request id."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_add_request_id)
    return config
