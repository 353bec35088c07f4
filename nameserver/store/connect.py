"""Opening the metadata store's Redis from a URL.

``redis://``, ``rediss://`` and ``unix://`` URLs are redis-py's own. For a Redis watched by
Sentinel (high availability), a URL names the sentinels and the monitored service::

    redis+sentinel://[:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/SERVICE[/DB]

(``rediss+sentinel`` for TLS to the master). The nameserver then asks the sentinels where
the current master is and asks again after a failover, so every nameserver follows the
promotion without a restart. PASSWORD is the master's; the sentinels are reached without
one. PORT defaults to 26379, Sentinel's port, and DB to 0.
"""

from __future__ import annotations

from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # -> TLS to the master
SENTINEL_PORT = 26379
_OPTIONS = {"decode_responses": False, "health_check_interval": 30}


class StoreURLError(ValueError):
    """A metadata store URL that cannot be used, with the reason."""


def check_url(url: str) -> None:
    """Raise ``StoreURLError`` for a URL ``open_redis`` cannot use (nothing is contacted)."""
    try:
        open_redis(url)
    except ValueError as err:  # redis-py's own complaints about a plain URL too
        raise StoreURLError(str(err)) from None


def open_redis(url: str) -> aioredis.Redis:
    """A client for ``url``; connections are made on first use."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        return aioredis.Redis.from_url(url, **_OPTIONS)
    userinfo, _, rest = rest.rpartition("@")
    netloc, _, path = rest.partition("/")
    password = unquote(userinfo.partition(":")[2]) if userinfo else ""
    sentinels = [_host_port(part) for part in netloc.split(",") if part]
    service, _, db = path.strip("/").partition("/")
    if not sentinels or not service:
        raise StoreURLError(f"a Sentinel URL names sentinels and a service: "
                            f"redis+sentinel://HOST[:PORT][,...]/SERVICE[/DB], not {url!r}")
    if db and not db.isdigit():
        raise StoreURLError(f"the database of {url!r} is not a number")
    sentinel = Sentinel(sentinels, socket_timeout=5)
    return sentinel.master_for(unquote(service), db=int(db or 0), password=password or None,
                               ssl=SENTINEL_SCHEMES[scheme.lower()], **_OPTIONS)


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host, port = text, ""
    if port and not port.isdigit():
        raise StoreURLError(f"sentinel {text!r}: the port is not a number")
    return host.strip("[]"), int(port or SENTINEL_PORT)
