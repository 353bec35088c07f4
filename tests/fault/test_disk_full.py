"""Fill a blockstore's disk (a small tmpfs the test mounts under its data directory): new
writes go to the other servers or are refused with a clear error, and nothing it already
stored is damaged or lost. Needs root (mount); skipped with the reason otherwise."""

from __future__ import annotations

import errno
from pathlib import Path

from tests.fault.faults import (
    MiB,
    Workload,
    block_file_ok,
    fault_options,
    heal,
    mounted_tmpfs,
    verify_all,
)
from tests.integration.harness import Cluster

FULL = "bs3"


def fill(directory: Path) -> int:
    """Write a filler file until the file system refuses; returns its size."""
    chunk = b"\0" * MiB
    written = 0
    with open(directory / "filler", "wb", buffering=0) as f:
        while written < 1024 * MiB:  # bounded: far above any tmpfs here
            try:
                f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
            written += len(chunk)
        else:
            raise AssertionError(f"{directory} never filled up")
    return written


def test_full_disk_writes_diverted_or_refused_and_stored_blocks_intact(
        tmp_path: Path, fault_figures) -> None:
    cluster = Cluster(tmp_path / "cluster", **fault_options(capacity_bytes=96 * MiB))
    # The tmpfs holds the whole of bs3 (its data directory and the filler beside it).
    mount_point = cluster.data_dir(FULL).parent
    with mounted_tmpfs(mount_point, 40 * MiB), cluster:
        workload = Workload(cluster, tmp_path / "scratch").prepare()
        try:
            workload.run(workload.writes("before", 20, plen_every=5, min_size=MiB,
                                         max_size=2 * MiB))
            workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
            assert len(workload.acked) == 20, workload.summary()
            heal(cluster)
            stored = {bid for bid, names in cluster.block_files().items() if FULL in names}
            assert stored, f"placement put nothing on {FULL}: the test would prove nothing"

            filler = fill(mount_point)
            fault_figures(f"{FULL} filled", f"{len(stored)} blocks + {filler // MiB} MiB filler")
            # The nameserver learns the free space from heartbeats: some writes may still be
            # sent to the full server before it knows.
            # The other three have room left for all of these (capacity 96 MiB each).
            writes = workload.writes("full", 12, plen_every=4, min_size=MiB, max_size=2 * MiB)
            workload.run(writes)
            workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
            fault_figures("writes with a full server: acknowledged / refused",
                          f"{len(workload.acked) - 20} / {12 - (len(workload.acked) - 20)}")
            assert cluster.is_running(FULL), f"{FULL} exited on a full disk"

            on_disk = {bid for bid, names in cluster.block_files().items() if FULL in names}
            lost = stored - on_disk
            assert not lost, f"{len(lost)} blocks {FULL} held vanished, e.g. {sorted(lost)[:3]}"
            bad = [b for b in stored if not block_file_ok(cluster.block_path(FULL, b))]
            assert not bad, f"{len(bad)} blocks on {FULL} damaged, e.g. {bad[:3]}"
            verify_all(cluster, workload)
            heal(cluster)

            (mount_point / "filler").unlink()
            before = len(workload.acked)
            workload.run(workload.writes("after", 6, plen_every=3, min_size=MiB,
                                         max_size=2 * MiB))
            assert len(workload.acked) == before + 6, workload.summary()
            workload.assert_no_hang_or_unclear_error(reads_must_succeed=True)
            heal(cluster)
            verify_all(cluster, workload, doors=("s3",))
        finally:
            workload.close()
