"""Cut a blockstore off the network (it runs in its own network namespace, joined to the
others by a veth pair on a private subnet; the test downs the link), then restore it: it is
declared dead and its blocks healed, and once it is back its excess replicas are trimmed.
Needs root and `ip`; skipped with the reason otherwise."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fault.faults import (
    Workload,
    fault_options,
    heal,
    netns_link,
    verify_all,
)
from tests.integration.harness import Cluster

CUT = "bs3"


def test_cut_off_blockstore_declared_dead_healed_then_trimmed(tmp_path: Path,
                                                              fault_figures) -> None:
    with netns_link() as link:
        # Everything but Redis listens on the root end of the link, so the namespaced
        # blockstore reaches the nameserver and its peers, and they reach it.
        cluster = Cluster(tmp_path / "cluster", **fault_options(host=link.host_addr))
        cluster.put_in_netns(CUT, link.netns, link.ns_addr)
        with cluster:
            assert cluster.url(CUT).startswith(f"http://{link.ns_addr}:"), cluster.url(CUT)
            workload = Workload(cluster, tmp_path / "scratch").prepare()
            try:
                workload.run(workload.writes("net", 24, plen_every=6))
                workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
                assert len(workload.acked) == 24, workload.summary()
                heal(cluster)
                held = {b for b, names in cluster.block_files().items() if CUT in names}
                assert held, f"{CUT} holds no block: nothing to test"

                cut_at = time.monotonic()
                link.set_link(up=False)
                try:
                    cluster.wait_state(CUT, "dead", timeout=cluster.dead_after_s * 4 + 10)
                    fault_figures("cut -> declared dead", f"{time.monotonic() - cut_at:.1f} s")
                    others = [n for n in cluster.blockstore_names if n != CUT]
                    heal(cluster, among=others)
                    fault_figures("cut -> healed", f"{time.monotonic() - cut_at:.1f} s")
                    workload.run(workload.writes("while-cut", 8, plen_every=4))
                    workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
                    assert len(workload.acked) == 32, workload.summary()
                finally:
                    link.set_link(up=True)

                back_at = time.monotonic()
                cluster.wait_state(CUT, "live", timeout=60)
                heal(cluster)  # all four again: every block on exactly RF servers
                fault_figures("link back -> trimmed", f"{time.monotonic() - back_at:.1f} s")
                # Which copy goes is the trimmer's choice; heal checked exactly RF.
                still = {b for b, names in cluster.block_files().items() if CUT in names}
                fault_figures(f"{CUT} blocks before cut / after trim",
                              f"{len(held)} / {len(still)}")
                verify_all(cluster, workload)
            finally:
                workload.close()
