"""The gateway's HTTP connection handling: S3 errors and deadlines below the application.

aiohttp's parser refuses a malformed request (garbage request line, a header or request line
over the limit, too many headers) before any handler runs, and answers with ``text/plain``.
Here those answers are S3's XML errors instead, and a slow client cannot hold a connection:

Rule 1: whatever aiohttp refuses on its own leaves as an S3 ``<Error>`` with a request id and
closes the connection: an oversized request line or header section is
RequestHeaderSectionTooLarge, a bad URL InvalidURI, anything else the parser refuses BadRequest
(all 400); a failure outside the S3 middleware is InternalError.
Rule 2 (slowloris): a request's headers must be complete within ``header_timeout`` seconds of
its first byte; otherwise the client gets RequestTimeout (400) and the connection is closed.
Rule 3 (idle): a connection with no request in flight is closed after ``keepalive_timeout``
seconds (aiohttp's keep-alive timer, from the gateway's ``idle_timeout_s``; it also bounds a
connection that never sends a byte).
Rule 4 (stalled body): gateway/s3/payload.py gives up on a body that sends nothing for
``body_timeout_s`` with RequestTimeout and sets ``CLOSE_AFTER_RESPONSE`` on the request; the
connection is then closed as soon as that response is written, without waiting for the rest
of a body that is not coming.
Rule 5 (stalled reader): a client that reads nothing of a response for ``send_timeout``
seconds (the same ``body_timeout_s``) while the server has bytes waiting for it is cut off:
the connection is aborted and the handler's write raises ConnectionResetError, so a GET whose
client stopped reading holds neither a connection nor a block read forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.s3.errors import S3Error, error_response_body
from gateway.settings import Settings
from plen.wire.request_id import new_request_id

log = logging.getLogger("gateway.protocol")

# A request marked with this key (True) has its connection closed once its response is out.
CLOSE_AFTER_RESPONSE: Any = (web.RequestKey("close_after_response", bool)
                             if hasattr(web, "RequestKey")  # aiohttp >= 3.12
                             else "plen_close_after_response")


def parse_error(status: int, exc: BaseException | None) -> S3Error:
    """The S3 error for a request aiohttp refused before any handler ran."""
    if status >= 500:
        return S3Error("InternalError")
    if isinstance(exc, http_exceptions.LineTooLong) or (
            isinstance(exc, http_exceptions.BadHttpMessage)
            and "too many headers" in str(exc.message).lower()):
        return S3Error("RequestHeaderSectionTooLarge")
    if isinstance(exc, http_exceptions.InvalidURLError):
        return S3Error("InvalidURI")
    return S3Error("BadRequest")


def raw_error_response(err: S3Error, request_id: str) -> bytes:
    """A whole HTTP/1.1 response with ``err``'s XML, for when there is no request object."""
    body = error_response_body(err, resource="", request_id=request_id)
    head = (f"HTTP/1.1 {err.status} Bad Request\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amz-request-id: {request_id}\r\n"
            f"x-amz-id-2: {request_id}\r\n"
            "Server: Plenilune\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body


class S3RequestHandler(RequestHandler):
    """aiohttp's connection protocol with S3 errors and a header deadline (Rules 1, 2, 4)."""

    __slots__ = ("_header_timeout", "_header_timer", "_send_timeout")

    def __init__(self, manager: web.Server, *, header_timeout: float | None = None,
                 send_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timeout = send_timeout

    # -- Rule 5: a client that stops reading

    async def _drain_helper(self) -> None:
        if not self._send_timeout:
            return await super()._drain_helper()
        try:
            async with asyncio.timeout(self._send_timeout):
                await super()._drain_helper()
        except TimeoutError:
            log.info("aborting a connection whose client read nothing for %.1fs",
                     self._send_timeout)
            if self.transport is not None:
                self.transport.abort()
            raise ConnectionResetError("the client stopped reading") from None

    # -- Rule 2: the header deadline

    def _waiting_for_request(self) -> bool:
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Bytes that arrived while waiting for a request and did not complete one: a
        # request's headers have begun. Bytes of a body arrive while a handler runs (no
        # waiter), so they never start the clock.
        if (self._header_timeout and self._header_timer is None
                and self.transport is not None and self._waiting_for_request()):
            self._header_timer = self._loop.call_later(self._header_timeout,
                                                       self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport is None or self._force_close or not self._waiting_for_request():
            return
        log.info("closing a connection whose request headers took over %.1fs",
                 self._header_timeout)
        self.transport.write(raw_error_response(S3Error("RequestTimeout"), new_request_id()))
        self.force_close()

    async def _handle_request(self, request: BaseRequest, start_time: float | None,
                              request_handler: Callable[..., Any]) -> Any:
        self._cancel_header_timer()
        return await super()._handle_request(request, start_time, request_handler)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    # -- Rule 4: close after a RequestTimeout

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        if request.get(CLOSE_AFTER_RESPONSE):
            # The response is in the transport's buffer; close() sends it, then closes.
            self.force_close()
        return result

    # -- Rule 1: S3 errors for what the parser refused

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response "
                                  "with the error message")
        err = parse_error(status, exc)
        if isinstance(exc, ConnectionError):
            log.debug("the client went away mid-request: %r", exc)  # no one to answer
        elif err.status >= 500:
            log.error("error handling a request", exc_info=exc)
        else:
            log.debug("refused a request aiohttp could not parse: %s", exc)
        request_id = new_request_id()
        body = error_response_body(err, resource="", request_id=request_id)
        resp = web.Response(status=err.status, body=body, content_type="application/xml",
                            headers={"x-amz-request-id": request_id, "x-amz-id-2": request_id,
                                     "Server": "Plenilune"})
        resp.force_close()
        return resp


class S3Server(web.Server):
    """Makes an ``S3RequestHandler`` per connection."""

    header_timeout: float | None = None
    send_timeout: float | None = None

    def __call__(self) -> RequestHandler:
        return S3RequestHandler(self, loop=self._loop, header_timeout=self.header_timeout,
                                send_timeout=self.send_timeout, **self._kwargs)


class S3AppRunner(web.AppRunner):
    """An AppRunner whose connections are ``S3RequestHandler``s."""

    __slots__ = ("_header_timeout", "_send_timeout")

    def __init__(self, app: web.Application, *, header_timeout: float | None,
                 send_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout
        self._send_timeout = send_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Application._make_handler builds a plain Server with the app's handler arguments;
        # only the connection class changes.
        if type(server) is not web.Server:
            raise TypeError(f"unexpected aiohttp server class {type(server)!r}")
        server.__class__ = S3Server
        assert isinstance(server, S3Server)
        server.header_timeout = self._header_timeout
        server.send_timeout = self._send_timeout
        return server


def runner_factory(settings: Settings) -> Callable[[web.Application], web.BaseRunner]:
    """For ``plen.service.run(runner=...)``: the gateway's runner with its deadlines."""

    def make(app: web.Application) -> web.BaseRunner:
        return S3AppRunner(app, header_timeout=settings.header_timeout_s,
                           send_timeout=settings.body_timeout_s,
                           keepalive_timeout=settings.idle_timeout_s,
                           access_log=None, handle_signals=False)

    return make
