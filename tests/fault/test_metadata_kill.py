"""SIGKILL the nameserver, then Redis (restarted on its append-only file), in the middle of a
write storm: requests fail fast with a clear error while the metadata is away, nothing that
was acknowledged is lost once it is back, and fsck finds the namespace whole."""

from __future__ import annotations

import pytest

from tests.fault.faults import Workload, fault_options, heal, verify_all, wait_for
from tests.integration.harness import Cluster


def _kill_and_restart(cluster: Cluster, workload: Workload, name: str) -> None:
    writes = workload.writes(f"meta-{name}", 60, plen_every=6)
    workload.start(writes)
    workload.wait_acked(10)
    cluster.kill(name)
    # While it is down, requests must be refused (not hang): wait until one was, or until the
    # storm ran out.
    wait_for(lambda: workload.failures(kinds=("clear", "hung", "unclear")) or workload.done(),
             90, f"a request refused while {name} is down", cluster)
    cluster.restart(name)
    if name == cluster.REDIS:
        # The nameserver reconnects on its own: wait until it answers again.
        wait_for(cluster.cluster_status, 60, "the nameserver to answer after Redis came back",
                 cluster)
    cluster.wait_live(timeout=60)
    workload.join(timeout=600)
    workload.assert_no_hang_or_unclear_error()

    # Back to normal: a second storm is entirely acknowledged.
    before = len(workload.acked)
    again = workload.writes(f"after-{name}", 12, plen_every=4)
    workload.run(again)
    assert len(workload.acked) == before + len(again), workload.summary()

    verify_all(cluster, workload)
    heal(cluster)


@pytest.mark.cluster(**fault_options())
def test_acknowledged_writes_survive_nameserver_sigkill(cluster: Cluster,
                                                        workload: Workload) -> None:
    _kill_and_restart(cluster, workload, cluster.NAMESERVER)


@pytest.mark.cluster(**fault_options())
def test_acknowledged_writes_survive_redis_sigkill(cluster: Cluster, workload: Workload) -> None:
    _kill_and_restart(cluster, workload, cluster.REDIS)
