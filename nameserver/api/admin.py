"""Admin API: run-once doors for every background duty (tests and operators), and whether
this process holds the duties lease. Cluster secret only."""

from __future__ import annotations

from aiohttp import web

from nameserver.api.cluster import check_secret
from nameserver.appkeys import (
    gc_key,
    lease_key,
    membership_key,
    rebalance_key,
    repair_key,
    store_key,
)
from plen.service import json_response

DUTIES = {"gc": gc_key, "membership": membership_key, "repair": repair_key,
          "rebalance": rebalance_key}


def _run_once(key: web.AppKey):
    async def door(request: web.Request) -> web.Response:
        check_secret(request)
        result = await request.app[key].run_once()
        return json_response({"result": result.value})
    return door


async def lease(request: web.Request) -> web.Response:
    """``me``: this process's lease identity; ``holder``: whose it is now (any process)."""
    check_secret(request)
    mine = request.app[lease_key]
    holder = await request.app[store_key].lease_holder(mine.duty)
    return json_response({"held": mine.held and holder == mine.holder, "holder": holder,
                          "me": mine.holder})


def add_routes(app: web.Application) -> None:
    for name, key in DUTIES.items():
        app.router.add_post(f"/admin/{name}/run-once", _run_once(key))
    app.router.add_post("/admin/lease", lease)
