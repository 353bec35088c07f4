"""Cluster API (blockstores; private network): register, heartbeat and block report, cluster
secret only, checked before the body is even parsed (a caller without it learns nothing of
the message shapes)."""

from __future__ import annotations

from aiohttp import web

from nameserver.appkeys import membership_key, metrics_key, settings_key
from plen.service import check_cluster_secret, wire_route
from plen.wire.cluster import BlockReportRequest, HeartbeatRequest, RegisterRequest


def check_secret(request: web.Request) -> None:
    check_cluster_secret(request, request.app[settings_key].cluster_secret)


async def register(request: web.Request, req: RegisterRequest):
    resp = await request.app[membership_key].register(req)
    request.app[metrics_key].registrations.inc()
    return resp


async def heartbeat(request: web.Request, req: HeartbeatRequest):
    resp = await request.app[membership_key].heartbeat(req)
    request.app[metrics_key].heartbeats.labels("reregister" if resp.reregister else "ok").inc()
    return resp


async def block_report(request: web.Request, req: BlockReportRequest):
    return await request.app[membership_key].block_report(req)


def _secret_first(handler):
    async def guarded(request: web.Request) -> web.StreamResponse:
        check_secret(request)
        return await handler(request)
    return guarded


def add_routes(app: web.Application) -> None:
    for cls, fn in ((RegisterRequest, register), (HeartbeatRequest, heartbeat),
                    (BlockReportRequest, block_report)):
        app.router.add_post(f"/cluster/{cls.ENDPOINT}", _secret_first(wire_route(cls, fn)))
