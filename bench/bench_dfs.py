"""DFS benchmark: `plen put`/`plen get` throughput, small-file rate and directory rename
time, beside the raw disk write speed of the same filesystem measured in the same run.

    python bench/bench_dfs.py            # full: 1 GiB file, rename of 10 / 1,000 / 100,000
    python bench/bench_dfs.py --quick    # a couple of minutes

It starts its own cluster with `plen up` (embedded Redis, 3 blockstores, RF 3) in a
temporary directory under --dir, drives the real `plen` command for large files and the
client library for small ones, verifies every byte it reads back, prints a table and writes
it to bench/RESULTS_DFS.md. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plen.auth import Credentials
from plen.client.fs import FileSystem

MiB = 1024 * 1024


def disk_write_mbps(directory: Path, size: int) -> float:
    """Sequential write of ``size`` bytes in 1 MiB writes, then fsync: the disk's own pace."""
    path = directory / "disk-probe"
    chunk = os.urandom(MiB)
    start = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        for _ in range(size // MiB):
            f.write(chunk)
        os.fsync(f.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return size / MiB / elapsed


def make_file(path: Path, size: int) -> str:
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            piece = os.urandom(min(left, 4 * MiB))
            md5.update(piece)
            f.write(piece)
            left -= len(piece)
    return md5.hexdigest()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while piece := f.read(4 * MiB):
            md5.update(piece)
    return md5.hexdigest()


class UpCluster:
    """`plen up` as a user runs it, in the foreground of a child process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config.json"
        # The CLI signs as root with the keys `plen up` writes into this config file.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PLEN_ACCESS_KEY", "PLEN_SECRET_KEY", "PLEN_NAMESERVER")}
        self.env["PLEN_CONFIG"] = str(self.config)
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        log = open(self.root / "up.log", "wb")
        self.proc = subprocess.Popen(["plen", "up", "--data", str(self.root / "data")],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"plen up exited: {(self.root / 'up.log').read_text()[-2000:]}")
            if b"ready" in (self.root / "up.log").read_bytes() and self.config.exists():
                return json.loads(self.config.read_text())["nameserver"]
            time.sleep(0.2)
        raise SystemExit("plen up did not become ready")

    def credentials(self) -> Credentials:
        """The root user's keys, which `plen up` wrote into the client config."""
        config = json.loads(self.config.read_text())
        return Credentials(config["access_key"], config["secret_key"])

    def plen(self, *args: str) -> float:
        start = time.perf_counter()
        subprocess.run(["plen", *args], env=self.env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


async def small_files(url: str, creds: Credentials, count: int, size: int,
                      concurrency: int) -> float:
    payload = os.urandom(size)
    sem = asyncio.Semaphore(concurrency)
    async with FileSystem(url, credentials=creds) as fs:
        await fs.mkdir(f"/bench/small-{size}", parents=True, exist_ok=True)

        async def one(i: int) -> None:
            async with sem:
                await fs.write_file(f"/bench/small-{size}/f{i:07d}", payload)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - start
        sample = await fs.read_bytes(f"/bench/small-{size}/f{count // 2:07d}")
        assert sample == payload, "small file read back wrong"
    return count / elapsed


async def rename_time(url: str, creds: Credentials, files: int,
                      concurrency: int = 32) -> float:
    sem = asyncio.Semaphore(concurrency)
    async with FileSystem(url, credentials=creds) as fs:
        base = f"/bench/rename-{files}"
        await fs.mkdir(f"{base}/a", parents=True)

        async def one(i: int) -> None:
            async with sem:
                await fs.write_file(f"{base}/a/d{i % 100}/f{i}", b"x", parents=True)

        await asyncio.gather(*(one(i) for i in range(files)))
        times = []
        src, dst = f"{base}/a", f"{base}/b"
        for _ in range(5):
            start = time.perf_counter()
            await fs.rename(src, dst, kind="dir")
            times.append(time.perf_counter() - start)
            src, dst = dst, src
        listed = [e async for e in fs.iter_dir(src)]
        assert len(listed) == min(files, 100), "rename lost entries"
        await fs.rmdir(base, recursive=True)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=".", help="where the cluster's data lives (a disk to test)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS_DFS.md")))
    args = ap.parse_args()
    large = 256 * MiB if args.quick else 1024 * MiB
    small_count = 500 if args.quick else 3000
    rename_sizes = [10, 1000, 10_000] if args.quick else [10, 1000, 100_000]

    root = Path(tempfile.mkdtemp(prefix="plen-bench-", dir=args.dir))
    rows: list[tuple[str, str]] = []
    cluster = UpCluster(root)
    try:
        disk = disk_write_mbps(root, min(large, 512 * MiB))
        rows.append(("disk sequential write + fsync", f"{disk:.0f} MB/s"))
        url = cluster.start()
        src = root / "large.bin"
        md5 = make_file(src, large)
        cluster.plen("mkdir", "/bench")
        t_put = cluster.plen("put", str(src), "/bench/large.bin")
        put = large / MiB / t_put
        rows.append((f"plen put {large // MiB} MiB (RF 3)", f"{put:.0f} MB/s"))
        rows.append(("  / (disk write / RF)", f"{put / (disk / 3):.2f}"))
        dst = root / "large.out"
        t_get = cluster.plen("get", "/bench/large.bin", str(dst))
        assert file_md5(dst) == md5, "large file read back wrong"
        rows.append((f"plen get {large // MiB} MiB", f"{large / MiB / t_get:.0f} MB/s"))
        dst.unlink()
        src.unlink()
        for size in (1024, 64 * 1024):
            rate = asyncio.run(small_files(url, cluster.credentials(), small_count, size, 16))
            rows.append((f"small files {size // 1024} KiB, 16 writers", f"{rate:.0f} files/s"))
        t_small = cluster.plen("put", "/dev/null", "/bench/empty")
        rows.append(("one `plen put` command, empty file (process start included)",
                     f"{t_small * 1000:.0f} ms"))
        for n in rename_sizes:
            t = asyncio.run(rename_time(url, cluster.credentials(), n))
            rows.append((f"directory rename, {n:,} files below", f"{t * 1000:.2f} ms"))
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    header = (f"# DFS benchmark\n\n{datetime.date.today()} - {os.cpu_count()} cores - "
              f"Python {platform.python_version()} - `python bench/bench_dfs.py"
              f"{' --quick' if args.quick else ''}`\n\n| measure | figure |\n|---|---|\n")
    table = header + "".join(f"| {k} | {v} |\n" for k, v in rows)
    print(table)
    Path(args.out).write_text(table)


if __name__ == "__main__":
    sys.exit(main())
