"""Admin doors: run a duty once, now, for tests and operators. POST only.

Rule 1: the cluster secret is required, checked as for ``DELETE /blocks`` (``api.py``
Rule 1): 401 ``unauthorized`` without it.
Rule 2: a door answers only once what it started is over, so its caller can check the
outcome at once: a whole scrub pass (paced as ever, ``scrubber.py`` Rule 2), a block report
that reached the nameserver, a heartbeat and every command it or anything before it started.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from blockstore.agent import AgentWorker
from blockstore.api import settings_key
from blockstore.scrubber import Scrubber
from plen.service import check_cluster_secret, json_response

agent_key = web.AppKey("agent", AgentWorker)
scrubber_key = web.AppKey("scrubber", Scrubber)

Door = Callable[[web.Application], Awaitable[dict[str, Any]]]


def add_routes(app: web.Application) -> None:
    for duty, door in (("scrub", scrub), ("block-report", block_report),
                       ("heartbeat", heartbeat)):
        app.router.add_post(f"/admin/{duty}/run-once", _guarded(door))


def _guarded(door: Door) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        check_cluster_secret(request, request.app[settings_key].cluster_secret)
        return json_response(await door(request.app))
    return handler


async def scrub(app: web.Application) -> dict[str, Any]:
    counts = await app[scrubber_key].run_pass()
    return {"checked": counts.checked, "corrupt": counts.corrupt}


async def block_report(app: web.Application) -> dict[str, Any]:
    sent = await app[agent_key].block_report_once()
    return {"blocks": sent.blocks, "commands": sent.commands}


async def heartbeat(app: web.Application) -> dict[str, Any]:
    agent = app[agent_key]
    resp = await agent.heartbeat_once()
    await agent.wait_commands()
    return {"commands": len(resp.commands)}
