"""Drain a blockstore with the real CLI: `plen server drain ID` moves every block off it while
the data stays at RF, `plen server ls` shows the states, the drained server ends up holding
nothing, and only then does `plen server rm ID` remove it."""

from __future__ import annotations

import signal
import time

import pytest

from tests.fault.faults import (
    Workload,
    fault_options,
    fsck,
    heal,
    nudge,
    run_plen,
    running_blockstores,
    verify_all,
    wait_for,
)
from tests.integration.harness import Cluster

VICTIM = "bs1"


def server_ls(cluster: Cluster) -> dict[str, str]:
    """server id -> the state word on its row of `plen server ls`."""
    out = cluster.plen("server", "ls").stdout.decode()
    states = {}
    for name in cluster.blockstore_names:
        sid = cluster.server_id(name)
        for line in out.splitlines():
            if sid in line:
                words = line.replace("│", " ").replace("|", " ").split()
                found = [w for w in words if w in ("live", "dead", "draining", "drained")]
                states[sid] = found[0] if found else f"?{line.strip()}"
    return states


@pytest.mark.cluster(**fault_options())
def test_drained_server_holds_nothing_and_can_be_removed(cluster: Cluster, workload: Workload,
                                                         fault_figures) -> None:
    workload.run(workload.writes("drain", 24, plen_every=6), read_back=False)
    assert len(workload.acked) == 24, workload.summary()
    heal(cluster)
    sid = cluster.server_id(VICTIM)
    assert set(server_ls(cluster).values()) == {"live"}, server_ls(cluster)
    assert any(VICTIM in names for names in cluster.block_files().values())

    refused = run_plen(cluster, "server", "rm", sid)
    assert refused.returncode != 0, "plen server rm of a live server was accepted"
    lines = refused.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plen"), refused.stderr

    started = time.monotonic()
    cluster.plen("server", "drain", sid)
    assert server_ls(cluster)[sid] in ("draining", "drained"), server_ls(cluster)
    missing_seen = []

    def drained() -> bool:
        nudge(cluster, running_blockstores(cluster))
        report = fsck(cluster)
        if report.get("missing"):
            missing_seen.append(report["missing"][:3])
        return cluster.server_state(VICTIM) == "drained"

    wait_for(drained, 120, f"{VICTIM} to be drained", cluster, interval=0.5)
    fault_figures("drain of one of 4 servers", f"{time.monotonic() - started:.1f} s")
    assert not missing_seen, f"blocks with no live replica during the drain: {missing_seen}"
    assert server_ls(cluster)[sid] == "drained", server_ls(cluster)
    # Every block lives on the three others, and the drained server's disk is empty.
    others = [n for n in running_blockstores(cluster) if n != VICTIM]
    heal(cluster, among=others)
    wait_for(lambda: not any(VICTIM in names for names in cluster.block_files().values()),
             60, f"{VICTIM}'s block files to be deleted", cluster)

    cluster.kill(VICTIM, signal.SIGTERM)  # stopped first, so it cannot register again
    cluster.plen("server", "rm", sid)
    assert sid not in cluster.plen("server", "ls").stdout.decode()
    assert sid not in {s["server_id"] for s in cluster.cluster_status()["servers"]}
    heal(cluster, among=others)
    verify_all(cluster, workload)
