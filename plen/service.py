"""Scaffolding shared by the servers: JSON wire handlers, error middleware, health,
metrics, request ids and logging (plen/logs.py), and ``run`` (bind, announce the bound
address, serve until SIGTERM/SIGINT).

Every server may bind port 0; once listening it writes ``{"service", "url", "pid"}`` to its
``--ready-file`` (atomically), which is how ``plen up`` and the tests learn the address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import signal
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from plen import logs
from plen.wire import codec
from plen.wire.errors import ErrorCode, WireError
from plen.wire.request_id import REQUEST_ID_HEADER, accept_request_id

log = logging.getLogger("plen.service")
access_log = logging.getLogger("plen.access")
T = TypeVar("T")

registry_key = web.AppKey("metrics_registry", CollectorRegistry)
requests_key = web.AppKey("requests_total", Counter)
# Optional: brings gauges up to date before a scrape (state that lives elsewhere, e.g. Redis).
metrics_refresh_key = web.AppKey("metrics_refresh",
                                 Callable[[web.Application], Awaitable[None]])


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=codec.dumps(value), status=status, content_type="application/json")


async def read_json(request: web.Request, cls: type[T]) -> T:
    raw = await request.read()
    return codec.loads(cls, raw or b"{}")


def wire_route(cls: type[T], fn: Callable[[web.Request, T], Awaitable[Any]]):
    """An aiohttp handler that decodes ``cls`` from the JSON body and encodes the result."""

    async def handler(request: web.Request) -> web.StreamResponse:
        result = await fn(request, await read_json(request, cls))
        return result if isinstance(result, web.StreamResponse) else json_response(result)

    return handler


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    """Serve the request under the caller's request id (or a new one), so every log line
    written meanwhile, and every call made meanwhile, carries it; then log one access line.

    The line is DEBUG: the nameserver and blockstores serve heartbeats and block reports all
    the time, and INFO would drown the events that matter."""
    rid = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    token = logs.request_id.set(rid)
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        status = 499  # the client went away first (nginx's code for it)
        raise
    finally:
        if access_log.isEnabledFor(logging.DEBUG):
            _log_access(request, status, response, started)
        logs.request_id.reset(token)


def _log_access(request: web.Request, status: int, response: web.StreamResponse | None,
                started: float) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    if response is None:
        bytes_out = 0
    elif response.prepared:
        bytes_out = response.body_length
    else:
        bytes_out = response.content_length or 0
    # request.path has no query string: nothing secret rides there in our own APIs, but
    # keep the access line the same shape as the gateway's, which must drop it.
    access_log.debug("%s %s %d %.1fms %dB", request.method, request.path, status, duration_ms,
                     bytes_out,
                     extra={"method": request.method, "path": request.path, "status": status,
                            "duration_ms": duration_ms,
                            "bytes_in": request.content.total_bytes, "bytes_out": bytes_out})


@web.middleware
async def wire_error_middleware(request: web.Request, handler):
    try:
        response = await handler(request)
    except WireError as err:
        level = logging.WARNING if err.code.http_status >= 500 else logging.INFO
        log.log(level, "%s %s -> %s: %s", request.method, request.path, err.code.name, err.message)
        response = web.Response(body=json.dumps(err.to_json()).encode(),
                                status=err.code.http_status, content_type="application/json")
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        err = WireError(ErrorCode.INTERNAL, "internal error")
        response = web.Response(body=json.dumps(err.to_json()).encode(), status=500,
                                content_type="application/json")
    counter = request.app.get(requests_key)
    if counter is not None:
        status = response.status
        counter.labels(status_class=f"{status // 100}xx").inc()
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    refresh = request.app.get(metrics_refresh_key)
    if refresh is not None:
        await refresh(request.app)
    body = generate_latest(request.app[registry_key])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def base_app(service: str, **kwargs: Any) -> web.Application:
    app = web.Application(middlewares=[request_id_middleware, wire_error_middleware], **kwargs)
    registry = CollectorRegistry()
    app[registry_key] = registry
    app[requests_key] = Counter(f"plen_{service}_requests", "HTTP requests by status class",
                                ["status_class"], registry=registry)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def advertised_host(bind_host: str) -> str:
    if bind_host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return bind_host


def setup_logging(level: str = "INFO", *, service: str = "plen",
                  log_format: str | None = None) -> None:
    """Log to stderr, one JSON object per line (plen/logs.py), or the old text format with
    ``PLEN_LOG_FORMAT=text`` for a person reading a terminal."""
    fmt = (log_format or os.environ.get("PLEN_LOG_FORMAT") or "json").lower()
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        handlers=[logs.handler(service, fmt)])


def run(app: web.Application, *, service: str, host: str, port: int,
        ready_file: Path | None = None,
        on_bound: Callable[[str], None] | None = None,
        ssl_context: ssl.SSLContext | None = None, workers: int = 1,
        runner: Callable[[web.Application], web.BaseRunner] | None = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT (over HTTPS with ``ssl_context``; in ``workers``
    processes sharing one socket when more than one: plen/prefork.py); announce the bound
    URL when listening. ``runner`` makes the AppRunner (the gateway's: gateway/protocol.py)."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # uvloop is an optional speed-up
        pass
    scheme = "https" if ssl_context is not None else "http"

    def announce(bound_port: int) -> None:
        url = f"{scheme}://{advertised_host(host)}:{bound_port}"
        log.info("%s listening on %s", service, url)
        if on_bound is not None:
            on_bound(url)
        if ready_file is not None:
            write_ready_file(ready_file, {"service": service, "url": url, "pid": os.getpid()})

    if workers <= 1:
        asyncio.run(_serve(app, (host, port), ssl_context, announce, runner))
        return
    from plen import prefork

    sock = prefork.listen(host, port)
    prefork.run(workers, lambda: asyncio.run(_serve(app, sock, ssl_context, None, runner)),
                on_started=lambda: announce(sock.getsockname()[1]))


async def _serve(app: web.Application, bind: tuple[str, int] | socket.socket,
                 ssl_context: ssl.SSLContext | None,
                 announce: Callable[[int], None] | None,
                 make_runner: Callable[[web.Application], web.BaseRunner] | None) -> None:
    runner = (make_runner(app) if make_runner is not None
              else web.AppRunner(app, access_log=None, handle_signals=False))
    await runner.setup()
    site: web.BaseSite
    if isinstance(bind, socket.socket):
        site = web.SockSite(runner, bind, ssl_context=ssl_context)
    else:
        site = web.TCPSite(runner, bind[0], bind[1], reuse_address=True, backlog=1024,
                           ssl_context=ssl_context)
    try:
        await site.start()
        if announce is not None:
            sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
            announce(sockets[0].getsockname()[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def check_cluster_secret(request: web.Request, secret: str) -> None:
    """Refuse a cluster-internal request that does not carry the cluster secret."""
    from plen.wire.cluster import CLUSTER_SECRET_HEADER

    given = request.headers.get(CLUSTER_SECRET_HEADER, "")
    # The bytes that came (aiohttp decodes headers with surrogateescape: "replace" would turn
    # every undecodable byte into a "?" that a secret with a "?" matches), compared in
    # constant time. A server without a secret refuses everyone instead of no one.
    try:
        raw = given.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = b""
    if not secret or not hmac.compare_digest(raw, secret.encode()):
        raise WireError(ErrorCode.UNAUTHORIZED, "wrong or missing cluster secret")
