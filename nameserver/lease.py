"""The Redis lease that decides which nameserver runs the background duties.

Several nameservers may share one Redis; repair, rebalance and GC must run in one of them
at a time. The holder renews well before the lease expires; if it dies, another takes over
after at most ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from nameserver.store.redis_store import RedisStore
from plen.wire.errors import WireError

log = logging.getLogger("nameserver.lease")


class Lease:
    def __init__(self, store: RedisStore, duty: str, ttl_s: float) -> None:
        self.store = store
        self.duty = duty
        self.ttl_s = ttl_s
        self.holder = secrets.token_hex(8)
        self.held = False

    async def renew_once(self) -> bool:
        try:
            held = await self.store.acquire_lease(self.duty, self.holder, self.ttl_s)
        except WireError as err:
            log.warning("lease %s: %s", self.duty, err.message)
            held = False
        if held != self.held:
            log.info("lease %s %s", self.duty, "taken" if held else "lost")
        self.held = held
        return held

    async def run_forever(self) -> None:
        while True:
            await self.renew_once()
            await asyncio.sleep(self.ttl_s / 3)
