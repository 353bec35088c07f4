"""Prometheus metrics of every daemon, read from their real ``/metrics`` while boto3 and
signals drive a real cluster. Every assertion compares a scrape after the action with one
before it, so a counter that does not move fails."""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import signal
from collections.abc import Callable, Iterator

import psutil
import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from nameserver.store.embedded import free_port
from plen import tokens
from plen.checksum import crc32c
from plen.wire.blocks import CRC32C_HEADER, PIPELINE_HEADER, TOKEN_HEADER
from tests.integration.harness import Cluster, http_request

WORKERS = 3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of ``url``/metrics, keyed by name and labels."""
    status, body = http_request("GET", url.rstrip("/") + "/metrics")
    assert status == 200, body[:300]
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` that carries at least ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def scrape_until(cluster: Cluster, url: str, predicate: Callable[[Samples], bool], what: str,
                 timeout: float = 20.0) -> Samples:
    """The first scrape of ``url`` that satisfies ``predicate``."""
    def check() -> Samples | None:
        now = scrape(url)
        return now if predicate(now) else None
    return cluster.wait_for(check, timeout, what, interval=0.25)


def blockstores_total(cluster: Cluster, name: str, **labels: str) -> float:
    return sum(total(scrape(cluster.url(bs)), name, **labels)
               for bs in cluster.blockstore_names if cluster.is_running(bs))


# -------------------------------------------------------------------------------- gateway


@pytest.fixture(scope="module")
def gateway_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Several workers: /metrics must show the whole gateway whichever worker answers it.
    with Cluster(tmp_path_factory.mktemp("metrics"), gateway=True,
                 gateway_args=["--workers", str(WORKERS)]) as cluster:
        yield cluster


def test_gateway_counts_requests_by_operation_with_4xx_apart(gateway_cluster: Cluster) -> None:
    s3 = gateway_cluster.s3_client()
    body = os.urandom(50_000)
    before = scrape(gateway_cluster.gateway_url)
    s3.create_bucket(Bucket="counted")
    for i in range(3):
        s3.put_object(Bucket="counted", Key=f"k{i}", Body=body)
    for i in range(2):
        assert s3.get_object(Bucket="counted", Key=f"k{i}")["Body"].read() == body
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket="counted", Key="absent")
    after = scrape(gateway_cluster.gateway_url)

    requests = "plen_gateway_requests_total"
    assert delta(after, before, requests, operation="CreateBucket", status_class="2xx") == 1
    assert delta(after, before, requests, operation="PutObject", status_class="2xx") == 3
    assert delta(after, before, requests, operation="GetObject", status_class="2xx") == 2
    assert delta(after, before, requests, operation="GetObject", status_class="4xx") == 1
    assert delta(after, before, requests, operation="GetObject", status_class="5xx") == 0
    latency = "plen_gateway_request_duration_seconds_count"
    assert delta(after, before, latency, operation="PutObject", status_class="2xx") == 3
    assert delta(after, before, latency, operation="GetObject", status_class="4xx") == 1
    assert delta(after, before, "plen_gateway_request_duration_seconds_sum",
                 operation="PutObject", status_class="2xx") > 0
    # Bodies: what was uploaded came in, what was downloaded went out (plus framing).
    received = delta(after, before, "plen_gateway_received_bytes_total", operation="PutObject")
    assert 3 * len(body) <= received < 3 * len(body) + 3 * 4096
    assert delta(after, before, "plen_gateway_sent_bytes_total",
                 operation="GetObject") >= 2 * len(body)
    # Scrapes are not S3 traffic: nothing was counted for the first scrape.
    assert total(after, requests, operation="Unknown") == total(before, requests,
                                                                  operation="Unknown")


def _workers_with_counters(cluster: Cluster) -> set[int]:
    """Worker pids that have mapped a counter file of their own (multiprocess mode files
    are named after the pid that writes them)."""
    parent = psutil.Process(cluster.pid(Cluster.GATEWAY))
    found = set()
    for worker in parent.children():
        for mapping in worker.memory_maps():
            if re.search(rf"/counter_{worker.pid}\.db$", mapping.path):
                found.add(worker.pid)
    return found


def test_gateway_metrics_sum_every_worker(gateway_cluster: Cluster) -> None:
    s3 = gateway_cluster.s3_client(max_pool_connections=16)
    s3.create_bucket(Bucket="spread")
    before = scrape(gateway_cluster.gateway_url)
    count = 120

    def put(i: int) -> None:
        s3.put_object(Bucket="spread", Key=f"k{i}", Body=b"x")

    # Concurrent connections, so the kernel hands them to more than one worker.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))
    assert len(_workers_with_counters(gateway_cluster)) >= 2, "the work did not spread"
    # Each scrape is a new connection that any worker may take: all must see every request.
    for _ in range(6):
        after = scrape(gateway_cluster.gateway_url)
        assert delta(after, before, "plen_gateway_requests_total", operation="PutObject",
                     status_class="2xx") == count


# -------------------------------------------------------------------------------- blockstores


def test_blockstore_counts_block_writes_reads_heartbeats_and_scrubs(
        gateway_cluster: Cluster) -> None:
    cluster = gateway_cluster
    s3 = cluster.s3_client()
    s3.create_bucket(Bucket="blocks")
    size = 300_000  # one block (1 MiB blocks), far above the inline limit
    writes = blockstores_total(cluster, "plen_blockstore_block_writes_total", source="pipeline")
    written = blockstores_total(cluster, "plen_blockstore_block_written_bytes_total",
                                source="pipeline")
    reads = blockstores_total(cluster, "plen_blockstore_block_reads_total")
    read_bytes = blockstores_total(cluster, "plen_blockstore_block_read_bytes_total")
    beats = blockstores_total(cluster, "plen_blockstore_heartbeats_total", result="ok")

    s3.put_object(Bucket="blocks", Key="one", Body=os.urandom(size))
    # One block through a pipeline of three: each blockstore stored it once.
    assert blockstores_total(cluster, "plen_blockstore_block_writes_total",
                             source="pipeline") == writes + cluster.replication
    assert blockstores_total(cluster, "plen_blockstore_block_written_bytes_total",
                             source="pipeline") == written + cluster.replication * size
    assert len(s3.get_object(Bucket="blocks", Key="one")["Body"].read()) == size
    assert blockstores_total(cluster, "plen_blockstore_block_reads_total") == reads + 1
    assert blockstores_total(cluster, "plen_blockstore_block_read_bytes_total") \
        == read_bytes + size
    cluster.wait_for(lambda: blockstores_total(cluster, "plen_blockstore_heartbeats_total",
                                               result="ok") > beats + 3,
                     timeout=20, what="heartbeats to be counted")

    bs = cluster.blockstore_names[0]
    scrubbed = scrape(cluster.url(bs))
    status, counts = cluster.bs_admin(bs, "scrub/run-once")
    assert status == 200, counts
    after = scrape(cluster.url(bs))
    assert counts["checked"] >= 1
    assert delta(after, scrubbed, "plen_blockstore_scrubbed_blocks_total") == counts["checked"]
    assert delta(after, scrubbed, "plen_blockstore_scrubbed_bytes_total") >= size
    assert delta(after, scrubbed, "plen_blockstore_scrub_corrupt_blocks_total") == 0
    assert value(after, "plen_blockstore_blocks") == counts["checked"]


def test_blockstore_counts_a_failed_pipeline_write_by_code(gateway_cluster: Cluster) -> None:
    bs = gateway_cluster.blockstore_names[0]
    url = gateway_cluster.url(bs) + "/blocks/" + secrets.token_hex(16)
    block_id = url.rsplit("/", 1)[1]
    body = os.urandom(1000)
    before = scrape(gateway_cluster.url(bs))
    status, _ = http_request("PUT", url, body=body, headers={TOKEN_HEADER: "forged"})
    assert status == 403
    refused = scrape(gateway_cluster.url(bs))
    # Refused before the pipeline started: a 4xx of the blockstore, not a pipeline failure.
    assert delta(refused, before, "plen_blockstore_requests_total", status_class="4xx") == 1
    assert total(refused, "plen_blockstore_pipeline_failures_total") \
        == total(before, "plen_blockstore_pipeline_failures_total")

    # A real write whose next hop is gone: stored nowhere, counted as pipeline_failed.
    dead_hop = f"http://127.0.0.1:{free_port()}"
    token = tokens.sign(gateway_cluster.cluster_secret, block_id, "w", 60,
                        scope=tokens.write_scope(len(body), [dead_hop]))
    status, answer = http_request("PUT", url, body=body, headers={
        TOKEN_HEADER: token, CRC32C_HEADER: str(crc32c(body)), PIPELINE_HEADER: dead_hop})
    assert status == 502, answer
    failed = scrape(gateway_cluster.url(bs))
    assert delta(failed, refused, "plen_blockstore_pipeline_failures_total",
                 code="pipeline_failed") == 1
    assert delta(failed, refused, "plen_blockstore_block_writes_total", source="pipeline") == 0


# -------------------------------------------------------------------------------- nameserver


# Background repair and rebalance are off, so the at-risk gauges hold still until the test
# itself runs repair through its admin door.
@pytest.mark.cluster(blockstores=4, heartbeat_interval_s=0.5, dead_after_s=2.0, gateway=True,
                     gateway_args=["--workers", "1"],
                     nameserver_args=["--repair-interval", "3600", "--rebalance-interval", "0"])
def test_nameserver_gauges_follow_a_sigkilled_blockstore_and_its_repair(
        cluster: Cluster) -> None:
    ns = cluster.nameserver_url
    start = scrape(ns)
    assert value(start, "plen_nameserver_servers", state="live") == 4
    assert value(start, "plen_nameserver_servers", state="dead") == 0
    assert value(start, "plen_nameserver_capacity_bytes") > 0
    beats = value(start, "plen_nameserver_heartbeats_total", result="ok")
    scrape_until(cluster, ns, lambda now: value(now, "plen_nameserver_heartbeats_total",
                                                result="ok") > beats + 4,
                 "heartbeats received to be counted")

    s3 = cluster.s3_client()
    s3.create_bucket(Bucket="risk")
    size = 2 * 1024 * 1024 + 5  # three blocks of 1 MiB
    s3.put_object(Bucket="risk", Key="big", Body=os.urandom(size))
    # Cluster gauges come from a status computed at most every two seconds.
    written = scrape_until(cluster, ns, lambda now: value(now, "plen_nameserver_blocks") >= 3,
                           "the blocks gauge")
    assert delta(written, start, "plen_nameserver_allocated_bytes_total") >= size
    # The Redis PING is timed at every scrape.
    assert delta(written, start, "plen_nameserver_redis_ping_seconds_count") >= 1

    victim = cluster.blockstore_names[1]
    held = int(value(scrape(cluster.url(victim)), "plen_blockstore_blocks"))
    assert held >= 1  # three replicas over four servers: every one holds some of it
    cluster.kill(victim, signal.SIGKILL)

    # Both in one scrape: a status computed while membership moves the dead server's blocks
    # to the repair set can miss them for a moment (Servers._risk reads two Redis sets).
    dead = scrape_until(cluster, ns, lambda now: value(now, "plen_nameserver_servers",
                                                       state="dead") == 1
                        and value(now, "plen_nameserver_blocks_below_rf") == held,
                        "the dead-servers and below-RF gauges")
    assert value(dead, "plen_nameserver_servers", state="live") == 3
    assert value(dead, "plen_nameserver_bytes_below_rf") > 0
    assert value(dead, "plen_nameserver_capacity_bytes") \
        < value(start, "plen_nameserver_capacity_bytes")

    # Repair copies what the victim held onto the three survivors; the gauges come back.
    def repaired() -> Samples | None:
        cluster.admin("repair/run-once")
        now = scrape(ns)
        return now if (value(now, "plen_nameserver_blocks_below_rf") == 0
                       and value(now, "plen_nameserver_repaired_blocks_total") >= held) \
            else None

    healed = cluster.wait_for(repaired, timeout=60, what="repair to be counted", interval=0.5)
    assert value(healed, "plen_nameserver_repaired_bytes_total") > 0
    assert value(healed, "plen_nameserver_cluster_repaired_bytes") \
        >= value(healed, "plen_nameserver_repaired_bytes_total")
    assert value(healed, "plen_nameserver_bytes_below_rf") == 0
    copies = blockstores_total(cluster, "plen_blockstore_block_writes_total", source="copy")
    assert copies >= held
