"""The gateway's Prometheus metrics: every one is defined here, and ``/metrics`` renders them.

Rule 1: one request is counted once, after the response, by its AWS operation name (the
router's ``Endpoint.operation``; ``Unknown`` when routing itself failed) and its status class,
so 4xx (the client's fault) and 5xx (ours) stay apart.
Rule 2: bytes are body bytes: in = what was read from the request body (aws-chunked framing
included: it is what crossed the wire), out = what the response body carried (none for HEAD).
Rule 3: with several worker processes (``--workers``, plen/prefork.py) each worker counts in
its own files under one directory the parent made (prometheus-client's multiprocess mode),
and whichever worker answers ``/metrics`` sums every worker's files, so a scrape sees the
whole gateway whatever worker the kernel handed the connection to. The directory lives as
long as the parent and is removed when it exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# S3 latencies run from a cached HEAD (about a millisecond) to a multi-GiB upload.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0, 30.0, 60.0, 300.0)


@contextlib.contextmanager
def shared_across_workers() -> Iterator[Path]:
    """Switch this process to multiprocess mode, in a fresh directory removed on exit.

    Call it in the parent before any metric exists and before forking (Rule 3). The value
    class is chosen again here because prometheus-client reads the variable at import time,
    and something may have imported it already.
    """
    path = Path(tempfile.mkdtemp(prefix="plen-gateway-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    values.ValueClass = values.get_value_class()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class GatewayMetrics:
    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        labels = ["operation", "status_class"]
        self.requests = Counter("plen_gateway_requests", "S3 requests answered",
                                labels, registry=self.registry)
        self.latency = Histogram("plen_gateway_request_duration_seconds",
                                 "S3 request latency, to the last byte of the answer",
                                 labels, buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.bytes_in = Counter("plen_gateway_received_bytes", "Request body bytes read",
                                ["operation"], registry=self.registry)
        self.bytes_out = Counter("plen_gateway_sent_bytes", "Response body bytes sent",
                                 ["operation"], registry=self.registry)

    def observe(self, request: web.Request, response: web.StreamResponse, operation: str,
                seconds: float) -> None:
        status_class = f"{response.status // 100}xx"
        self.requests.labels(operation, status_class).inc()
        self.latency.labels(operation, status_class).observe(seconds)
        received = request.content.total_bytes
        if received:
            self.bytes_in.labels(operation).inc(received)
        sent = body_bytes(request, response)
        if sent:
            self.bytes_out.labels(operation).inc(sent)

    def render(self) -> web.Response:
        if self.multiprocess_dir is None:
            body = generate_latest(self.registry)
        else:  # every worker's files, not only this worker's counters (Rule 3)
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=str(self.multiprocess_dir))
            body = generate_latest(merged)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    if request.method == "HEAD":
        return 0
    if response.prepared:  # streamed by the handler: what it wrote
        return response.body_length
    body = getattr(response, "body", None)  # sent after the middleware: its length is known
    return len(body) if isinstance(body, (bytes, bytearray)) else 0
