"""Throughput over the last minutes, for the dashboard's chart: a ring buffer of samples.

Rule 1: every ``SAMPLE_INTERVAL_S`` each nameserver (duties lease or not: the dashboard of
any of them shows a chart) records two running totals: bytes allocated to writers through
this nameserver, and bytes copied by repair cluster-wide (kept in Redis). The chart shows
their rates between consecutive samples. ``KEEP`` samples are kept: memory is constant.
Rule 2: a sample costs a Redis PING (timed: ``plen_nameserver_redis_ping_seconds``) and one
HGETALL; a Redis outage skips samples and leaves a gap, never stops the sampler.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

from nameserver.metrics import NameserverMetrics
from nameserver.store.redis_store import RedisStore
from plen.workers import WorkResult

SAMPLE_INTERVAL_S = 5.0
KEEP = 73  # 72 intervals: six minutes


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # seconds since the epoch
    allocated_bytes: float
    repaired_bytes: float


class Throughput:
    def __init__(self, metrics: NameserverMetrics, store: RedisStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.store = store
        self.clock = clock
        self.samples: collections.deque[Sample] = collections.deque(maxlen=KEEP)

    async def run_once(self) -> WorkResult:
        await self.metrics.time_redis(self.store)
        repaired = (await self.store.repair_stats()).get("repaired_bytes", 0.0)
        allocated = self.metrics.registry.get_sample_value(
            "plen_nameserver_allocated_bytes_total") or 0.0
        self.samples.append(Sample(self.clock(), allocated, repaired))
        return WorkResult.IDLE

    def rates(self) -> list[dict[str, float]]:
        """Per interval: when it ended and the bytes per second written and repaired."""
        out = []
        pairs = list(self.samples)
        for before, after in zip(pairs, pairs[1:]):
            span = after.at - before.at
            if span <= 0:
                continue
            out.append({
                "at": round(after.at, 3),
                "written_bytes_per_s": max(after.allocated_bytes - before.allocated_bytes, 0)
                / span,
                # Another nameserver may restart the Redis total from an old copy: no negatives.
                "repaired_bytes_per_s": max(after.repaired_bytes - before.repaired_bytes, 0)
                / span,
            })
        return out
