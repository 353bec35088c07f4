"""make_app: the nameserver's routes, store and background duties.

The process is stateless; everything lives in Redis. Background duties (membership checks,
repair, rebalance and GC) run only while this process holds the duties lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from aiohttp import web

from nameserver.access import Access
from nameserver.api import admin, client, cluster, dashboard
from nameserver.appkeys import (
    access_service_key,
    authorizer_key,
    bucket_sizes_key,
    fsck_key,
    gc_key,
    lease_key,
    membership_key,
    metrics_key,
    namespace_key,
    rebalance_key,
    repair_key,
    servers_key,
    settings_key,
    status_cache_key,
    store_key,
    throughput_key,
    uploads_key,
)
from nameserver.authz import Authorizer
from nameserver.dashboard.buckets import BucketSizes
from nameserver.dashboard.samples import SAMPLE_INTERVAL_S, Throughput
from nameserver.fsck import Fsck
from nameserver.gc import GCWorker
from nameserver.lease import Lease
from nameserver.membership import Membership
from nameserver.metrics import NameserverMetrics
from nameserver.moves import Moves
from nameserver.namespace import Namespace
from nameserver.rebalance import Rebalancer
from nameserver.repair import RepairWorker
from nameserver.servers import Servers, StatusCache
from nameserver.settings import Settings
from nameserver.store.redis_store import RedisStore
from nameserver.uploads import Uploads
from plen.service import base_app, metrics_refresh_key, registry_key
from plen.workers import run_forever


def make_app(settings: Settings, *, store: RedisStore | None = None) -> web.Application:
    app = base_app("nameserver", client_max_size=64 * 1024 * 1024)
    app[settings_key] = settings
    metrics = app[metrics_key] = NameserverMetrics(app[registry_key])
    metrics.watch_repair(lambda: app.get(repair_key))
    app[metrics_refresh_key] = _refresh_metrics
    app.cleanup_ctx.append(_store_context(store))
    app.cleanup_ctx.append(_workers_context)
    app.cleanup_ctx.append(_sampler_context)
    client.add_routes(app)
    cluster.add_routes(app)
    admin.add_routes(app)
    dashboard.add_routes(app)
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
        access = app[access_service_key] = Access(store, settings, app[namespace_key])
        app[authorizer_key] = Authorizer(access, store)
        app[uploads_key] = Uploads(store, settings)
        app[gc_key] = GCWorker(store)
        moves = Moves()
        app[repair_key] = RepairWorker(store, settings, membership, moves)
        app[rebalance_key] = Rebalancer(store, settings, membership, moves)
        app[servers_key] = servers = Servers(store, settings, membership)
        app[status_cache_key] = StatusCache(servers)
        app[throughput_key] = Throughput(app[metrics_key], store)
        app[bucket_sizes_key] = BucketSizes(app[namespace_key])
        app[fsck_key] = Fsck(store, settings, membership)
        app[lease_key] = Lease(store, "duties", settings.lease_ttl_s)
        yield
        if injected is None:
            await store.close()

    return ctx


async def _workers_context(app: web.Application) -> AsyncIterator[None]:
    settings, lease = app[settings_key], app[lease_key]
    duties = [("membership", app[membership_key].run_once, settings.heartbeat_interval_s),
              ("repair", app[repair_key].run_once, settings.repair_interval_s),
              ("gc", app[gc_key].run_once, settings.gc_interval_s)]
    if settings.rebalance_interval_s > 0:
        duties.append(("rebalance", app[rebalance_key].run_once, settings.rebalance_interval_s))
    tasks = [asyncio.create_task(lease.run_forever())]
    tasks += [asyncio.create_task(run_forever(name, run_once, interval, lambda: lease.held))
              for name, run_once, interval in duties]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _refresh_metrics(app: web.Application) -> None:
    await app[metrics_key].refresh(app[store_key], app[status_cache_key])


async def _sampler_context(app: web.Application) -> AsyncIterator[None]:
    # Every nameserver samples, lease or not: the dashboard of any of them draws the chart.
    task = asyncio.create_task(run_forever("throughput samples", app[throughput_key].run_once,
                                           SAMPLE_INTERVAL_S))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
