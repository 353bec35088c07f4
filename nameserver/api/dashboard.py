"""The web dashboard: ``GET /dashboard`` (a page, its script and style, shipped as package
data in ``nameserver/dashboard/static/``) and ``GET /dashboard/data`` (JSON the page polls).

Rule 1: read-only and public, like the client API's ``cluster-status`` that ``plen status``
calls without credentials: it shows what any client of the nameserver may already ask for
(servers, their URLs and usage, bucket names and sizes) and changes nothing. Where that is
too much, keep the nameserver's port on the private network (as docker-compose.yml does) and
reach the page through a tunnel or an authenticating proxy.
Rule 2: no external network: the page loads nothing but its own three files; the chart is
drawn by its own script as inline SVG.
Rule 3: what the page shows is computed elsewhere and reused: the cluster status through
``StatusCache`` (shared with ``/metrics``), the throughput samples (``samples.py``) and the
bucket counts (``buckets.py``, bounded and cached).
"""

from __future__ import annotations

import importlib.resources

from aiohttp import web

from nameserver.appkeys import (
    bucket_sizes_key,
    settings_key,
    status_cache_key,
    throughput_key,
)
from nameserver.dashboard.samples import SAMPLE_INTERVAL_S
from plen.service import json_response
from plen.wire import codec

REFRESH_S = 3.0  # how often the page polls /dashboard/data
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def _asset(name: str) -> bytes:
    static = importlib.resources.files("nameserver.dashboard").joinpath("static")
    return static.joinpath(name).read_bytes()


async def page(request: web.Request) -> web.Response:
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:  # only our own files: no path ever reaches the file system
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=ASSETS[name], charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def data(request: web.Request) -> web.Response:
    app = request.app
    status = await app[status_cache_key].get()
    return json_response({
        "status": codec.encode(status),
        "buckets": await app[bucket_sizes_key].get(),
        "throughput": app[throughput_key].rates(),
        "sample_interval_s": SAMPLE_INTERVAL_S,
        "refresh_s": REFRESH_S,
        "dead_after_s": app[settings_key].dead_after_s,
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/data", data)
    app.router.add_get("/dashboard/static/{name}", asset)
