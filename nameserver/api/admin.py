"""Admin API: run-once doors for every background duty (tests and operators), secret only."""

from __future__ import annotations

from aiohttp import web

from nameserver.api.cluster import check_secret
from nameserver.appkeys import gc_key, membership_key
from plen.service import json_response


async def gc_run_once(request: web.Request) -> web.Response:
    check_secret(request)
    result = await request.app[gc_key].run_once()
    return json_response({"result": result.value})


async def membership_run_once(request: web.Request) -> web.Response:
    check_secret(request)
    result = await request.app[membership_key].run_once()
    return json_response({"result": result.value})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/gc/run-once", gc_run_once)
    app.router.add_post("/admin/membership/run-once", membership_run_once)
