"""A new blockstore joins a full cluster: it receives blocks until every server's utilisation
is within the rebalance spread of the mean, and no block ever drops below RF on the way
(a copy lands before the old replica goes)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.fault.faults import MiB, Workload, fault_options, fsck, heal, verify_all, wait_for
from tests.integration.harness import Cluster

CAPACITY = 64 * MiB
SPREAD = 0.10


class FsckWatch:
    """fsck in a loop in the background; keeps every report that shows a block missing or
    below RF."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.bad: list[dict] = []
        self.runs = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsck-watch", daemon=True)

    def __enter__(self) -> FsckWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = fsck(self.cluster)
            except (AssertionError, OSError) as exc:
                self.errors.append(str(exc)[:200])
            else:
                self.runs += 1
                if report.get("missing") or report.get("under_replicated"):
                    self.bad.append(report)
            self._stop.wait(0.1)


def utilisations(cluster: Cluster) -> dict[str, float]:
    return {s["server_id"]: s["used_bytes"] / s["capacity_bytes"]
            for s in cluster.cluster_status()["servers"]
            if s["state"] == "live" and s["capacity_bytes"]}


def balanced(cluster: Cluster, slack: float) -> dict[str, float] | None:
    utils = utilisations(cluster)
    mean = sum(utils.values()) / len(utils)
    if len(utils) == 4 and all(abs(u - mean) <= SPREAD + slack for u in utils.values()):
        return utils
    return None


@pytest.mark.cluster(**fault_options(
    blockstores=3, capacity_bytes=CAPACITY,
    nameserver_args=["--rebalance-spread", str(SPREAD), "--rebalance-interval", "1"]))
def test_new_blockstore_filled_until_balanced_without_dropping_below_rf(
        cluster: Cluster, workload: Workload, fault_figures) -> None:
    # 24 objects of ~2 MiB on 3 servers at RF 3: each holds every block, ~75% full.
    workload.run(workload.writes("full", 24, plen_every=6, min_size=2 * MiB,
                                 max_size=2 * MiB + MiB // 2), read_back=False)
    assert len(workload.acked) == 24, workload.summary()
    heal(cluster)
    before = utilisations(cluster)
    assert min(before.values()) > 0.6, f"the cluster is not full enough to test: {before}"

    with FsckWatch(cluster) as watch:
        joined_at = time.monotonic()
        newcomer = cluster.add_blockstore()
        slack = MiB / CAPACITY  # one block either way

        def moved() -> dict[str, float] | None:
            cluster.admin("rebalance/run-once", timeout=60)
            for name in cluster.blockstore_names:
                cluster.bs_admin(name, "heartbeat/run-once", timeout=60)
            return balanced(cluster, slack)

        after = wait_for(moved, 180, "the cluster to balance after a server joined", cluster,
                         interval=0.5)
        balanced_at = time.monotonic()
    fault_figures("join -> balanced", f"{balanced_at - joined_at:.1f} s")
    fault_figures("utilisation after", " ".join(f"{u:.0%}" for u in sorted(after.values())))
    assert watch.runs > 0, f"fsck never answered during the move: {watch.errors[:3]}"
    assert not watch.bad, (f"{len(watch.bad)} of {watch.runs} fsck runs during the move saw "
                           f"blocks missing or below RF, e.g. {watch.bad[0]}")
    new_id = cluster.server_id(newcomer)
    assert after[new_id] > 0.3, f"{newcomer} received too little: {after}"
    heal(cluster)
    verify_all(cluster, workload)
