"""make_app: the nameserver's routes, store and background duties.

The process is stateless; everything lives in Redis. Background duties (membership checks
and GC) run only while this process holds the duties lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from aiohttp import web

from nameserver.api import admin, client, cluster
from nameserver.appkeys import (
    gc_key,
    membership_key,
    namespace_key,
    settings_key,
    store_key,
    uploads_key,
)
from nameserver.gc import GCWorker
from nameserver.lease import Lease
from nameserver.membership import Membership
from nameserver.namespace import Namespace
from nameserver.settings import Settings
from nameserver.store.redis_store import RedisStore
from nameserver.uploads import Uploads
from plen.service import base_app
from plen.workers import run_forever


def make_app(settings: Settings, *, store: RedisStore | None = None) -> web.Application:
    app = base_app("nameserver", client_max_size=64 * 1024 * 1024)
    app[settings_key] = settings
    app.cleanup_ctx.append(_store_context(store))
    app.cleanup_ctx.append(_workers_context)
    client.add_routes(app)
    cluster.add_routes(app)
    admin.add_routes(app)
    return app


def _store_context(injected: RedisStore | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        store = injected or RedisStore(settings.redis_url)
        await store.ping()
        await store.root_id()
        membership = Membership(store, settings)
        app[store_key] = store
        app[membership_key] = membership
        app[namespace_key] = Namespace(store, settings, membership)
        app[uploads_key] = Uploads(store, settings)
        app[gc_key] = GCWorker(store)
        yield
        if injected is None:
            await store.close()

    return ctx


async def _workers_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    lease = Lease(app[store_key], "duties", settings.lease_ttl_s)
    tasks = [
        asyncio.create_task(lease.run_forever()),
        asyncio.create_task(run_forever("membership", app[membership_key].run_once,
                                        settings.heartbeat_interval_s, lambda: lease.held)),
        asyncio.create_task(run_forever("gc", app[gc_key].run_once, settings.gc_interval_s,
                                        lambda: lease.held)),
    ]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
