"""Repair benchmark: time to safety and re-replication throughput after a blockstore dies,
beside the disk's own write speed (with fsync) and loopback TCP throughput measured in the
same run.

    python bench/bench_repair.py                 # 256 MiB stored, a couple of minutes
    python bench/bench_repair.py --mib 2048      # more data
    python bench/bench_repair.py --markdown      # also write bench/RESULTS_REPAIR.md

It starts a real cluster with the test harness (redis-server, a nameserver, 4 blockstores,
RF 3, as separate processes) in a temporary directory under --dir, writes --mib MiB of
random files through the client library, SIGKILLs one blockstore, then runs the membership
and repair duties (their run-once doors, as an operator could) until fsck is clean. Figures
only: nothing here passes or fails. Every loop has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness lives in tests/

from bench.bench_dfs import disk_write_mbps  # noqa: E402
from plen.auth import Credentials  # noqa: E402
from plen.client.fs import FileSystem  # noqa: E402
from tests.integration.harness import Cluster  # noqa: E402

MiB = 1024 * 1024
VICTIM = "bs1"

TCP_SINK = r"""
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
total = 0
while True:
    data = conn.recv(4 << 20)
    if not data:
        break
    total += len(data)
conn.sendall(str(total).encode())
conn.close()
"""


def loopback_tcp_mbps(size: int) -> float:
    """``size`` bytes from this process to a child process over one loopback TCP connection."""
    child = subprocess.Popen([sys.executable, "-c", TCP_SINK], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        chunk = os.urandom(4 * MiB)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            start = time.perf_counter()
            sent = 0
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
            s.shutdown(socket.SHUT_WR)
            got = int(s.recv(64) or b"0")
            elapsed = time.perf_counter() - start
        assert got == sent, f"sink got {got} of {sent} bytes"
        return sent / MiB / elapsed
    finally:
        child.kill()
        child.wait(10)


async def write_data(url: str, creds: Credentials, total: int, file_size: int,
                     concurrency: int = 8) -> int:
    sem = asyncio.Semaphore(concurrency)
    count = max(total // file_size, 1)
    async with FileSystem(url, credentials=creds) as fs:
        await fs.mkdir("/bench-repair", parents=True, exist_ok=True)

        async def one(i: int) -> None:
            async with sem:
                await fs.write_file(f"/bench-repair/f{i:05d}", os.urandom(file_size))

        await asyncio.gather(*(one(i) for i in range(count)))
    return count * file_size


def bytes_on(cluster: Cluster, name: str) -> int:
    root = cluster.data_dir(name) / "blocks"
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def fsck_clean(cluster: Cluster) -> bool:
    report = cluster.ns_post("fsck", {}, timeout=60)
    return bool(report.get("ok")) and not report.get("under_replicated") \
        and not report.get("missing")


def run_once(cluster: Cluster, *ops: str) -> None:
    for op in ops:
        try:
            cluster.admin(op, timeout=120)
        except (AssertionError, OSError) as exc:  # a missing door: the timers still run
            print(f"  ({op}: {str(exc)[:100]})", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mib", type=int, default=256, help="MiB of data to store (default 256)")
    ap.add_argument("--block-size-mib", type=int, default=8)
    ap.add_argument("--file-mib", type=int, default=16, help="size of each file written")
    ap.add_argument("--dir", default=".", help="where the cluster's data lives (a disk to test)")
    ap.add_argument("--timeout", type=float, default=900.0, help="give up on repair after S s")
    ap.add_argument("--blockstore-arg", action="append", default=[],
                    help="extra blockstore flag, e.g. --blockstore-arg=--copy-rate=0")
    ap.add_argument("--nameserver-arg", action="append", default=[])
    ap.add_argument("--markdown", action="store_true",
                    help="also write the table to --out")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_REPAIR.md")))
    args = ap.parse_args()
    total = args.mib * MiB

    root = Path(tempfile.mkdtemp(prefix="plen-bench-repair-", dir=args.dir)).resolve()
    rows: list[tuple[str, str]] = []
    cluster = Cluster(root / "cluster", blockstores=4, replication=3,
                      block_size=args.block_size_mib * MiB, heartbeat_interval_s=1.0,
                      dead_after_s=3.0, startup_timeout=120,
                      nameserver_args=args.nameserver_arg, blockstore_args=args.blockstore_arg)
    try:
        disk = disk_write_mbps(root, min(max(total, 64 * MiB), 512 * MiB))
        rows.append(("disk sequential write + fsync (data dir's file system)",
                     f"{disk:.0f} MB/s"))
        tcp = loopback_tcp_mbps(min(max(total * 2, 256 * MiB), 2048 * MiB))
        rows.append(("loopback TCP, one connection between two processes", f"{tcp:.0f} MB/s"))

        cluster.start()
        start = time.perf_counter()
        stored = asyncio.run(write_data(cluster.nameserver_url, cluster.credentials, total,
                                           args.file_mib * MiB))
        t_write = time.perf_counter() - start
        rows.append((f"write {stored // MiB} MiB (RF 3, {args.block_size_mib} MiB blocks)",
                     f"{stored / MiB / t_write:.0f} MB/s"))
        deadline = time.monotonic() + 120
        while not fsck_clean(cluster):
            if time.monotonic() > deadline:
                raise SystemExit("the cluster was not clean before the kill")
            time.sleep(0.5)
        lost = bytes_on(cluster, VICTIM)
        rows.append((f"bytes on the killed blockstore ({VICTIM})", f"{lost / MiB:.0f} MiB"))

        killed = time.monotonic()
        cluster.kill(VICTIM, signal.SIGKILL)
        deadline = killed + args.timeout
        dead_at = None
        peak_rate = 0.0
        while True:
            run_once(cluster, "membership/run-once")
            if dead_at is None and cluster.server_state(VICTIM) == "dead":
                dead_at = time.monotonic()
            if dead_at is not None:
                run_once(cluster, "repair/run-once")
                status = cluster.cluster_status()
                peak_rate = max(peak_rate, float(status.get("repair_rate_bytes_per_s") or 0))
                if fsck_clean(cluster):
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"not safe after {args.timeout:g} s\n{cluster.logs_tail(20)}")
            time.sleep(0.2)
        safe = time.monotonic()
        repair_s = safe - dead_at
        rate = lost / MiB / repair_s
        rows.append(("kill -> declared dead (dead-after 3 s)", f"{dead_at - killed:.1f} s"))
        rows.append(("dead -> safe (fsck ok, nothing under-replicated)", f"{repair_s:.1f} s"))
        rows.append(("time to safety (kill -> safe)", f"{safe - killed:.1f} s"))
        rows.append(("re-replication (lost bytes / repair time)", f"{rate:.0f} MB/s"))
        rows.append(("peak repair rate in cluster-status", f"{peak_rate / MiB:.0f} MB/s"))
        rows.append(("  / disk write + fsync", f"{rate / disk:.2f}"))
        rows.append(("  / loopback TCP", f"{rate / tcp:.2f}"))
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    command = "python bench/bench_repair.py" + " ".join(
        [""] + [a for a in sys.argv[1:] if a != "--markdown"])
    header = (f"# Repair benchmark\n\n{datetime.date.today()} - {os.cpu_count()} cores - "
              f"Python {platform.python_version()} - `{command}`\n\n"
              "| measure | figure |\n|---|---|\n")
    table = header + "".join(f"| {k} | {v} |\n" for k, v in rows)
    print(table)
    if args.markdown:
        Path(args.out).write_text(table)


if __name__ == "__main__":
    sys.exit(main())
