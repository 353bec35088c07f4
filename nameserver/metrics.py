"""The nameserver's Prometheus metrics: every one is defined here, served at ``/metrics``.

Rule 1: the cluster's state (servers by state, capacity, blocks and bytes below the
replication factor, repair progress) is not counted here a second time: each scrape takes
``Servers.cluster_status()`` through ``StatusCache`` (the very numbers ``plen status`` and
the dashboard show, computed at most once per ``STATUS_MAX_AGE_S`` however many ask) and
sets the gauges from it.
Rule 2: counters of what this process did (heartbeats received, bytes allocated to writers,
blocks and bytes its repair worker saw land) are per nameserver, as Prometheus expects;
sum them over nameservers. ``plen_nameserver_cluster_repaired_bytes`` is the cluster-wide
total kept in Redis by whichever nameserver holds the duties lease.
Rule 3: Redis latency is a PING timed at every scrape and every dashboard sample: cheap, and
it measures what every store call pays on top of its own work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from nameserver.repair import RepairWorker
from nameserver.servers import StatusCache
from nameserver.store.redis_store import RedisStore
from plen.wire.namespace import ClusterStatusResponse

STATES = ("live", "draining", "drained", "dead")
REDIS_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 1.0)


class NameserverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = r = registry
        self.heartbeats = Counter("plen_nameserver_heartbeats",
                                  "Blockstore heartbeats received, by answer (ok, reregister)",
                                  ["result"], registry=r)
        self.registrations = Counter("plen_nameserver_registrations",
                                     "Blockstore registrations received", registry=r)
        self.allocated_bytes = Counter(
            "plen_nameserver_allocated_bytes",
            "Bytes of blocks allocated to writers (each is stored replication-factor times)",
            registry=r)
        self.redis_ping = Histogram("plen_nameserver_redis_ping_seconds",
                                    "Round trip of a Redis PING", buckets=REDIS_BUCKETS_S,
                                    registry=r)
        self.servers = Gauge("plen_nameserver_servers", "Blockstores by state", ["state"],
                             registry=r)
        self.capacity = Gauge("plen_nameserver_capacity_bytes",
                              "Capacity of the blockstores that are not dead", registry=r)
        self.used = Gauge("plen_nameserver_used_bytes",
                          "Bytes used on the blockstores that are not dead", registry=r)
        self.blocks = Gauge("plen_nameserver_blocks", "Blocks in the block map", registry=r)
        self.blocks_below_rf = Gauge("plen_nameserver_blocks_below_rf",
                                     "Blocks with fewer live replicas than the replication "
                                     "factor", registry=r)
        self.bytes_below_rf = Gauge("plen_nameserver_bytes_below_rf",
                                    "Bytes of the blocks below the replication factor",
                                    registry=r)
        self.missing_blocks = Gauge("plen_nameserver_missing_blocks",
                                    "Blocks with no live replica at all", registry=r)
        self.repair_left = Gauge("plen_nameserver_repair_left_bytes",
                                 "Bytes repair still has to copy", registry=r)
        self.repair_rate = Gauge("plen_nameserver_repair_rate_bytes_per_second",
                                 "Repair throughput over the current burst", registry=r)
        self.cluster_repaired = Gauge("plen_nameserver_cluster_repaired_bytes",
                                      "Bytes copied by repair since the cluster began "
                                      "(all nameservers, from Redis)", registry=r)

    def watch_repair(self, repair: Callable[[], RepairWorker | None]) -> None:
        self.registry.register(RepairCollector(repair))

    async def time_redis(self, store: RedisStore) -> None:
        started = time.perf_counter()
        await store.ping()
        self.redis_ping.observe(time.perf_counter() - started)

    def set_status(self, status: ClusterStatusResponse) -> None:
        counts = dict.fromkeys(STATES, 0)
        for server in status.servers:
            counts[server.state] = counts.get(server.state, 0) + 1
        for state, n in counts.items():
            self.servers.labels(state).set(n)
        self.capacity.set(status.capacity_bytes)
        self.used.set(status.used_bytes)
        self.blocks.set(status.blocks)
        self.blocks_below_rf.set(status.under_replicated_blocks)
        self.bytes_below_rf.set(status.bytes_below_rf)
        self.missing_blocks.set(status.missing_blocks)
        self.repair_left.set(status.repair_bytes_left)
        self.repair_rate.set(status.repair_rate_bytes_per_s)
        self.cluster_repaired.set(status.repaired_bytes)

    async def refresh(self, store: RedisStore, status: StatusCache) -> None:
        """Before a scrape: the gauges from the current cluster status (Rule 1)."""
        await self.time_redis(store)
        self.set_status(await status.get())


class RepairCollector(Collector):
    """What this process's repair worker saw land (it counts them itself; Rule 2)."""

    def __init__(self, repair: Callable[[], RepairWorker | None]) -> None:
        self._repair = repair

    def collect(self) -> Iterator[Metric]:
        worker = self._repair()
        if worker is None:
            return
        yield CounterMetricFamily("plen_nameserver_repaired_blocks",
                                  "Block copies made by this nameserver's repair worker",
                                  value=worker.repaired_blocks)
        yield CounterMetricFamily("plen_nameserver_repaired_bytes",
                                  "Bytes copied by this nameserver's repair worker",
                                  value=worker.repaired_bytes)
