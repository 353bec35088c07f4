"""Memory stays bounded whatever the file size: a 2 GiB `plen put` and `plen get` keep
every process's resident memory far below the file size."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading

import psutil
import pytest

from tests.integration.harness import Cluster, plen_command

MiB = 1024 * 1024
SIZE = 2048 * MiB
LIMIT = 300 * MiB  # far below 2 GiB; a process buffering the file would blow through it


class PeakRSS:
    """Samples the resident memory of a set of processes in a thread until stopped. With
    ``proportional=True`` it samples PSS instead: pages shared between the processes (a
    parent and the workers it forked) are split between them, so the sum over the set is
    what the set holds."""

    def __init__(self, pids: list[int], *, proportional: bool = False) -> None:
        self.proportional = proportional
        self.procs = [psutil.Process(p) for p in pids]
        self.peak: dict[int, int] = {p: 0 for p in pids}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def add(self, pid: int) -> None:
        self.procs.append(psutil.Process(pid))
        self.peak[pid] = 0

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            for p in list(self.procs):
                try:
                    used = (p.memory_full_info().pss if self.proportional
                            else p.memory_info().rss)
                    self.peak[p.pid] = max(self.peak[p.pid], used)
                except psutil.NoSuchProcess:
                    pass

    def __enter__(self) -> PeakRSS:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.slow
@pytest.mark.cluster(block_size=8 * MiB)
def test_2gib_put_and_get_keep_memory_bounded(cluster: Cluster) -> None:
    cluster.plen("mkdir", "/big")
    server_pids = [cluster.pid(n) for n in ["nameserver", *cluster.blockstore_names]]
    chunk = os.urandom(MiB)
    sent = hashlib.md5()
    with PeakRSS(server_pids) as put_rss:
        put = subprocess.Popen([*plen_command(), "put", "-", "/big/file"], stdin=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=cluster.plen_env(None),
                               cwd=cluster.tmp_path)
        put_rss.add(put.pid)
        assert put.stdin is not None
        for i in range(SIZE // MiB):
            piece = i.to_bytes(8, "big") + chunk[8:]
            sent.update(piece)
            put.stdin.write(piece)
        put.stdin.close()
        assert put.wait(600) == 0, put.stderr.read() if put.stderr else b""
    got = hashlib.md5()
    received = 0
    with PeakRSS(server_pids) as get_rss:
        get = subprocess.Popen([*plen_command(), "get", "/big/file", "-"], stdout=subprocess.PIPE,
                               env=cluster.plen_env(None), cwd=cluster.tmp_path)
        get_rss.add(get.pid)
        assert get.stdout is not None
        while piece := get.stdout.read(4 * MiB):
            got.update(piece)
            received += len(piece)
        assert get.wait(600) == 0
    assert received == SIZE and got.hexdigest() == sent.hexdigest()
    for label, rss in (("put", put_rss.peak), ("get", get_rss.peak)):
        print(f"{label} peak RSS MiB:", sorted(round(v / MiB) for v in rss.values()))
        for pid, peak in rss.items():
            assert 0 < peak < LIMIT, f"{label}: pid {pid} peaked at {peak / MiB:.0f} MiB"
