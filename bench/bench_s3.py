"""S3 benchmark: the Plenilune gateway beside a moto server, same workload, same run, same
client, with the ratio Plenilune / moto.

    python bench/bench_s3.py --quick    # about 2-3 minutes on 2 cores
    python bench/bench_s3.py            # full: about 15 minutes on 2 cores (100,000 keys)

Targets, both real processes on loopback, both up for the whole run:
  plenilune  tests/integration/harness.py Cluster(gateway=True, block_size=8 MiB): Redis, a
             nameserver, 3 blockstores (RF 3) and one gateway process;
  moto       `python -m moto.server` (in-memory reference; it checks no signatures).

Workloads (each runs on Plenilune, then on moto; one implementation for both):
  small objects  4 KiB PUTs then GETs of the same keys at 1, 8 and 64 concurrent clients
                 (threads sharing one boto3 client); ops/s, p50 and p99 latency; every GET
                 compared with the bytes put under that key. 4 KiB is exactly the nameserver's
                 default inline limit: Plenilune keeps these objects in Redis, no blockstore.
  large object   one 256 MiB file: put_object with the open file as body and get_object
                 streamed to a file (single stream), then upload_file / download_file
                 (boto3's multipart transfer, parallel parts); MD5 checked on every copy back.
                 The server process's peak RSS is sampled meanwhile (this workload runs
                 first, on fresh processes).
  listing        a bucket filled by concurrent 0-byte PUTs (the fill rate is reported) to
                 10,000 and then 100,000 keys (--quick: 10,000 only); ListObjectsV2 pages of
                 1,000 keys at 5 places spread through the bucket (StartAfter, then one
                 ContinuationToken page after each); p50; every page's keys checked.

Clients are boto3 at default settings except Config(max_pool_connections=<concurrency>) and
path-style addressing (what the harness and the compat suite use). A workload that fails on a
target (an S3 error, a wrong byte) is reported as failed, with its traceback on stderr, and
the run goes on. Every loop is bounded by an operation count; figures only, no pass/fail.
Prints a table and writes it to bench/RESULTS_S3.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore
import psutil
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent):  # bench_dfs beside us; tests.integration.harness in the repo
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from bench_dfs import MiB, file_md5, make_file  # noqa: E402

from tests.integration.harness import (  # noqa: E402
    Cluster,
    ManagedProcess,
    child_env,
    free_port,
    http_request,
    start_process,
)

PLENILUNE = "plenilune"
MOTO = "moto"
REGION = "us-east-1"
STARTUP_TIMEOUT_S = 60.0

SMALL_SIZE = 4 * 1024
SMALL_CONCURRENCY = (1, 8, 64)
SMALL_OPS_QUICK = {1: 100, 8: 300, 64: 640}
SMALL_OPS_FULL = {1: 500, 8: 2000, 64: 6400}
LARGE_SIZE = 256 * MiB
LIST_SIZES_QUICK = (10_000,)
LIST_SIZES_FULL = (10_000, 100_000)
FILL_CONCURRENCY = 32
PAGE_KEYS = 1000
PAGE_PLACES = 5
RSS_INTERVAL_S = 0.05

# One random 4 KiB body; each key's bytes start with its own index, so a GET answered with
# another key's object is caught as surely as a damaged one.
_SMALL_BASE = os.urandom(SMALL_SIZE)


class VerifyError(AssertionError):
    """Data read back differs from what was written."""


# --------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class Target:
    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    server_pid: int  # the process whose memory is sampled: the gateway, or moto

    def client(self, max_pool_connections: int) -> Any:
        # A session per client: boto3's default session is not thread-safe to build from.
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(max_pool_connections=max_pool_connections,
                          s3={"addressing_style": "path"}))


@contextlib.contextmanager
def plenilune_target(root: Path) -> Iterator[Target]:
    cluster = Cluster(root, gateway=True, block_size=8 * MiB)
    try:
        cluster.start()
        pid = cluster.pid(Cluster.GATEWAY)
        assert pid is not None
        yield Target(PLENILUNE, cluster.gateway_url, cluster.s3_access_key,
                     cluster.s3_secret_key, pid)
    finally:
        cluster.stop()


@contextlib.contextmanager
def moto_target(root: Path) -> Iterator[Target]:
    root.mkdir(parents=True, exist_ok=True)
    proc: ManagedProcess

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]

    def probe() -> bool:  # ListBuckets answers once moto serves S3
        return http_request("GET", f"http://127.0.0.1:{proc.port}/")[0] == 200

    proc = ManagedProcess(MOTO, command=command, cwd=root, log_path=root / "moto.log",
                          env=child_env(), probe=probe, port=free_port("127.0.0.1"))
    try:
        start_process(proc, timeout=STARTUP_TIMEOUT_S, retry_port=lambda: free_port("127.0.0.1"))
        assert proc.pid is not None
        yield Target(MOTO, f"http://127.0.0.1:{proc.port}", "bench", "bench", proc.pid)
    finally:
        proc.terminate()


# --------------------------------------------------------------------------------------------
# Measuring


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class Timing:
    """A batch of operations: its wall time and each operation's latency, in seconds."""

    elapsed_s: float
    latencies_s: list[float]

    @property
    def ops_per_s(self) -> float:
        return len(self.latencies_s) / self.elapsed_s

    def p(self, q: float) -> float:
        return percentile(self.latencies_s, q)


def run_ops(op: Callable[[int], None], count: int, concurrency: int) -> Timing:
    """Run ``op(0) .. op(count - 1)`` on ``concurrency`` threads, closed loop; the first
    failure cancels what has not started and is raised."""
    latencies = [0.0] * count

    def timed(i: int) -> None:
        start = time.perf_counter()
        op(i)
        latencies[i] = time.perf_counter() - start

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(timed, i) for i in range(count)]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return Timing(time.perf_counter() - start, latencies)


class PeakRSS:
    """Samples one process's resident memory in a thread until the block ends."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak_bytes = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL_S):
            try:
                self.peak_bytes = max(self.peak_bytes, self.proc.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------
# Workloads: each takes a boto3 client (or a Target) and raises on any error or wrong byte.


def small_key(prefix: str, i: int) -> str:
    return f"{prefix}/{i:07d}"


def small_body(i: int) -> bytes:
    return i.to_bytes(8, "big") + _SMALL_BASE[8:]


def small_put(client: Any, bucket: str, prefix: str, count: int, concurrency: int) -> Timing:
    def op(i: int) -> None:
        client.put_object(Bucket=bucket, Key=small_key(prefix, i), Body=small_body(i))

    return run_ops(op, count, concurrency)


def small_get(client: Any, bucket: str, prefix: str, count: int, concurrency: int) -> Timing:
    def op(i: int) -> None:
        key = small_key(prefix, i)
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body != small_body(i):
            raise VerifyError(f"GET {bucket}/{key}: {len(body)} bytes differ from the "
                              f"{SMALL_SIZE} put")

    return run_ops(op, count, concurrency)


@dataclass
class LargeResult:
    put_stream_s: float = math.nan
    get_stream_s: float = math.nan
    upload_file_s: float = math.nan
    download_file_s: float = math.nan
    peak_rss_bytes: int = 0
    errors: dict[str, BaseException] = field(default_factory=dict)


# boto3's defaults (8 MiB parts, 10 threads), except the choice of transfer client: "auto"
# would switch to the CRT client (which ignores the botocore Config) on some EC2 types.
TRANSFER = TransferConfig(preferred_transfer_client="classic")


def check_md5(path: Path, md5: str, what: str) -> None:
    got = file_md5(path)
    path.unlink()
    if got != md5:
        raise VerifyError(f"{what}: MD5 {got} read back, {md5} written")


def large_put_stream(client: Any, bucket: str, key: str, src: Path) -> float:
    start = time.perf_counter()
    with open(src, "rb") as f:
        client.put_object(Bucket=bucket, Key=key, Body=f)
    return time.perf_counter() - start


def large_get_stream(client: Any, bucket: str, key: str, dst: Path, md5: str) -> float:
    start = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    with open(dst, "wb") as f:
        for piece in body.iter_chunks(MiB):
            f.write(piece)
    elapsed = time.perf_counter() - start
    check_md5(dst, md5, f"get_object {bucket}/{key}")
    return elapsed


def large_upload_file(client: Any, bucket: str, key: str, src: Path,
                      transfer: TransferConfig = TRANSFER) -> float:
    start = time.perf_counter()
    client.upload_file(str(src), bucket, key, Config=transfer)
    return time.perf_counter() - start


def large_download_file(client: Any, bucket: str, key: str, dst: Path, md5: str,
                        transfer: TransferConfig = TRANSFER) -> float:
    start = time.perf_counter()
    client.download_file(bucket, key, str(dst), Config=transfer)
    elapsed = time.perf_counter() - start
    check_md5(dst, md5, f"download_file {bucket}/{key}")
    return elapsed


def large_object(target: Target, bucket: str, src: Path, md5: str, work: Path,
                 transfer: TransferConfig = TRANSFER) -> LargeResult:
    """The single-stream pair, then the multipart pair, each uploading and reading back its
    own object; a failure is recorded in ``errors`` and the other pair still runs."""
    client = target.client(max(transfer.max_request_concurrency, 10))
    result = LargeResult()
    dst = work / f"large-{target.name}.out"
    with PeakRSS(target.server_pid) as rss:
        try:
            result.put_stream_s = large_put_stream(client, bucket, "large-stream", src)
            result.get_stream_s = large_get_stream(client, bucket, "large-stream", dst, md5)
        except Exception as exc:
            result.errors["stream"] = exc
        try:
            result.upload_file_s = large_upload_file(client, bucket, "large-multipart", src,
                                                     transfer)
            result.download_file_s = large_download_file(client, bucket, "large-multipart",
                                                         dst, md5, transfer)
        except Exception as exc:
            result.errors["multipart"] = exc
    result.peak_rss_bytes = rss.peak_bytes
    dst.unlink(missing_ok=True)
    # The objects stay: deleting them would set Plenilune's block GC going under the next
    # workload.
    return result


def list_key(i: int) -> str:
    return f"key-{i:07d}"


def fill(client: Any, bucket: str, start: int, stop: int, concurrency: int) -> Timing:
    """0-byte objects ``list_key(start) .. list_key(stop - 1)``."""
    def op(i: int) -> None:
        client.put_object(Bucket=bucket, Key=list_key(start + i), Body=b"")

    return run_ops(op, stop - start, concurrency)


def list_pages(client: Any, bucket: str, size: int, places: int = PAGE_PLACES,
               page: int = PAGE_KEYS) -> list[float]:
    """Times of ListObjectsV2 pages over a bucket holding exactly ``list_key(0 .. size-1)``:
    at ``places`` points spread through it, a page from StartAfter (none for the first) and
    the page after it by ContinuationToken. Raises VerifyError on any wrong key."""
    assert size >= 2 * page
    times = []
    for j in range(places):
        at = (size - 2 * page) * j // max(places - 1, 1)
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page}
        if at:
            args["StartAfter"] = list_key(at - 1)
        for n in range(2):
            start = time.perf_counter()
            resp = client.list_objects_v2(**args)
            times.append(time.perf_counter() - start)
            first = at + n * page
            expected = [list_key(i) for i in range(first, min(first + page, size))]
            got = [o["Key"] for o in resp.get("Contents", [])]
            if got != expected:
                raise VerifyError(f"ListObjectsV2 from {expected[0]}: {len(got)} keys, "
                                  f"first {got[:1]}, last {got[-1:]}; expected {len(expected)} "
                                  f"keys {expected[0]} .. {expected[-1]}")
            truncated = first + page < size
            if resp.get("IsTruncated", False) != truncated:
                raise VerifyError(f"ListObjectsV2 from {expected[0]}: IsTruncated "
                                  f"{resp.get('IsTruncated')}, expected {truncated}")
            if truncated:
                args = {"Bucket": bucket, "MaxKeys": page,
                        "ContinuationToken": resp["NextContinuationToken"]}
    return times


# --------------------------------------------------------------------------------------------
# The table


@dataclass
class Row:
    label: str
    fmt: str  # e.g. "{:.0f} ops/s"
    values: dict[str, float | str] = field(default_factory=dict)

    def cell(self, target: str) -> str:
        value = self.values.get(target, "-")
        return value if isinstance(value, str) else self.fmt.format(value)

    def ratio(self) -> str:
        a, b = self.values.get(PLENILUNE), self.values.get(MOTO)
        if isinstance(a, float) and isinstance(b, float) and b > 0 and math.isfinite(a):
            return f"{a / b:.2f}"
        return "-"


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.failures: list[str] = []

    def declare(self, label: str, fmt: str) -> None:
        self.rows[label] = Row(label, fmt)

    def set(self, label: str, target: str, value: float) -> None:
        self.rows[label].values[target] = float(value)

    def fail(self, labels: list[str], target: str, what: str, exc: BaseException) -> None:
        for label in labels:
            self.rows[label].values[target] = f"failed ({type(exc).__name__})"
        summary = traceback.format_exception_only(exc)[-1].strip()
        self.failures.append(f"{target}, {what}: {summary}")
        print(f"!! {target}, {what} failed:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)

    def markdown(self) -> str:
        lines = ["| workload | Plenilune | moto | ratio |", "|---|---|---|---|"]
        for row in self.rows.values():
            lines.append(f"| {row.label} | {row.cell(PLENILUNE)} | {row.cell(MOTO)} "
                         f"| {row.ratio()} |")
        return "\n".join(lines) + "\n"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The run


def n_clients(n: int) -> str:
    return f"{n} client{'' if n == 1 else 's'}"


def small_labels(conc: int) -> dict[str, tuple[str, str]]:
    clients = n_clients(conc)
    out = {}
    for op in ("PUT", "GET"):
        out[f"{op} ops"] = (f"4 KiB {op}, {clients}", "{:.0f} ops/s")
        out[f"{op} p50"] = (f"4 KiB {op}, {clients}, p50", "{:.1f} ms")
        out[f"{op} p99"] = (f"4 KiB {op}, {clients}, p99", "{:.1f} ms")
    return out


def run_small(table: Table, targets: list[Target], counts: dict[int, int]) -> None:
    for conc in SMALL_CONCURRENCY:
        labels = small_labels(conc)
        for target in targets:
            client = target.client(conc)
            prefix, count = f"c{conc}", counts[conc]
            for op, fn in (("PUT", small_put), ("GET", small_get)):
                mine = [labels[f"{op} {m}"][0] for m in ("ops", "p50", "p99")]
                progress(f"{target.name}: {count} x 4 KiB {op}, {n_clients(conc)}")
                try:
                    client.head_bucket(Bucket="bench-small")  # connected before the clock
                    t = fn(client, "bench-small", prefix, count, conc)
                except Exception as exc:
                    failed = mine if op == "GET" else [v[0] for v in labels.values()]
                    table.fail(failed, target.name, f"4 KiB {op}, {n_clients(conc)}", exc)
                    break
                table.set(mine[0], target.name, t.ops_per_s)
                table.set(mine[1], target.name, t.p(0.50) * 1000)
                table.set(mine[2], target.name, t.p(0.99) * 1000)


LARGE_ROWS = {
    "put_stream_s": "put_object, 256 MiB, one stream",
    "get_stream_s": "get_object, 256 MiB, one stream",
    "upload_file_s": "upload_file, 256 MiB (8 MiB parts, 10 threads)",
    "download_file_s": "download_file, 256 MiB (8 MiB ranges, 10 threads)",
}
LARGE_STEPS = {"stream": ("put_stream_s", "get_stream_s"),
               "multipart": ("upload_file_s", "download_file_s")}
RSS_ROW = "peak RSS of the server process (gateway / moto) during the large-object workload"


def run_large(table: Table, targets: list[Target], work: Path) -> None:
    src = work / "large.bin"
    md5 = make_file(src, LARGE_SIZE)
    with open(src, "rb") as f:  # on disk now, not written back under the first transfer
        os.fsync(f.fileno())
    try:
        for target in targets:
            progress(f"{target.name}: 256 MiB put/get, upload_file/download_file")
            try:
                result = large_object(target, "bench-large", src, md5, work)
            except Exception as exc:  # e.g. the server process is gone
                table.fail([*LARGE_ROWS.values(), RSS_ROW], target.name, "256 MiB", exc)
                continue
            for attr, label in LARGE_ROWS.items():
                seconds = getattr(result, attr)
                if math.isfinite(seconds):
                    table.set(label, target.name, LARGE_SIZE / MiB / seconds)
            for what, exc in result.errors.items():
                labels = [LARGE_ROWS[k] for k in LARGE_STEPS[what]
                          if math.isnan(getattr(result, k))]
                table.fail(labels, target.name, f"256 MiB {what}", exc)
            table.set(RSS_ROW, target.name, result.peak_rss_bytes / MiB)
    finally:
        src.unlink(missing_ok=True)


FILL_ROW = f"fill rate, 0-byte PUTs, {FILL_CONCURRENCY} clients"


def page_row(size: int) -> str:
    return f"ListObjectsV2 page of 1,000 keys, bucket of {size:,}, p50"


def run_list(table: Table, targets: list[Target], sizes: tuple[int, ...]) -> None:
    """One bucket per target, filled up to each size in turn and listed at each."""
    for target in targets:
        client = target.client(FILL_CONCURRENCY)
        filled, fill_s = 0, 0.0
        for size in sizes:
            progress(f"{target.name}: fill to {size:,} keys, then list")
            try:
                fill_s += fill(client, "bench-list", filled, size, FILL_CONCURRENCY).elapsed_s
                filled = size
            except Exception as exc:
                rest = [page_row(s) for s in sizes if s >= size]
                table.fail([*rest, FILL_ROW], target.name, f"fill to {size:,} keys", exc)
                break
            try:
                times = list_pages(client, "bench-list", size)
            except Exception as exc:
                table.fail([page_row(size)], target.name, f"list {size:,} keys", exc)
                continue
            table.set(page_row(size), target.name, percentile(times, 0.5) * 1000)
        else:
            table.set(FILL_ROW, target.name, filled / fill_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=".", help="where the cluster's data and the 256 MiB file "
                                               "live (a disk to test)")
    ap.add_argument("--out", default=str(HERE / "RESULTS_S3.md"))
    args = ap.parse_args()
    counts = SMALL_OPS_QUICK if args.quick else SMALL_OPS_FULL
    list_sizes = LIST_SIZES_QUICK if args.quick else LIST_SIZES_FULL

    table = Table()
    for conc in SMALL_CONCURRENCY:
        for label, fmt in small_labels(conc).values():
            table.declare(label, fmt)
    for label in LARGE_ROWS.values():
        table.declare(label, "{:.0f} MiB/s")
    table.declare(RSS_ROW, "{:.0f} MiB")
    table.declare(FILL_ROW, "{:.0f} PUTs/s")
    for size in list_sizes:
        table.declare(page_row(size), "{:.1f} ms")

    began = time.monotonic()
    load = os.getloadavg()[0]  # the figures mean little on a machine busy with other work
    # Absolute: the harness runs each process with its own directory as cwd.
    root = Path(tempfile.mkdtemp(prefix="plen-bench-s3-", dir=args.dir)).resolve()
    try:
        with contextlib.ExitStack() as stack:
            progress("starting the Plenilune cluster and the moto server")
            targets = [stack.enter_context(plenilune_target(root / "plenilune")),
                       stack.enter_context(moto_target(root / "moto"))]
            for target in targets:
                client = target.client(1)
                for bucket in ("bench-small", "bench-large", "bench-list"):
                    try:
                        client.create_bucket(Bucket=bucket)
                    except Exception as exc:  # the workloads on it will fail and say so
                        progress(f"{target.name}: CreateBucket {bucket} failed: {exc!r}")
            # Large first, on fresh processes, so that neither server's peak RSS carries
            # the objects of the other workloads.
            run_large(table, targets, root)
            run_small(table, targets, counts)
            run_list(table, targets, list_sizes)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    progress(f"done in {time.monotonic() - began:.0f} s")

    command = shlex.join(["python", *sys.argv])
    header = (f"# S3 benchmark\n\n{datetime.date.today()} - {os.cpu_count()} cores - "
              f"Python {platform.python_version()} - boto3 {boto3.__version__} / botocore "
              f"{botocore.__version__} - moto {_moto_version()} - load average {load:.1f} at "
              f"start - `{command}`\n\n"
              "Plenilune: 3 blockstores, RF 3, 8 MiB blocks, one gateway process. moto: "
              "`python -m moto.server`. Same client, same run, one target at a time. "
              "ratio = Plenilune / moto (above 1 is better for ops/s, PUTs/s and MiB/s, "
              "worse for ms and MiB).\n\n")
    text = header + table.markdown()
    if table.failures:
        text += "\nFailed:\n\n" + "".join(f"- {f}\n" for f in table.failures)
    print(text)
    Path(args.out).write_text(text)
    return 0


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


if __name__ == "__main__":
    sys.exit(main())
