"""The blockstore's Prometheus metrics: every one is defined here, served at ``/metrics``.

Rule 1: counters the data and control paths move are incremented at one call each
(``api.py``: block reads, writes and failed pipeline writes; ``agent.py``: heartbeats,
copies and copy sources that failed); what the disk and the scrubber already count is read
at scrape time (``StateCollector``) instead of being counted twice.
Rule 2: labels have few values: a pipeline failure is labelled with its wire error code,
never with a block id or a URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from blockstore.disk import BlockDisk
from blockstore.scrubber import Scrubber
from plen.wire.errors import WireError


class BlockstoreMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # ``source``: "pipeline" (a client's write, or a hop of it) or "copy" (repair,
        # rebalance: fetched from another blockstore).
        self.block_writes = Counter("plen_blockstore_block_writes", "Blocks stored here",
                                    ["source"], registry=r)
        self.block_write_bytes = Counter("plen_blockstore_block_written_bytes",
                                         "Bytes of blocks stored here", ["source"], registry=r)
        self.block_reads = Counter("plen_blockstore_block_reads",
                                   "Block GETs answered (whole or ranged)", registry=r)
        self.block_read_bytes = Counter("plen_blockstore_block_read_bytes",
                                        "Bytes sent by block GETs", registry=r)
        self.pipeline_failures = Counter(
            "plen_blockstore_pipeline_failures",
            "Block PUTs that failed here, by wire error code (pipeline_failed: a later hop)",
            ["code"], registry=r)
        self.copy_source_failures = Counter(
            "plen_blockstore_copy_source_failures",
            "Copy sources that failed, so the copy was retried from the next one", registry=r)
        self.heartbeats = Counter("plen_blockstore_heartbeats",
                                  "Heartbeats sent to the nameserver, by result", ["result"],
                                  registry=r)

    def pipeline_failed(self, err: WireError) -> None:
        self.pipeline_failures.labels(err.code.wire_name).inc()

    def watch(self, disk: Callable[[], BlockDisk | None],
              scrubber: Callable[[], Scrubber | None]) -> None:
        """Report what the disk and scrubber count themselves (Rule 1); they are looked up
        at each scrape because they are made after the app."""
        self.registry.register(StateCollector(disk, scrubber))


class StateCollector(Collector):
    def __init__(self, disk: Callable[[], BlockDisk | None],
                 scrubber: Callable[[], Scrubber | None]) -> None:
        self._disk = disk
        self._scrubber = scrubber

    def collect(self) -> Iterator[Metric]:
        disk, scrubber = self._disk(), self._scrubber()
        if disk is not None and disk.is_open:
            yield GaugeMetricFamily("plen_blockstore_blocks", "Blocks held",
                                    value=disk.block_count)
            yield GaugeMetricFamily("plen_blockstore_used_bytes", "Bytes of blocks held",
                                    value=disk.used_bytes)
        if scrubber is not None:
            yield CounterMetricFamily("plen_blockstore_scrubbed_blocks",
                                      "Blocks whose CRC32C the scrubber verified",
                                      value=scrubber.checked)
            yield CounterMetricFamily("plen_blockstore_scrubbed_bytes",
                                      "Bytes the scrubber verified", value=scrubber.checked_bytes)
            yield CounterMetricFamily("plen_blockstore_scrub_corrupt_blocks",
                                      "Corrupt blocks the scrubber found (and quarantined)",
                                      value=scrubber.corrupt_found)
