"""The performance benchmark: Plenilune's S3 gateway beside every peer S3 server that runs here
(bench/peers.py: moto, s3rver, Swift + s3api) and beside the machine's own limits, measured in
the same run with the same client and parameters for every target.

    python bench/bench_s3.py --quick     # about 3-4 minutes on 2 cores
    python bench/bench_s3.py             # full: 2 GiB objects, 1,000,000 keys; an hour or more
    python bench/bench_s3.py --quick --targets plenilune,moto --workloads small,list

Targets, real processes on loopback, started, measured and stopped one after the other:
  plenilune  tests/integration/harness.py Cluster(gateway=True, block_size=8 MiB): Redis, a
             nameserver, 3 blockstores (RF 3) and the gateway (one worker per core);
  moto, s3rver, swift   bench/peers.py's starters; a peer that cannot be installed or
             started here is printed with the reason and left out.

Limits, measured first on the file system of --dir (where every target keeps its data):
  disk write   sequential 1 MiB writes then fsync (bench_dfs.disk_write_mbps);
  disk read    the same file read back after fsync and POSIX_FADV_DONTNEED (not the page cache);
  loopback     one TCP connection between two processes (bench_repair.loopback_tcp_mbps);
  MD5, CRC32C  of this Python, one core (hashlib; plen.checksum, what blocks are checked with).
  client       the benchmark's own put_object / get_object (one stream) against
               bench/null_s3.py, a server that drops what it gets and sends a file with
               sendfile: the most this client reaches here, whatever the server.
  Ceilings: a replicated PUT on one machine writes every byte RF (3) times, so disk write / 3;
  a GET reads once and crosses loopback, so min(disk read, loopback).

Workloads, in this order on each target (every byte read back is checked):
  large   for each size (256 MiB; full mode also 2 GiB): put_object from the open file and
          get_object streamed to a file (one stream), then upload_file / download_file
          (boto3's multipart transfer: 8 MiB parts, 10 threads); MD5 of every copy back.
          Runs first, on fresh processes: the peak memory (PSS) meanwhile is the "streaming" figure.
  copy    CopyObject of a 1 MiB object and of a 256 MiB (full: 1 GiB) object, each put in
          one stream (the large workload's when it has one), copied 3 times to new keys, each
          copy timed, read back and its MD5 checked; the median time is reported.
          Then CompleteMultipartUpload of a 20 MiB and of that large object, each uploaded
          in 4 parts, 3 times: only the Complete call is timed; sizes (and once the MD5)
          checked. Constant time means equal times for both sizes.
  1 MiB   PUTs then GETs of 1 MiB objects, 8 clients; ops/s and MiB/s.
  small   4 KiB PUT, GET and DELETE at 1, 8 and 64 clients (threads sharing one boto3
          client); ops/s, p50, p99; every GET compared with its key's bytes, and after the
          DELETEs a ListObjectsV2 of the prefix must be empty.
  list    one bucket filled by concurrent 0-byte PUTs (fill rate reported) to 10,000 keys
          (full: then 100,000 and 1,000,000); ListObjectsV2 pages of 1,000 keys at 5 places
          through it (StartAfter, then the ContinuationToken page after), p50, every key
          checked. For a peer, a size whose fill would take over 30 min (--quick: 1 min)
          at the rate seen so far (the first 1,000 keys measure it) is skipped, with the
          reason in its cell; Plenilune always fills every size (the issue's 1,000,000-key
          target is about it).
  stream  (full mode, or asked for) Plenilune only: one 5 GiB object (S3's largest single
          PUT), made up on the fly, put_object and get_object in one stream each, MD5
          checked; the gateway tree's peak memory (PSS) meanwhile is the issue's figure.
  memory  peak resident memory of each server, sampled all through its run: the sum over
          the peer's processes (Peer.pids) and their children; Plenilune's gateway process
          and its workers (the rest of the cluster is reported beside it).

A workload that fails on a target (an S3 error, a wrong byte) is reported as failed, with its
traceback on stderr, and the run goes on. Every loop is bounded by an operation count. Prints
the table, the ratios Plenilune / peer and Plenilune / limit and issue 6's targets marked met
or not met from this run's ratios, and writes the same to bench/RESULTS.md. Figures only:
the exit code is 0 whatever they say.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import hashlib
import importlib.metadata
import io
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

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # bench.* and tests.integration.harness, from the repo
    sys.path.insert(0, str(HERE.parent))

from bench.bench_dfs import MiB, disk_write_mbps, file_md5, make_file  # noqa: E402
from bench.bench_repair import loopback_tcp_mbps  # noqa: E402
from bench.null_s3 import client_mbps  # noqa: E402
from bench.peers import REGION, STARTERS, Peer, PeerUnavailableError  # noqa: E402
from plen.checksum import crc32c  # noqa: E402
from tests.integration.harness import Cluster  # noqa: E402

PLENILUNE = "plenilune"
PEERS = tuple(STARTERS)  # moto, s3rver, swift
RF = 3
GiB = 1024 * MiB

SMALL_SIZE = 4 * 1024
SMALL_CONCURRENCY = (1, 8, 64)
SMALL_OPS_QUICK = {1: 100, 8: 200, 64: 384}
SMALL_OPS_FULL = {1: 500, 8: 2000, 64: 6400}
MEDIUM_SIZE = MiB
MEDIUM_CONCURRENCY = 8
MEDIUM_OPS_QUICK = 48
MEDIUM_OPS_FULL = 256
LARGE_SIZES_QUICK = (256 * MiB,)
LARGE_SIZES_FULL = (256 * MiB, 2 * GiB)
COPY_SMALL = MiB
COPY_LARGE_QUICK = 256 * MiB
COPY_LARGE_FULL = GiB
COPY_REPEATS = 3  # copies of each size, to new keys; the median is reported
COMPLETE_PARTS = 4
COMPLETE_SMALL = COMPLETE_PARTS * 5 * MiB  # S3's smallest parts
STREAM_SIZE = 5 * GiB  # S3's largest single PUT: the issue's gateway-memory target
LIST_SIZES_QUICK = (10_000,)
LIST_SIZES_FULL = (10_000, 100_000, 1_000_000)
FILL_CONCURRENCY = 64
FILL_BATCH = 10_000  # futures submitted at once: 1,000,000 of them would not fit
FILL_PROBE = 1000  # keys put first, to project how long a fill will take
FILL_BUDGET_QUICK_S = 60.0  # a list size whose fill would take longer is skipped
FILL_BUDGET_FULL_S = 30 * 60.0
PAGE_KEYS = 1000
PAGE_PLACES = 5
RSS_INTERVAL_S = 0.05
PROBE_QUICK = 256 * MiB  # bytes through each limit probe
PROBE_FULL = GiB
WORKLOADS = ("large", "copy", "medium", "small", "list", "stream")
QUICK_WORKLOADS = WORKLOADS[:-1]  # --quick leaves the 5 GiB stream out unless asked

# One random 4 KiB body; each key's bytes start with its own index, so a GET answered with
# another key's object is caught as surely as a damaged one.
_SMALL_BASE = os.urandom(SMALL_SIZE)
_MEDIUM_BASE = os.urandom(MEDIUM_SIZE)


class VerifyError(AssertionError):
    """Data read back differs from what was written."""


# --------------------------------------------------------------------------------------------
# Targets


@contextlib.contextmanager
def plenilune_target(root: Path) -> Iterator[Peer]:
    """A Plenilune cluster with its gateway, as a ``Peer`` (``pids``: the gateway process,
    whose workers are its children; ``cluster_pids``: every process of the cluster)."""
    began = time.monotonic()
    cluster = Cluster(root, gateway=True, block_size=8 * MiB)
    try:
        cluster.start()
        pid = cluster.pid(Cluster.GATEWAY)
        assert pid is not None
        others = tuple(p for n in cluster.names if n != Cluster.GATEWAY
                       if (p := cluster.pid(n)) is not None)
        yield PlenilunePeer(
            PLENILUNE, importlib.metadata.version("plenilune"), cluster.gateway_url,
            cluster.s3_access_key, cluster.s3_secret_key, REGION, pid, (pid,), root,
            time.monotonic() - began, checks_sigv4=True,
            notes=f"Redis + nameserver + {len(cluster.blockstore_names)} blockstores, "
                  "8 MiB blocks, gateway with one worker per core",
            persists=True, replicas=RF, cluster_pids=(pid, *others))
    finally:
        cluster.stop()


@dataclass(frozen=True)
class PlenilunePeer(Peer):
    cluster_pids: tuple[int, ...] = ()


def start_targets(names: list[str]) -> dict[str, Callable[[Path], Any]]:
    starters: dict[str, Callable[[Path], Any]] = {PLENILUNE: plenilune_target}
    starters.update(STARTERS)
    return {n: starters[n] for n in names}


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


def tree_rss(pids: tuple[int, ...]) -> int:
    """Resident bytes of ``pids`` and all their descendants, each process counted once and
    each page they share (a forked worker's, a Swift server's) split between them (PSS), so
    the sum is what the group holds."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            seen[pid] = proc
            for child in proc.children(recursive=True):
                seen[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    total = 0
    for proc in seen.values():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_full_info().pss
    return total


class PeakRSS:
    """Samples the summed resident memory of some processes (and their children) in a thread
    until the block ends."""

    def __init__(self, pids: tuple[int, ...]) -> None:
        self.pids = pids
        self.peak_bytes = tree_rss(pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL_S):
            self.peak_bytes = max(self.peak_bytes, tree_rss(self.pids))

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------
# Limits


def disk_read_mbps(directory: Path, size: int) -> float:
    """Sequential read of a ``size``-byte file written and fsynced first, then dropped from
    the page cache (POSIX_FADV_DONTNEED), in 1 MiB reads: the disk's read pace."""
    path = directory / "disk-read-probe"
    chunk = os.urandom(MiB)
    with open(path, "wb", buffering=0) as f:
        for _ in range(size // MiB):
            f.write(chunk)
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        start = time.perf_counter()
        with open(path, "rb", buffering=0) as f:
            while f.read(MiB):
                pass
        return size / MiB / (time.perf_counter() - start)
    finally:
        path.unlink()


def hash_mbps(update: Callable[[bytes], object], size: int) -> float:
    chunk = os.urandom(MiB)
    start = time.perf_counter()
    for _ in range(size // MiB):
        update(chunk)
    return size / MiB / (time.perf_counter() - start)


def crc32c_mbps(size: int) -> float:
    state = [0]

    def update(chunk: bytes) -> None:
        state[0] = crc32c(chunk, state[0])

    return hash_mbps(update, size)


@dataclass(frozen=True)
class Limits:
    disk_write: float  # MiB/s
    disk_read: float
    loopback: float
    md5: float
    crc32c: float
    client_put: float  # boto3 against bench/null_s3.py: what the client itself reaches
    client_get: float

    @property
    def put_ceiling(self) -> float:
        return self.disk_write / RF

    @property
    def get_ceiling(self) -> float:
        return min(self.disk_read, self.loopback)


def measure_limits(directory: Path, size: int) -> Limits:
    progress(f"limits: disk write, disk read, loopback, MD5, CRC32C, the client against a "
             f"null endpoint ({size // MiB} MiB each)")
    client_put, client_get = client_mbps(directory, size, large_put_stream, large_get_stream)
    return Limits(disk_write=disk_write_mbps(directory, size),
                  disk_read=disk_read_mbps(directory, size),
                  loopback=loopback_tcp_mbps(size),
                  md5=hash_mbps(hashlib.md5().update, size),
                  crc32c=crc32c_mbps(size), client_put=client_put, client_get=client_get)


# --------------------------------------------------------------------------------------------
# Workloads: each takes a boto3 client (or a target) and raises on any error or wrong byte.


def small_key(prefix: str, i: int) -> str:
    return f"{prefix}/{i:07d}"


def small_body(i: int) -> bytes:
    return i.to_bytes(8, "big") + _SMALL_BASE[8:]


def medium_body(i: int) -> bytes:
    return i.to_bytes(8, "big") + _MEDIUM_BASE[8:]


def put_objects(client: Any, bucket: str, prefix: str, count: int, concurrency: int,
                body: Callable[[int], bytes] = small_body) -> Timing:
    def op(i: int) -> None:
        client.put_object(Bucket=bucket, Key=small_key(prefix, i), Body=body(i))

    return run_ops(op, count, concurrency)


def get_objects(client: Any, bucket: str, prefix: str, count: int, concurrency: int,
                body: Callable[[int], bytes] = small_body) -> Timing:
    def op(i: int) -> None:
        key = small_key(prefix, i)
        got = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != body(i):
            raise VerifyError(f"GET {bucket}/{key}: {len(got)} bytes differ from the "
                              f"{len(body(i))} put")

    return run_ops(op, count, concurrency)


def small_put(client: Any, bucket: str, prefix: str, count: int, concurrency: int) -> Timing:
    return put_objects(client, bucket, prefix, count, concurrency)


def small_get(client: Any, bucket: str, prefix: str, count: int, concurrency: int) -> Timing:
    return get_objects(client, bucket, prefix, count, concurrency)


def small_delete(client: Any, bucket: str, prefix: str, count: int,
                 concurrency: int) -> Timing:
    """DeleteObject of ``small_key(prefix, 0 .. count-1)``; VerifyError if any key is still
    listed afterwards."""
    def op(i: int) -> None:
        client.delete_object(Bucket=bucket, Key=small_key(prefix, i))

    timing = run_ops(op, count, concurrency)
    left = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", MaxKeys=10)
    if left.get("KeyCount", 0) or left.get("Contents"):
        keys = [o["Key"] for o in left.get("Contents", [])]
        raise VerifyError(f"after {count} DELETEs under {bucket}/{prefix}/ still listed: {keys}")
    return timing


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


def large_object(target: Peer, bucket: str, src: Path, md5: str, work: Path,
                 transfer: TransferConfig = TRANSFER, tag: str = "") -> LargeResult:
    """The single-stream pair, then the multipart pair, each uploading and reading back its
    own object (``large-stream{tag}``, ``large-multipart{tag}``); a failure is recorded in
    ``errors`` and the other pair still runs. The objects stay (CopyObject reuses them)."""
    client = target.client(max(transfer.max_request_concurrency, 10))
    result = LargeResult()
    dst = work / f"large-{target.name}.out"
    with PeakRSS(target.pids) as rss:
        try:
            result.put_stream_s = large_put_stream(client, bucket, f"large-stream{tag}", src)
            result.get_stream_s = large_get_stream(client, bucket, f"large-stream{tag}", dst,
                                                   md5)
        except Exception as exc:
            result.errors["stream"] = exc
        try:
            result.upload_file_s = large_upload_file(client, bucket, f"large-multipart{tag}",
                                                     src, transfer)
            result.download_file_s = large_download_file(client, bucket,
                                                         f"large-multipart{tag}", dst, md5,
                                                         transfer)
        except Exception as exc:
            result.errors["multipart"] = exc
    result.peak_rss_bytes = rss.peak_bytes
    dst.unlink(missing_ok=True)
    return result


def stream_md5(client: Any, bucket: str, key: str) -> str:
    md5 = hashlib.md5()
    for piece in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(MiB):
        md5.update(piece)
    return md5.hexdigest()


def timed_copy(client: Any, bucket: str, src_key: str, dst_key: str, md5: str) -> float:
    """CopyObject ``src_key`` -> ``dst_key`` in one bucket, timed; the copy is read back and
    its MD5 compared with ``md5``."""
    start = time.perf_counter()
    client.copy_object(Bucket=bucket, Key=dst_key,
                       CopySource={"Bucket": bucket, "Key": src_key})
    elapsed = time.perf_counter() - start
    got = stream_md5(client, bucket, dst_key)
    if got != md5:
        raise VerifyError(f"CopyObject {bucket}/{src_key} -> {dst_key}: MD5 {got} read back, "
                          f"{md5} written")
    return elapsed


def timed_complete(client: Any, bucket: str, key: str, src: Path, md5: str,
                   check: bool) -> float:
    """A multipart upload of the whole of ``src`` in ``COMPLETE_PARTS`` equal parts, of which
    only CompleteMultipartUpload is timed; the result's size is checked, and with ``check``
    its bytes (MD5) too."""
    size = src.stat().st_size
    part = size // COMPLETE_PARTS
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        etags = []
        with open(src, "rb") as f:
            for n in range(COMPLETE_PARTS):
                body = f.read(part if n < COMPLETE_PARTS - 1 else size - n * part)
                etags.append(client.upload_part(Bucket=bucket, Key=key, UploadId=upload,
                                                PartNumber=n + 1, Body=body)["ETag"])
                del body
        parts = [{"ETag": etag, "PartNumber": n + 1} for n, etag in enumerate(etags)]
        start = time.perf_counter()
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                         MultipartUpload={"Parts": parts})
        elapsed = time.perf_counter() - start
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise
    got = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if got != size:
        raise VerifyError(f"CompleteMultipartUpload {bucket}/{key}: {got} bytes, not {size}")
    if check and (got_md5 := stream_md5(client, bucket, key)) != md5:
        raise VerifyError(f"CompleteMultipartUpload {bucket}/{key}: MD5 {got_md5} read "
                          f"back, {md5} written")
    return elapsed


class PatternFile(io.RawIOBase):
    """A seekable read-only file of ``size`` bytes made up on the fly (a random base of an
    odd length, repeated), so an object of many GiB needs neither memory nor disk here."""

    _BASE = os.urandom(MiB + 4099)

    def __init__(self, size: int) -> None:
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        n = max(0, min(len(out), self._size - self._pos))
        done = 0
        while done < n:
            at = (self._pos + done) % len(self._BASE)
            take = min(n - done, len(self._BASE) - at)
            out[done:done + take] = self._BASE[at:at + take]
            done += take
        self._pos += n
        return n

    def md5(self) -> str:
        digest = hashlib.md5()
        self.seek(0)
        while piece := self.read(8 * MiB):
            digest.update(piece)
        self.seek(0)
        return digest.hexdigest()


def list_key(i: int) -> str:
    return f"key-{i:07d}"


def fill(client: Any, bucket: str, start: int, stop: int, concurrency: int) -> Timing:
    """0-byte objects ``list_key(start) .. list_key(stop - 1)``, in batches."""
    elapsed, latencies = 0.0, []
    for lo in range(start, stop, FILL_BATCH):
        hi = min(lo + FILL_BATCH, stop)

        def op(i: int, lo: int = lo) -> None:
            client.put_object(Bucket=bucket, Key=list_key(lo + i), Body=b"")

        t = run_ops(op, hi - lo, concurrency)
        elapsed += t.elapsed_s
        latencies += t.latencies_s
    return Timing(elapsed, latencies)


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
    higher_better: bool
    limit: float | None = None  # the ceiling this figure is measured against
    values: dict[str, float | str] = field(default_factory=dict)

    def number(self, target: str) -> float | None:
        value = self.values.get(target)
        return value if isinstance(value, float) and math.isfinite(value) else None

    def cell(self, target: str) -> str:
        value = self.values.get(target, "-")
        return value if isinstance(value, str) else self.fmt.format(value)

    def ratio(self, target: str) -> float | None:
        a, b = self.number(PLENILUNE), self.number(target)
        return a / b if a is not None and b else None

    def limit_ratio(self) -> float | None:
        a = self.number(PLENILUNE)
        return a / self.limit if a is not None and self.limit else None


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.failures: list[str] = []

    def declare(self, label: str, fmt: str, higher_better: bool = True,
                limit: float | None = None) -> None:
        self.rows.setdefault(label, Row(label, fmt, higher_better, limit))

    def set(self, label: str, target: str, value: float) -> None:
        self.rows[label].values[target] = float(value)

    def note(self, label: str, target: str, text: str) -> None:
        self.rows[label].values[target] = text

    def fail(self, labels: list[str], target: str, what: str, exc: BaseException) -> None:
        for label in labels:
            self.rows[label].values[target] = f"failed ({type(exc).__name__})"
        summary = traceback.format_exception_only(exc)[-1].strip()
        self.failures.append(f"{target}, {what}: {summary}")
        print(f"!! {target}, {what} failed:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)

    def markdown(self, targets: list[str]) -> str:
        peers = [t for t in targets if t != PLENILUNE]
        head = ["workload", "Plenilune"]
        for peer in peers:
            head += [peer, f"P/{peer}"]
        head += ["limit", "P/limit"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows.values():
            cells = [row.label, row.cell(PLENILUNE)]
            for peer in peers:
                cells += [row.cell(peer), fmt_ratio(row.ratio(peer))]
            limit = "-" if row.limit is None else row.fmt.format(row.limit)
            cells += [limit, fmt_ratio(row.limit_ratio())]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The run: row labels, then one function per workload, each filling its rows for one target


def n_clients(n: int) -> str:
    return f"{n} client{'' if n == 1 else 's'}"


def size_name(size: int) -> str:
    return f"{size // GiB} GiB" if size >= GiB and size % GiB == 0 else f"{size // MiB} MiB"


SMALL_OPS = ("PUT", "GET", "DELETE")


def small_labels(op: str, conc: int) -> tuple[str, str, str]:
    base = f"4 KiB {op}, {n_clients(conc)}"
    return base, f"{base}, p50", f"{base}, p99"


def run_small(table: Table, target: Peer, counts: dict[int, int]) -> None:
    fns = {"PUT": small_put, "GET": small_get, "DELETE": small_delete}
    for conc in SMALL_CONCURRENCY:
        client = target.client(conc)
        prefix, count = f"c{conc}", counts[conc]
        for i, op in enumerate(SMALL_OPS):
            labels = small_labels(op, conc)
            progress(f"{target.name}: {count} x 4 KiB {op}, {n_clients(conc)}")
            try:
                client.head_bucket(Bucket="bench-small")  # connected before the clock
                t = fns[op](client, "bench-small", prefix, count, conc)
            except Exception as exc:
                failed = [lab for o in SMALL_OPS[i:] for lab in small_labels(o, conc)]
                table.fail(failed, target.name, f"4 KiB {op}, {n_clients(conc)}", exc)
                break
            table.set(labels[0], target.name, t.ops_per_s)
            table.set(labels[1], target.name, t.p(0.50) * 1000)
            table.set(labels[2], target.name, t.p(0.99) * 1000)


MEDIUM_ROWS = {op: (f"1 MiB {op}, {MEDIUM_CONCURRENCY} clients",
                    f"1 MiB {op}, {MEDIUM_CONCURRENCY} clients, MiB/s") for op in ("PUT", "GET")}


def run_medium(table: Table, target: Peer, count: int) -> None:
    client = target.client(MEDIUM_CONCURRENCY)
    for op, fn in (("PUT", put_objects), ("GET", get_objects)):
        progress(f"{target.name}: {count} x 1 MiB {op}, {MEDIUM_CONCURRENCY} clients")
        try:
            client.head_bucket(Bucket="bench-medium")
            t = fn(client, "bench-medium", "m", count, MEDIUM_CONCURRENCY, medium_body)
        except Exception as exc:
            rows = [lab for o in (("PUT", "GET") if op == "PUT" else ("GET",))
                    for lab in MEDIUM_ROWS[o]]
            table.fail(rows, target.name, f"1 MiB {op}", exc)
            return
        table.set(MEDIUM_ROWS[op][0], target.name, t.ops_per_s)
        table.set(MEDIUM_ROWS[op][1], target.name, t.ops_per_s * MEDIUM_SIZE / MiB)


def large_rows(size: int) -> dict[str, str]:
    s = size_name(size)
    return {"put_stream_s": f"put_object, {s}, one stream",
            "get_stream_s": f"get_object, {s}, one stream",
            "upload_file_s": f"upload_file, {s} (multipart: 8 MiB parts, 10 threads)",
            "download_file_s": f"download_file, {s} (8 MiB ranges, 10 threads)"}


LARGE_STEPS = {"stream": ("put_stream_s", "get_stream_s"),
               "multipart": ("upload_file_s", "download_file_s")}
PUT_ATTRS = ("put_stream_s", "upload_file_s")
RSS_LARGE_ROW = "peak memory (PSS) of the server while large objects stream (gateway tree / peer)"
RSS_RUN_ROW = "peak memory (PSS) of the server over its whole run (gateway tree / peer)"
RSS_CLUSTER_ROW = "peak memory (PSS) of the whole Plenilune cluster over its run (information)"


@dataclass
class SourceFiles:
    """The random files large objects are uploaded from, made once for every target."""

    work: Path
    files: dict[int, tuple[Path, str]] = field(default_factory=dict)

    def get(self, size: int) -> tuple[Path, str]:
        if size not in self.files:
            path = self.work / f"source-{size_name(size).replace(' ', '')}.bin"
            progress(f"making a {size_name(size)} source file")
            md5 = make_file(path, size)
            with open(path, "rb") as f:  # on disk now, not written back under a transfer
                os.fsync(f.fileno())
            self.files[size] = (path, md5)
        return self.files[size]

    def remove(self) -> None:
        for path, _ in self.files.values():
            path.unlink(missing_ok=True)


def run_large(table: Table, target: Peer, sizes: tuple[int, ...], sources: SourceFiles,
              work: Path) -> None:
    peak = 0
    for size in sizes:
        src, md5 = sources.get(size)
        rows = large_rows(size)
        progress(f"{target.name}: {size_name(size)} put/get, upload_file/download_file")
        try:
            result = large_object(target, "bench-large", src, md5, work,
                                  tag=f"-{size_name(size).replace(' ', '')}")
        except Exception as exc:  # e.g. the server process is gone
            table.fail(list(rows.values()), target.name, size_name(size), exc)
            continue
        for attr, label in rows.items():
            seconds = getattr(result, attr)
            if math.isfinite(seconds):
                table.set(label, target.name, size / MiB / seconds)
        for what, exc in result.errors.items():
            labels = [rows[k] for k in LARGE_STEPS[what] if math.isnan(getattr(result, k))]
            table.fail(labels, target.name, f"{size_name(size)} {what}", exc)
        peak = max(peak, result.peak_rss_bytes)
    if peak:
        table.set(RSS_LARGE_ROW, target.name, peak / MiB)


def copy_row(size: int) -> str:
    return f"CopyObject, {size_name(size)} object, median of {COPY_REPEATS}"


def complete_row(size: int) -> str:
    return (f"CompleteMultipartUpload, {size_name(size)} in {COMPLETE_PARTS} parts, "
            f"median of {COPY_REPEATS}")


def run_copy(table: Table, target: Peer, big: int, sources: SourceFiles,
             large_sizes: tuple[int, ...]) -> None:
    client = target.client(10)
    for size in (COMPLETE_SMALL, big):
        progress(f"{target.name}: CompleteMultipartUpload of {size_name(size)}")
        tag = size_name(size).replace(" ", "")
        try:
            path, md5 = sources.get(size)
            times = [timed_complete(client, "bench-large", f"complete-{tag}-{n}", path, md5,
                                    check=n == 0) for n in range(COPY_REPEATS)]
        except Exception as exc:
            table.fail([complete_row(size)], target.name,
                       f"CompleteMultipartUpload {size_name(size)}", exc)
            continue
        table.set(complete_row(size), target.name, percentile(times, 0.5) * 1000)
    for size in (COPY_SMALL, big):
        progress(f"{target.name}: CopyObject of {size_name(size)}")
        tag = size_name(size).replace(" ", "")
        src_key = f"large-stream-{tag}"
        try:
            path, md5 = sources.get(size)
            if size not in large_sizes or not client.list_objects_v2(
                    Bucket="bench-large", Prefix=src_key).get("KeyCount"):
                large_put_stream(client, "bench-large", src_key, path)
            times = [timed_copy(client, "bench-large", src_key, f"copy-{tag}-{n}", md5)
                     for n in range(COPY_REPEATS)]
        except Exception as exc:
            table.fail([copy_row(size)], target.name, f"CopyObject {size_name(size)}", exc)
            continue
        table.set(copy_row(size), target.name, percentile(times, 0.5) * 1000)


FILL_ROW = f"fill rate, 0-byte PUTs, {FILL_CONCURRENCY} clients"


def page_row(size: int) -> str:
    return f"ListObjectsV2 page of 1,000 keys, bucket of {size:,}, p50"


def run_list(table: Table, target: Peer, sizes: tuple[int, ...], budget_s: float) -> None:
    """One bucket, filled up to each size in turn and listed at each. Before a size is
    filled, the time it would take is projected from the fill rate so far (the first
    FILL_PROBE keys measure it); a size over ``budget_s`` is skipped, with the reason."""
    client = target.client(FILL_CONCURRENCY)
    filled, fill_s = 0, 0.0
    for size in sizes:
        progress(f"{target.name}: fill to {size:,} keys, then list")
        try:
            if not filled:
                probe = min(FILL_PROBE, size)
                fill_s += fill(client, "bench-list", 0, probe, FILL_CONCURRENCY).elapsed_s
                filled = probe
            eta = (size - filled) / (filled / fill_s)
            if eta > budget_s:
                why = (f"skipped: filling to {size:,} keys would take ~{eta / 60:.1f} min at "
                       f"{filled / fill_s:.0f} PUTs/s (budget {budget_s / 60:g} min)")
                progress(f"{target.name}: {why}")
                for s in sizes[sizes.index(size):]:
                    table.note(page_row(s), target.name, why)
                break
            fill_s += fill(client, "bench-list", filled, size, FILL_CONCURRENCY).elapsed_s
            filled = size
        except Exception as exc:
            rest = [page_row(s) for s in sizes if s >= size]
            table.fail([*rest, FILL_ROW], target.name, f"fill to {size:,} keys", exc)
            return
        try:
            times = list_pages(client, "bench-list", size)
        except Exception as exc:
            table.fail([page_row(size)], target.name, f"list {size:,} keys", exc)
            continue
        table.set(page_row(size), target.name, percentile(times, 0.5) * 1000)
    if filled:
        table.set(FILL_ROW, target.name, filled / fill_s)


STREAM_ROWS = {"put": f"put_object, {size_name(STREAM_SIZE)}, one stream (Plenilune only)",
               "get": f"get_object, {size_name(STREAM_SIZE)}, one stream (Plenilune only)",
               "rss": f"peak memory (PSS) of the gateway tree while {size_name(STREAM_SIZE)} "
                      "streams in and out"}


def run_stream(table: Table, target: Peer, size: int = STREAM_SIZE) -> None:
    """One object of S3's largest single-PUT size, in and out in one stream each, made up
    on the fly; its MD5 is checked on the way back. Plenilune only: it measures the
    gateway's memory (the issue's target), and would take minutes more on every peer."""
    if target.name != PLENILUNE:
        for label in STREAM_ROWS.values():
            table.note(label, target.name, "not run (Plenilune only)")
        return
    client = target.client(1)
    source = PatternFile(size)
    progress(f"{target.name}: MD5 of the {size_name(size)} pattern")
    md5 = source.md5()
    with PeakRSS(target.pids) as rss:
        try:
            progress(f"{target.name}: put_object of {size_name(size)}")
            start = time.perf_counter()
            client.put_object(Bucket="bench-large", Key="stream", Body=source)
            table.set(STREAM_ROWS["put"], target.name,
                      size / MiB / (time.perf_counter() - start))
            progress(f"{target.name}: get_object of {size_name(size)}")
            start = time.perf_counter()
            got = stream_md5(client, "bench-large", "stream")
            table.set(STREAM_ROWS["get"], target.name,
                      size / MiB / (time.perf_counter() - start))
            if got != md5:
                raise VerifyError(f"get_object bench-large/stream: MD5 {got}, {md5} written")
            client.delete_object(Bucket="bench-large", Key="stream")
        except Exception as exc:
            table.fail(list(STREAM_ROWS.values()), target.name, "5 GiB stream", exc)
            return
    table.set(STREAM_ROWS["rss"], target.name, rss.peak_bytes / MiB)


@dataclass(frozen=True)
class Plan:
    quick: bool
    workloads: tuple[str, ...]
    small_ops: dict[int, int]
    medium_ops: int
    large_sizes: tuple[int, ...]
    copy_size: int
    list_sizes: tuple[int, ...]
    fill_budget_s: float


def declare_rows(table: Table, plan: Plan, limits: Limits | None) -> None:
    put_ceiling = limits.put_ceiling if limits else None
    get_ceiling = limits.get_ceiling if limits else None
    if "large" in plan.workloads:
        for size in plan.large_sizes:
            for attr, label in large_rows(size).items():
                table.declare(label, "{:.0f} MiB/s", True,
                              put_ceiling if attr in PUT_ATTRS else get_ceiling)
        table.declare(RSS_LARGE_ROW, "{:.0f} MiB", False)
    if "copy" in plan.workloads:
        for size in (COPY_SMALL, plan.copy_size):
            table.declare(copy_row(size), "{:.0f} ms", False)
        for size in (COMPLETE_SMALL, plan.copy_size):
            table.declare(complete_row(size), "{:.0f} ms", False)
    if "medium" in plan.workloads:
        for op in ("PUT", "GET"):
            table.declare(MEDIUM_ROWS[op][0], "{:.0f} ops/s", True)
            table.declare(MEDIUM_ROWS[op][1], "{:.0f} MiB/s", True,
                          put_ceiling if op == "PUT" else get_ceiling)
    if "small" in plan.workloads:
        for conc in SMALL_CONCURRENCY:
            for op in SMALL_OPS:
                ops, p50, p99 = small_labels(op, conc)
                table.declare(ops, "{:.0f} ops/s", True)
                table.declare(p50, "{:.1f} ms", False)
                table.declare(p99, "{:.1f} ms", False)
    if "list" in plan.workloads:
        table.declare(FILL_ROW, "{:.0f} PUTs/s", True)
        for size in plan.list_sizes:
            table.declare(page_row(size), "{:.1f} ms", False)
    if "stream" in plan.workloads:
        table.declare(STREAM_ROWS["put"], "{:.0f} MiB/s", True, put_ceiling)
        table.declare(STREAM_ROWS["get"], "{:.0f} MiB/s", True, get_ceiling)
        table.declare(STREAM_ROWS["rss"], "{:.0f} MiB", False)
    table.declare(RSS_RUN_ROW, "{:.0f} MiB", False)


BUCKETS = ("bench-small", "bench-medium", "bench-large", "bench-list")


def run_target(table: Table, target: Peer, plan: Plan, sources: SourceFiles,
               work: Path) -> None:
    client = target.client(1)
    for bucket in BUCKETS:
        try:
            client.create_bucket(Bucket=bucket)
        except Exception as exc:  # the workloads on it will fail and say so
            progress(f"{target.name}: CreateBucket {bucket} failed: {exc!r}")
    cluster_pids = getattr(target, "cluster_pids", ())
    with PeakRSS(target.pids) as rss, PeakRSS(cluster_pids or target.pids) as cluster_rss:
        # Large first, on fresh processes: the streaming RSS carries no other workload.
        if "large" in plan.workloads:
            run_large(table, target, plan.large_sizes, sources, work)
        if "copy" in plan.workloads:
            run_copy(table, target, plan.copy_size, sources,
                     plan.large_sizes if "large" in plan.workloads else ())
        if "medium" in plan.workloads:
            run_medium(table, target, plan.medium_ops)
        if "small" in plan.workloads:
            run_small(table, target, plan.small_ops)
        if "list" in plan.workloads:
            run_list(table, target, plan.list_sizes,
                     math.inf if target.name == PLENILUNE else plan.fill_budget_s)
        if "stream" in plan.workloads:
            run_stream(table, target)
    table.set(RSS_RUN_ROW, target.name, rss.peak_bytes / MiB)
    if cluster_pids:
        table.declare(RSS_CLUSTER_ROW, "{:.0f} MiB", False)
        table.set(RSS_CLUSTER_ROW, target.name, cluster_rss.peak_bytes / MiB)


# --------------------------------------------------------------------------------------------
# Issue 6's targets, judged from this run's figures


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def judge(table: Table, plan: Plan, limits: Limits | None, ran: list[str]) -> list[str]:
    out = []
    rows = table.rows
    big = max(plan.large_sizes)
    large = large_rows(big) if "large" in plan.workloads else {}

    def figures(labels: list[str]) -> list[tuple[str, float]]:
        return [(lab, v) for lab in labels if lab in rows
                if (v := rows[lab].number(PLENILUNE)) is not None]

    if limits and large:
        puts = figures([large[a] for a in PUT_ATTRS])
        want = 0.5 * limits.put_ceiling
        worst = min((v for _, v in puts), default=None)
        out.append(f"Large PUT ({size_name(big)}) >= 0.5 x disk write / RF = {want:.0f} "
                   f"MiB/s: slowest {fmt_mib(worst)} -> "
                   f"{verdict(None if worst is None else worst >= want)}")
        gets = figures([large["get_stream_s"], large["download_file_s"]])
        want = 0.5 * limits.loopback
        worst = min((v for _, v in gets), default=None)
        out.append(f"Large GET ({size_name(big)}) >= 0.5 x loopback = {want:.0f} MiB/s: "
                   f"slowest {fmt_mib(worst)} -> "
                   f"{verdict(None if worst is None else worst >= want)}")
        stream_put = figures([large["put_stream_s"]])
        stream_get = figures([large["get_stream_s"]])
        if stream_put and stream_get:
            out.append(f"(information) the client alone, one stream against a null endpoint: "
                       f"PUT {limits.client_put:.0f} MiB/s, GET {limits.client_get:.0f} MiB/s; "
                       f"Plenilune's one-stream PUT is {stream_put[0][1] / limits.client_put:.2f}"
                       f" of it, its GET {stream_get[0][1] / limits.client_get:.2f}")
    else:
        out.append("Large PUT / GET against the limits -> not measured")

    if "small" in plan.workloads and "moto" in ran:
        ratios = [(lab, rows[lab].ratio("moto")) for conc in SMALL_CONCURRENCY
                  for op in ("PUT", "GET") for lab in [small_labels(op, conc)[0]]]
        known = [(lab, r) for lab, r in ratios if r is not None]
        behind = [f"{lab} {r:.2f}" for lab, r in known if r < 1]
        ok = None if len(known) < len(ratios) else not behind
        out.append("4 KiB PUT and GET ops/s >= moto's at 1, 8 and 64 clients -> "
                   f"{verdict(ok)}" + (f" (behind: {'; '.join(behind)})" if behind else ""))
    else:
        out.append("4 KiB PUT and GET ops/s >= moto's -> not measured (needs moto and small)")

    if "swift" in ran:
        behind, compared = [], 0
        for row in rows.values():
            r = row.ratio("swift")
            if r is None or row.label in (RSS_CLUSTER_ROW,):
                continue
            compared += 1
            if (r < 1) if row.higher_better else (r > 1):
                behind.append(f"{row.label} ({r:.2f})")
        out.append(f"Ahead of Swift on every workload ({compared} figures compared) -> "
                   f"{verdict(not behind if compared else None)}"
                   + (f"; behind on {len(behind)}: {'; '.join(behind)}" if behind else ""))
    else:
        out.append("Ahead of Swift on every workload -> not measured (Swift did not run)")

    if "list" in plan.workloads:
        small = rows[page_row(10_000)].number(PLENILUNE) if 10_000 in plan.list_sizes else None
        top = rows[page_row(1_000_000)].number(PLENILUNE) \
            if 1_000_000 in plan.list_sizes else None
        if small is not None and top is not None:
            out.append(f"List page at 1,000,000 keys <= 1.2 x page at 10,000: {top:.1f} ms / "
                       f"{small:.1f} ms = {top / small:.2f} -> {verdict(top <= 1.2 * small)}")
        else:
            sizes = [s for s in plan.list_sizes if rows[page_row(s)].number(PLENILUNE)]
            extra = ""
            if small is not None and len(sizes) > 1:
                last = rows[page_row(sizes[-1])].number(PLENILUNE) or math.nan
                extra = f" (at {sizes[-1]:,}: {last / small:.2f} x the page at 10,000)"
            out.append("List page at 1,000,000 keys <= 1.2 x page at 10,000 -> not measured"
                       f"{' (full mode only)' if plan.quick else ''}{extra}")

    rss = rows[STREAM_ROWS["rss"]].number(PLENILUNE) if STREAM_ROWS["rss"] in rows else None
    if rss is not None:
        out.append(f"Gateway memory (PSS) < 300 MB while a {size_name(STREAM_SIZE)} object "
                   f"streams: {rss * MiB / 1e6:.0f} MB -> {verdict(rss * MiB < 300e6)}")
    else:
        rss = rows[RSS_LARGE_ROW].number(PLENILUNE) if RSS_LARGE_ROW in rows else None
        out.append(f"Gateway memory (PSS) < 300 MB while a {size_name(STREAM_SIZE)} object "
                   f"streams -> not measured (the stream workload did not run"
                   + ("" if rss is None else f"; {rss * MiB / 1e6:.0f} MB while "
                      f"{size_name(big)} objects streamed") + ")")

    if "copy" in plan.workloads:
        for what, small, row in (("CopyObject", COPY_SMALL, copy_row),
                                 ("CompleteMultipartUpload", COMPLETE_SMALL, complete_row)):
            a = rows[row(small)].number(PLENILUNE)
            b = rows[row(plan.copy_size)].number(PLENILUNE)
            ok = None if a is None or b is None else b <= 2 * a + 20
            out.append(f"{what} in constant time: {size_name(small)} "
                       f"{'-' if a is None else f'{a:.0f} ms'}, {size_name(plan.copy_size)} "
                       f"{'-' if b is None else f'{b:.0f} ms'} (met: the larger within 2 x + "
                       f"20 ms of the smaller) -> {verdict(ok)}")
    return out


def fmt_mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MiB/s"


# --------------------------------------------------------------------------------------------


def parse_list(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--targets", default=",".join((PLENILUNE, *PEERS)),
                    help="comma-separated, from: plenilune, " + ", ".join(PEERS))
    ap.add_argument("--workloads", default=None,
                    help="comma-separated, from: " + ", ".join(WORKLOADS) + " (default: all; "
                         "with --quick all but stream)")
    ap.add_argument("--no-limits", action="store_true", help="skip the limit probes")
    ap.add_argument("--dir", default=".", help="where every target's data and the source "
                                               "files live (a disk to test)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    names = parse_list(args.targets, (PLENILUNE, *PEERS), "target")
    workloads = tuple(parse_list(
        args.workloads or ",".join(QUICK_WORKLOADS if args.quick else WORKLOADS), WORKLOADS,
        "workload"))
    plan = Plan(quick=args.quick, workloads=workloads,
                small_ops=SMALL_OPS_QUICK if args.quick else SMALL_OPS_FULL,
                medium_ops=MEDIUM_OPS_QUICK if args.quick else MEDIUM_OPS_FULL,
                large_sizes=LARGE_SIZES_QUICK if args.quick else LARGE_SIZES_FULL,
                copy_size=COPY_LARGE_QUICK if args.quick else COPY_LARGE_FULL,
                list_sizes=LIST_SIZES_QUICK if args.quick else LIST_SIZES_FULL,
                fill_budget_s=FILL_BUDGET_QUICK_S if args.quick else FILL_BUDGET_FULL_S)

    began = time.monotonic()
    load = os.getloadavg()  # the figures mean little on a machine busy with other work
    # Absolute: the harness runs each process with its own directory as cwd.
    root = Path(tempfile.mkdtemp(prefix="plen-bench-s3-", dir=args.dir)).resolve()
    table = Table()
    described: list[str] = []
    unavailable: list[str] = []
    ran: list[str] = []
    limits: Limits | None = None
    sources = SourceFiles(root)
    try:
        if not args.no_limits:
            limits = measure_limits(root, PROBE_QUICK if args.quick else PROBE_FULL)
        declare_rows(table, plan, limits)
        for name, starter in start_targets(names).items():
            progress(f"starting {name}")
            try:
                with starter(root / name) as target:
                    described.append(
                        f"| {name} | {target.version} | {'yes' if target.checks_sigv4 else 'no'}"
                        f" | {'yes' if target.persists else 'no'} | {target.replicas} "
                        f"| {target.startup_s:.1f} s | {target.notes} |")
                    progress(f"{name} {target.version} ready in {target.startup_s:.1f} s")
                    ran.append(name)
                    run_target(table, target, plan, sources, root)
            except PeerUnavailableError as exc:
                unavailable.append(f"- {name}: unavailable: {exc}")
                progress(f"{name}: unavailable: {exc}")
            except Exception as exc:  # a target that would not start: the others still run
                table.failures.append(f"{name}: {type(exc).__name__}: {exc}")
                progress(f"{name} failed: {exc!r}")
                traceback.print_exc()
    finally:
        sources.remove()
        shutil.rmtree(root, ignore_errors=True)
    wall = time.monotonic() - began
    progress(f"done in {wall:.0f} s")

    command = shlex.join(["python", "bench/bench_s3.py", *sys.argv[1:]])
    text = (f"# Performance benchmark: Plenilune beside peer S3 servers and the machine's "
            f"limits\n\n{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} - "
            f"{os.cpu_count()} cores - load average {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f} at start, {os.getloadavg()[0]:.2f} at end - mode "
            f"{'quick' if args.quick else 'full'} - wall time {wall:.0f} s - Python "
            f"{platform.python_version()} - boto3 {boto3.__version__} / botocore "
            f"{botocore.__version__} - `{command}`\n\n")
    text += ("## Targets\n\n| target | version | checks SigV4 | persists | copies kept "
             "| startup | notes |\n|---|---|---|---|---|---|---|\n" + "\n".join(described)
             + "\n" + ("\n" + "\n".join(unavailable) + "\n" if unavailable else ""))
    if limits:
        text += (f"\n## Limits (file system of --dir, this Python)\n\n| measure | figure |\n"
                 f"|---|---|\n| disk sequential write + fsync | {limits.disk_write:.0f} MiB/s |\n"
                 f"| disk sequential read (page cache dropped) | {limits.disk_read:.0f} MiB/s |\n"
                 f"| loopback TCP, one connection, two processes | {limits.loopback:.0f} MiB/s |\n"
                 f"| MD5, one core | {limits.md5:.0f} MiB/s |\n"
                 f"| CRC32C, one core | {limits.crc32c:.0f} MiB/s |\n"
                 f"| this client (boto3 put_object, one stream) against a null endpoint "
                 f"that reads and drops | {limits.client_put:.0f} MiB/s |\n"
                 f"| this client (boto3 get_object, one stream) against a null endpoint "
                 f"that answers with sendfile | {limits.client_get:.0f} MiB/s |\n"
                 f"| ceiling: replicated PUT = disk write / RF {RF} | "
                 f"{limits.put_ceiling:.0f} MiB/s |\n"
                 f"| ceiling: GET = min(disk read, loopback) | {limits.get_ceiling:.0f} MiB/s |\n")
    text += ("\n## Figures\n\nSame client (boto3, path-style, SigV4), same parameters, one "
             "target at a time. P/x = Plenilune / x: above 1 is better for ops/s, PUTs/s and "
             "MiB/s, worse for ms and MiB. The limit column is the ceiling a figure is "
             "measured against.\n\n" + table.markdown(ran))
    text += "\n## Issue 6's targets, from this run\n\n" + "".join(
        f"- {line}\n" for line in judge(table, plan, limits, ran))
    if table.failures:
        text += "\n## Failed\n\n" + "".join(f"- {f}\n" for f in table.failures)
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
