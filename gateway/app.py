"""make_app: the gateway's one catch-all route, its middleware and its FileSystem.

Rule 1: every request is resolved to an AWS operation by ``gateway.s3.router`` and handled
by the function of that name in ``gateway.s3.ops``; nothing else routes.
Rule 2: every failure leaves as S3's XML error with the request id of ``x-amz-request-id``;
an unexpected exception is logged with its traceback and becomes InternalError.
Rule 3: ``Expect: 100-continue`` is answered only after routing, authentication and (for
uploads) the bucket check passed; otherwise the error goes out instead, before the body.
A bucket this worker saw lately (gateway/seen_buckets.py) passes that check without asking the
nameserver again: the commit checks the bucket anyway, so one deleted meanwhile still
refuses the PUT (after its body rather than before), and a small PUT costs one nameserver
call instead of two.
``GET /healthz`` and ``GET /metrics`` without credentials are the health and Prometheus
doors (with credentials they are the buckets of those names).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from gateway.keys import GatewayKeys
from gateway.metrics import GatewayMetrics, body_bytes
from gateway.s3.errors import S3Error, error_response_body, from_wire
from gateway.s3.ops import OPERATIONS
from gateway.s3.request import S3Request, route_and_authenticate
from gateway.seen_buckets import SeenBuckets, seen_buckets_key
from gateway.settings import Settings
from plen import logs
from plen.auth import Credentials
from plen.client import http as http_mod
from plen.client.fs import FileSystem
from plen.wire.errors import WireError
from plen.wire.request_id import new_request_id

log = logging.getLogger("gateway")
access_log = logging.getLogger("gateway.access")

settings_key = web.AppKey("settings", Settings)
fs_key = web.AppKey("fs", FileSystem)
keys_key = web.AppKey("keys", GatewayKeys)
metrics_key = web.AppKey("metrics", GatewayMetrics)
_REQUEST_ID = "plen_request_id"
_CONTEXT = "plen_s3_request"
_UPLOADS = frozenset({"PutObject", "UploadPart"})


def make_app(settings: Settings, *, fs: FileSystem | None = None,
             metrics_dir: Path | None = None) -> web.Application:
    """``metrics_dir``: the multiprocess metrics directory when several workers serve
    (gateway/metrics.py Rule 3)."""
    # Bodies are streamed from request.content; client_max_size only guards read().
    app = web.Application(middlewares=[s3_middleware], client_max_size=1024 ** 2,
                          handler_args={"max_field_size": 16 * 1024})
    app[settings_key] = settings
    app[metrics_key] = GatewayMetrics(metrics_dir)
    app[seen_buckets_key] = SeenBuckets()
    app.cleanup_ctx.append(_fs_context(fs))
    app.router.add_route("*", "/{tail:.*}", handle, expect_handler=expect_continue)
    return app


def _fs_context(injected: FileSystem | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        if injected is not None:
            app[fs_key] = injected
            app[keys_key] = GatewayKeys(settings.root_user, settings.root_password,
                                        injected.nameserver)
            yield
            return
        http = http_mod.session(limit=256)
        # The gateway calls the nameserver as root and makes the S3 access decisions itself.
        fs = FileSystem(settings.nameserver_url, http=http,
                        credentials=Credentials(settings.root_user, settings.root_password))
        await fs.open()
        app[fs_key] = fs
        app[keys_key] = GatewayKeys(settings.root_user, settings.root_password, fs.nameserver)
        yield
        await fs.close()
        await http.close()

    return ctx


def _request_id(request: web.Request) -> str:
    if _REQUEST_ID not in request:
        request[_REQUEST_ID] = new_request_id()
    return request[_REQUEST_ID]


def error_response(request: web.Request, err: S3Error) -> web.Response:
    request_id = _request_id(request)
    body = b"" if request.method == "HEAD" else error_response_body(
        err, resource=request.path, request_id=request_id)
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id, **err.headers}
    if body:
        headers["Content-Type"] = "application/xml"
    return web.Response(status=err.status, body=body or None, headers=headers)


async def _prepare(request: web.Request) -> S3Request:
    if _CONTEXT not in request:
        app = request.app
        request[_CONTEXT] = await route_and_authenticate(
            request, app[settings_key], app[fs_key], app[keys_key], _request_id(request))
    return request[_CONTEXT]


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    # aiohttp runs this before the middleware, and it may already call the nameserver.
    token = logs.request_id.set(_request_id(request))
    try:
        return await _expect_continue(request)
    finally:
        logs.request_id.reset(token)


async def _expect_continue(request: web.Request) -> web.StreamResponse | None:
    if request.headers.get("Expect", "").lower() != "100-continue":
        return error_response(request, S3Error("InvalidRequest", "unsupported Expect header"))
    try:
        s3 = await _prepare(request)
        seen = request.app[seen_buckets_key]
        if s3.endpoint.operation in _UPLOADS and not seen.fresh(s3.bucket):
            await s3.require_bucket()
            seen.saw(s3.bucket)
    except (S3Error, WireError) as err:
        refusal = error_response(request, err if isinstance(err, S3Error)
                                 else from_wire(err, "bucket"))
        # The client will not send the body it announced, so what follows on this
        # connection is not this request's body: close it after the refusal, as S3 does.
        refusal.force_close()
        return refusal
    if request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return None


def _is_door(request: web.Request, path: str) -> bool:
    return (request.method == "GET" and request.path == path and not request.query_string
            and "Authorization" not in request.headers)


async def handle(request: web.Request) -> web.StreamResponse:
    if _is_door(request, "/healthz"):
        return web.json_response({"ok": True})
    if _is_door(request, "/metrics"):
        return request.app[metrics_key].render()
    s3 = await _prepare(request)
    handler = OPERATIONS.get(s3.endpoint.operation)
    if handler is None:
        raise S3Error("NotImplemented")
    return await handler(s3)


@web.middleware
async def s3_middleware(request: web.Request, handler) -> web.StreamResponse:
    # The S3 request id is also the id of every internal call and log line (plen/logs.py).
    token = logs.request_id.set(_request_id(request))
    try:
        return await _serve(request, handler)
    finally:
        logs.request_id.reset(token)


async def _serve(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except S3Error as err:
        log.info("%s %s -> %s", request.method, request.path, err.code)
        response = error_response(request, err)
    except WireError as err:
        s3err = from_wire(err, "key")
        level = logging.WARNING if s3err.status >= 500 else logging.INFO
        log.log(level, "%s %s -> %s (%s)", request.method, request.path, s3err.code, err.message)
        response = error_response(request, s3err)
    except web.HTTPException as exc:
        response = error_response(request, _http_exception_error(exc))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = error_response(request, S3Error("InternalError"))
    if not response.prepared:
        response.headers.setdefault("x-amz-request-id", _request_id(request))
        response.headers.setdefault("x-amz-id-2", _request_id(request))
        response.headers.setdefault("Server", "Plenilune")
    s3 = request.get(_CONTEXT)
    if s3 is None and (_is_door(request, "/healthz") or _is_door(request, "/metrics")):
        return response  # probes and scrapes are not S3 traffic
    operation = s3.endpoint.operation if s3 is not None else "Unknown"
    duration_s = time.perf_counter() - started
    request.app[metrics_key].observe(request, response, operation, duration_s)
    _log_access(request, response, operation, duration_s)
    return response


def _log_access(request: web.Request, response: web.StreamResponse, operation: str,
                duration_s: float) -> None:
    """One INFO line per S3 request. Only ``request.path``: the query string of a presigned
    URL holds its signature and credential, and no header (Authorization) is logged."""
    bytes_out = body_bytes(request, response)
    duration_ms = round(duration_s * 1000, 3)
    access_log.info("%s %s %s %d %.1fms %dB", operation, request.method, request.path,
                    response.status, duration_ms, bytes_out,
                    extra={"operation": operation, "method": request.method,
                           "path": request.path, "status": response.status,
                           "duration_ms": duration_ms,
                           "bytes_in": request.content.total_bytes, "bytes_out": bytes_out})


def _http_exception_error(exc: web.HTTPException) -> S3Error:
    if exc.status == 413:
        return S3Error("EntityTooLarge")
    if exc.status == 405:
        return S3Error("MethodNotAllowed")
    if exc.status < 500:
        return S3Error("InvalidRequest", exc.reason)
    return S3Error("InternalError")
