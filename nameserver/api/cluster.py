"""Cluster API (blockstores; private network): register, heartbeat and block report, cluster
secret only."""

from __future__ import annotations

from aiohttp import web

from nameserver.appkeys import membership_key, metrics_key, settings_key
from plen.service import check_cluster_secret, wire_route
from plen.wire.cluster import BlockReportRequest, HeartbeatRequest, RegisterRequest


def check_secret(request: web.Request) -> None:
    check_cluster_secret(request, request.app[settings_key].cluster_secret)


async def register(request: web.Request, req: RegisterRequest):
    check_secret(request)
    resp = await request.app[membership_key].register(req)
    request.app[metrics_key].registrations.inc()
    return resp


async def heartbeat(request: web.Request, req: HeartbeatRequest):
    check_secret(request)
    resp = await request.app[membership_key].heartbeat(req)
    request.app[metrics_key].heartbeats.labels("reregister" if resp.reregister else "ok").inc()
    return resp


async def block_report(request: web.Request, req: BlockReportRequest):
    check_secret(request)
    return await request.app[membership_key].block_report(req)


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"/cluster/{RegisterRequest.ENDPOINT}", wire_route(RegisterRequest, register))
    app.router.add_post(f"/cluster/{HeartbeatRequest.ENDPOINT}",
                        wire_route(HeartbeatRequest, heartbeat))
    app.router.add_post(f"/cluster/{BlockReportRequest.ENDPOINT}",
                        wire_route(BlockReportRequest, block_report))
