"""Two nameservers on one Redis: exactly one holds the duties lease; SIGKILL it and the other
takes the lease within the TTL, the blockstores fail over to it, and it repairs a blockstore
that dies afterwards on its own timers (no run-once door is called here)."""

from __future__ import annotations

import time

import pytest

from tests.fault.faults import (
    Workload,
    fault_options,
    heal,
    running_blockstores,
    s3_client,
    verify_all,
    wait_for,
)
from tests.integration.harness import Cluster

LEASE_TTL_S = 3.0


def lease(cluster: Cluster, name: str) -> dict:
    report = cluster.admin("lease", via=name, timeout=10)
    assert isinstance(report, dict) and "held" in report, report
    return report


@pytest.mark.cluster(**fault_options(
    nameservers=2, nameserver_args=["--lease-ttl", str(LEASE_TTL_S),
                                    "--repair-interval", "1"]))
def test_standby_nameserver_takes_lease_and_repairs_after_holder_sigkill(
        cluster: Cluster, workload: Workload, fault_figures) -> None:
    names = cluster.nameserver_names
    holders = wait_for(lambda: [n for n in names if lease(cluster, n)["held"]] or None,
                       LEASE_TTL_S * 3 + 10, "a nameserver to hold the lease", cluster)
    assert len(holders) == 1, f"both nameservers hold the lease: {holders}"
    holder = holders[0]
    standby = next(n for n in names if n != holder)
    # Both name the same holder: the one that says it holds the lease.
    reports = {n: lease(cluster, n) for n in names}
    assert reports[holder]["holder"] == reports[standby]["holder"] == reports[holder]["me"]
    assert reports[standby]["me"] != reports[holder]["me"], reports

    workload.run(workload.writes("lease", 20, plen_every=5))
    assert len(workload.acked) == 20, workload.summary()
    heal(cluster, ns_doors=False)

    killed_at = time.monotonic()
    cluster.kill(holder)
    cluster.primary_nameserver = standby
    if holder == cluster.NAMESERVER:  # the gateway talks to one nameserver: point it over
        cluster.restart(cluster.GATEWAY)
        workload.s3 = s3_client(cluster, pool=workload.workers + 4)
    workload.plen_env = cluster.plen_env()
    wait_for(lambda: lease(cluster, standby)["held"], LEASE_TTL_S * 3 + 10,
             f"{standby} to take the lease", cluster)
    fault_figures("lease takeover after SIGKILL of the holder",
                  f"{time.monotonic() - killed_at:.1f} s (TTL {LEASE_TTL_S:g} s)")

    victim = "bs2"
    died_at = time.monotonic()
    cluster.kill(victim)
    cluster.wait_state(victim, "dead", timeout=cluster.dead_after_s * 4 + 10)
    heal(cluster, among=running_blockstores(cluster), ns_doors=False)
    fault_figures("repair by the new lease holder (kill -> safe)",
                  f"{time.monotonic() - died_at:.1f} s")
    verify_all(cluster, workload)
