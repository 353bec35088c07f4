"""Flip bytes in real block files: reads through S3 and plen still return the right bytes,
the corrupt replica is quarantined (kept under ``data/quarantine``) and replaced, and the
scrubber finds a corrupt block that nobody reads."""

from __future__ import annotations

import pytest

from tests.fault.faults import (
    Workload,
    block_file_ok,
    blocks_of,
    fault_options,
    flip_bytes,
    heal,
    item_path,
    quarantined,
    verify_all,
)
from tests.integration.harness import Cluster

MAX_READS = 40  # replicas are offered in random order: each read hits a given one with p=1/3


@pytest.mark.cluster(**fault_options())
def test_corrupt_replica_read_correctly_then_quarantined_and_replaced(
        cluster: Cluster, workload: Workload) -> None:
    workload.run(workload.writes("corrupt", 8, plen_every=4, min_size=2 * 2**20))
    assert len(workload.acked) == 8, workload.summary()
    heal(cluster)
    victim = workload.acked[("s3", "corrupt/obj-0000")]
    blocks = blocks_of(cluster, item_path(workload, victim))[:2]
    # One bad replica in each of the object's first two blocks, on different servers.
    corrupted = []
    for i, (bid, holders) in enumerate(blocks):
        name = holders[i % len(holders)]
        flip_bytes(cluster.block_path(name, bid))
        corrupted.append((bid, name))

    reads = 0
    while reads < MAX_READS and not all(quarantined(cluster, n, b) for b, n in corrupted):
        door = "s3" if reads % 2 == 0 else "plen"
        outcome = workload.read_one(victim, door=door)
        reads += 1
        assert outcome.kind == "ok", f"read #{reads} through {door}: {outcome.kind} {outcome.error}"
    for bid, name in corrupted:
        assert quarantined(cluster, name, bid), \
            f"corrupt replica of {bid} on {name} not quarantined after {reads} reads"
        # Repair may already have put a fresh copy back on the same server: fine if good.
        path = cluster.block_path(name, bid)
        try:
            assert block_file_ok(path), f"corrupt replica of {bid} on {name} still in blocks/"
        except FileNotFoundError:
            pass
    heal(cluster)  # back on RF servers, and every block file's CRC checks
    verify_all(cluster, workload)


@pytest.mark.cluster(**fault_options())
def test_scrub_finds_corrupt_block_nobody_read(cluster: Cluster, workload: Workload) -> None:
    workload.run(workload.writes("scrub", 6, plen_every=3), read_back=False)
    assert len(workload.acked) == 6, workload.summary()
    heal(cluster)
    victim = workload.acked[("s3", "scrub/obj-0000")]
    bid, holders = blocks_of(cluster, item_path(workload, victim))[-1]
    name = holders[0]
    flip_bytes(cluster.block_path(name, bid))

    status, body = cluster.bs_admin(name, "scrub/run-once", timeout=120)
    assert status == 200, f"POST {name} /admin/scrub/run-once -> {status}: {body}"
    assert body["corrupt"] >= 1 and body["checked"] >= 1, body
    assert quarantined(cluster, name, bid), f"scrub did not quarantine {bid} on {name}"
    # A second pass finds nothing more on that server.
    status, body = cluster.bs_admin(name, "scrub/run-once", timeout=120)
    assert status == 200 and body["corrupt"] == 0, body
    heal(cluster)
    verify_all(cluster, workload)
