"""SIGKILL a blockstore, during a write storm and at rest: no acknowledged write is lost,
no request hangs, refused writes say why, and every block comes back to RF on the survivors
with nothing left over on their disks."""

from __future__ import annotations

import time

import pytest

from tests.fault.faults import (
    StatusSampler,
    Workload,
    fault_options,
    fsck,
    heal,
    running_blockstores,
    verify_all,
    wait_for,
)
from tests.integration.harness import Cluster

VICTIM = "bs1"


@pytest.mark.cluster(**fault_options())
def test_writes_survive_blockstore_sigkill_mid_write(cluster: Cluster, workload: Workload,
                                                     fault_figures) -> None:
    writes = workload.writes("storm", 100, plen_every=10)  # 90 objects via S3, 10 via plen
    workload.start(writes)
    workload.wait_acked(10)
    killed_at = time.monotonic()
    cluster.kill(VICTIM)
    workload.join(timeout=600)

    workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
    failed = len(writes) - len(workload.acked)
    fault_figures("writes acknowledged / refused", f"{len(workload.acked)} / {failed}")
    # The survivors are 3 = RF: writes begun after the kill have somewhere to go.
    assert workload.writes_acked_after(killed_at) > 0, workload.summary()
    verify_all(cluster, workload)

    survivors = running_blockstores(cluster)
    assert VICTIM not in survivors
    heal(cluster, among=survivors)
    verify_all(cluster, workload, doors=("s3",))


@pytest.mark.cluster(**fault_options())
def test_blocks_return_to_rf_after_blockstore_sigkill(cluster: Cluster, workload: Workload,
                                                      fault_figures) -> None:
    workload.run(workload.writes("rest", 40, plen_every=8))
    workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
    assert len(workload.acked) == 40, workload.summary()
    heal(cluster)  # a clean start: everything at RF already
    stored = sum(w.size for w in workload.acked.values())

    with StatusSampler(cluster) as sampler:
        killed_at = time.monotonic()
        cluster.kill(VICTIM)
        cluster.wait_state(VICTIM, "dead", timeout=cluster.dead_after_s * 4 + 10)
        dead_at = time.monotonic()
        survivors = running_blockstores(cluster)
        heal(cluster, among=survivors)
        safe_at = time.monotonic()

    fault_figures("declared dead after SIGKILL", f"{dead_at - killed_at:.1f} s")
    fault_figures("time to safety (kill -> fsck ok, census at RF)", f"{safe_at - killed_at:.1f} s")
    fault_figures("repair (dead -> safe)",
                  f"{safe_at - dead_at:.1f} s for {stored / 2**20:.0f} MiB stored")
    fault_figures("peak bytes below RF / repair rate seen (cluster-status)",
                  f"{sampler.peak.get('bytes_below_rf', 0) / 2**20:.0f} MiB / "
                  f"{sampler.peak.get('repair_rate_bytes_per_s', 0) / 2**20:.1f} MiB/s")
    status = wait_for(lambda: (s := cluster.cluster_status()).get("bytes_below_rf") == 0 and s,
                      30, "cluster-status to show no bytes below RF", cluster)
    assert status.get("missing_blocks", 0) == 0, status
    assert status.get("repaired_bytes", 0) > 0, status
    # While the dead server's blocks were being copied, the status showed them at risk.
    assert sampler.peak.get("bytes_below_rf", 0) > 0, \
        f"cluster-status never showed bytes below RF in {sampler.samples} samples"
    assert fsck(cluster)["ok"]
    verify_all(cluster, workload)
