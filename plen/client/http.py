"""The one place where transport failures become ``WireError``s.

``session()`` makes the pooled keep-alive ``ClientSession`` every client uses; ``call_json``
POSTs a wire message and decodes the answer or re-raises the server's ``WireError``.
Errors raised before a request was sent are definite; after sending, they are not.
``CancelledError`` always propagates.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from plen import auth, logs
from plen.wire import codec
from plen.wire.errors import ErrorCode, WireError

T = TypeVar("T")

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=60)


def session(*, limit: int = 64, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
            headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30)
    # The trace config adds the caller's request id to every call (plen/logs.py Rule 2),
    # so the nameserver and blockstore calls, pipeline hops and repair copies all carry it.
    return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers,
                                 auto_decompress=False, trace_configs=[logs.trace_config()])


async def raise_for_wire_error(resp: aiohttp.ClientResponse) -> None:
    """Turn a non-2xx answer into the server's own ``WireError``."""
    if resp.status < 300:
        return
    raw = await resp.read()
    try:
        body = json.loads(raw)
        if isinstance(body, dict) and "error" in body:
            raise WireError.from_json(body)
    except ValueError:
        pass
    code = {404: ErrorCode.NOT_FOUND, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
            503: ErrorCode.UNAVAILABLE_AFTER_SEND}.get(resp.status, ErrorCode.INTERNAL)
    raise WireError(code, f"{resp.method} {resp.url.path}: HTTP {resp.status} "
                          f"{raw[:200].decode(errors='replace')}")


def transport_error(exc: BaseException, url: str, *, sent: bool) -> WireError:
    if isinstance(exc, (aiohttp.ClientConnectorError,)) and not sent:
        return WireError(ErrorCode.UNAVAILABLE_BEFORE_START, f"cannot reach {url}: {exc.os_error}",
                         url=url)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return WireError(ErrorCode.TIMEOUT, f"{url} timed out", url=url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return WireError(ErrorCode.UNAVAILABLE_BEFORE_START, f"cannot reach {url}", url=url)
    return WireError(ErrorCode.CONNECTION_LOST, f"connection to {url} lost: {exc}", url=url)


async def request(http: aiohttp.ClientSession, method: str, url: str, *, data: Any = None,
                  headers: dict[str, str] | None = None,
                  timeout: aiohttp.ClientTimeout | None = None) -> bytes:
    """Send one request and return its whole (small) answer, or raise its ``WireError``."""
    try:
        async with http.request(method, url, data=data, headers=headers,
                                timeout=timeout) as resp:
            await raise_for_wire_error(resp)
            return await resp.read()
    except asyncio.CancelledError:
        raise
    except WireError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise transport_error(exc, url, sent=not isinstance(exc, aiohttp.ClientConnectorError))


async def call_json(http: aiohttp.ClientSession, url: str, request_msg: Any,
                    response_cls: type[T], *, headers: dict[str, str] | None = None,
                    timeout: aiohttp.ClientTimeout | None = None,
                    credentials: auth.Credentials | None = None) -> T:
    """POST one wire message; with ``credentials``, signed (plen/auth.py)."""
    body = codec.dumps(request_msg)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if credentials is not None:
        hdrs.update(auth.sign(credentials, "POST", URL(url).path, body))
    raw = await request(http, "POST", url, data=body, headers=hdrs, timeout=timeout)
    return codec.loads(response_cls, raw)
