"""Pacing: one byte rate shared by every task that draws on it (a token bucket).

Rule 1: ``reserve(n)`` is arithmetic on an injected clock, no I/O: it takes ``n`` bytes at
once, going into debt if need be, and answers how long the caller must wait before it uses
more. The debt is shared, so callers drawing at the same time queue up behind each other and
together stay at the rate: the cap belongs to the bucket, not to each caller.
Rule 2: idle time earns credit, but at most ``burst_s`` seconds' worth: a sleep that
overshoots is not lost, and a lull cannot become a burst far past the cap.
Rule 3: a rate of 0 means unlimited: nothing is counted and nobody waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

DEFAULT_BURST_S = 0.1


class TokenBucket:
    def __init__(self, rate_bytes_per_s: float, *, burst_s: float = DEFAULT_BURST_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not (0 <= rate_bytes_per_s < float("inf") and 0 <= burst_s < float("inf")):
            raise ValueError("rate and burst must be finite and not negative")
        self.rate_bytes_per_s = rate_bytes_per_s
        self._capacity = rate_bytes_per_s * burst_s
        self._tokens = self._capacity  # a fresh bucket may burst at once
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()

    def reserve(self, nbytes: int) -> float:
        """Take ``nbytes`` now; the seconds to wait before using any more (0: none)."""
        if not self.rate_bytes_per_s:
            return 0.0
        now = self._clock()
        earned = (now - self._updated) * self.rate_bytes_per_s
        self._tokens = min(self._capacity, self._tokens + earned) - nbytes
        self._updated = now
        return max(0.0, -self._tokens / self.rate_bytes_per_s)

    async def take(self, nbytes: int) -> None:
        """``reserve`` and wait out the delay it asks for."""
        delay = self.reserve(nbytes)
        if delay > 0:
            await self._sleep(delay)
