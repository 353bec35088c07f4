"""The blockstore application: the data path (``api``), the control path (``agent``), the
scrubber, their run-once doors (``admin``), and the one ``BlockDisk`` they share.

``make_app(settings, *, disk=None, http=None)``: collaborators may be injected (tests); an
injected disk that is already open, and an injected session, stay the caller's to close.
Resources start in ``cleanup_ctx`` (disk, HTTP session, workers) and stop in reverse order.
The agent waits for ``announce(app, url)``, called once the server is bound, to register.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from blockstore import admin, api
from blockstore.admin import agent_key, scrubber_key
from blockstore.agent import AgentWorker
from blockstore.api import disk_key, http_key, metrics_key, settings_key
from blockstore.disk import BlockDisk
from blockstore.metrics import BlockstoreMetrics
from blockstore.pacing import TokenBucket
from blockstore.scrubber import Scrubber
from blockstore.settings import Settings
from plen.client.http import session
from plen.service import base_app, registry_key
from plen.workers import run_forever

__all__ = ["make_app", "announce", "settings_key", "disk_key", "http_key", "agent_key",
           "scrubber_key"]

Context = Callable[[web.Application], AsyncIterator[None]]

# Block bodies are streamed from request.content; only a stray read() is bounded by this.
CLIENT_MAX_SIZE_BYTES = 64 * 1024


def make_app(settings: Settings, *, disk: BlockDisk | None = None,
             http: aiohttp.ClientSession | None = None) -> web.Application:
    app = base_app("blockstore", client_max_size=CLIENT_MAX_SIZE_BYTES)
    app[settings_key] = settings
    metrics = app[metrics_key] = BlockstoreMetrics(app[registry_key])
    metrics.watch(lambda: app.get(disk_key), lambda: app.get(scrubber_key))
    app.cleanup_ctx.append(_disk_context(disk))
    app.cleanup_ctx.append(_http_context(http))
    app.cleanup_ctx.append(_workers_context)
    api.add_routes(app)
    admin.add_routes(app)
    return app


def announce(app: web.Application, bound_url: str) -> None:
    """The server listens at ``bound_url``: tell the agent the URLs to register."""
    settings = app[settings_key]
    public_url = settings.public_url or bound_url
    app[agent_key].announce(public_url, settings.private_url or public_url)


def _disk_context(injected: BlockDisk | None) -> Context:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        disk = injected or BlockDisk(settings.data_dir, capacity_bytes=settings.capacity_bytes)
        owned = not disk.is_open
        if owned:
            await disk.open()
        app[disk_key] = disk
        yield
        if owned:
            await disk.close()
    return context


def _http_context(injected: aiohttp.ClientSession | None) -> Context:
    async def context(app: web.Application) -> AsyncIterator[None]:
        app[http_key] = injected or session()
        yield
        if injected is None:
            await app[http_key].close()
    return context


async def _workers_context(app: web.Application) -> AsyncIterator[None]:
    settings, disk = app[settings_key], app[disk_key]
    agent = app[agent_key] = AgentWorker(settings=settings, disk=disk, http=app[http_key],
                                        metrics=app[metrics_key])
    scrubber = app[scrubber_key] = Scrubber(
        disk, pace=TokenBucket(settings.scrub_rate_bytes_per_s))
    loops: list[Awaitable[None]] = [agent.run_forever()]
    if settings.scrub_interval_s > 0:
        loops.append(run_forever("scrubber", scrubber.run_once, settings.scrub_interval_s))
    tasks = [asyncio.create_task(loop) for loop in loops]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await agent.close()
