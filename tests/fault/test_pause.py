"""SIGSTOP a blockstore past the liveness deadline, then SIGCONT it: a hung server is declared
dead and its blocks repaired on the others; when it wakes up with its old replicas, the
excess copies are trimmed so every block is on exactly RF servers again."""

from __future__ import annotations

import time

import pytest

from tests.fault.faults import Workload, fault_options, heal, running_blockstores, verify_all
from tests.integration.harness import Cluster

VICTIM = "bs2"


@pytest.mark.cluster(**fault_options())
def test_paused_blockstore_declared_dead_repaired_then_trimmed(cluster: Cluster,
                                                              workload: Workload,
                                                              fault_figures) -> None:
    workload.run(workload.writes("before", 30, plen_every=6))
    workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
    assert len(workload.acked) == 30, workload.summary()
    heal(cluster)
    held = {bid for bid, names in cluster.block_files().items() if VICTIM in names}
    assert held, f"{VICTIM} holds no block: nothing to test"

    with cluster.paused(VICTIM):
        paused_at = time.monotonic()
        cluster.wait_state(VICTIM, "dead", timeout=cluster.dead_after_s * 4 + 10)
        fault_figures("paused -> declared dead", f"{time.monotonic() - paused_at:.1f} s")
        # Its files are still on its disk, but they no longer count.
        survivors = running_blockstores(cluster)
        assert VICTIM not in survivors
        heal(cluster, among=survivors)
        fault_figures("paused -> repaired", f"{time.monotonic() - paused_at:.1f} s")
        # Writes and reads go on without it.
        workload.run(workload.writes("while-paused", 10, plen_every=5))
        workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
        assert len(workload.acked) == 40, workload.summary()

    cluster.wait_live([VICTIM], timeout=30)
    back_at = time.monotonic()
    heal(cluster)  # all four: every block on exactly RF of them, so the excess is gone
    fault_figures("back -> excess trimmed", f"{time.monotonic() - back_at:.1f} s")
    # Which copy of an over-replicated block goes is the trimmer's choice: only the count
    # (exactly RF, checked by heal) is the contract.
    still = {bid for bid, names in cluster.block_files().items() if VICTIM in names}
    fault_figures(f"{VICTIM} blocks before pause / after trim", f"{len(held)} / {len(still)}")
    verify_all(cluster, workload)
