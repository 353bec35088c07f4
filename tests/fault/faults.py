"""Shared pieces of the fault suite: a workload that records what was acknowledged, the checks
run after every fault, and the host-level tools (tmpfs, network namespaces).

Rules:

1. A write is *acknowledged* only when its door said so (S3 200, ``plen put`` exit 0). Every
   acknowledged write must read back byte for byte after the fault, through both doors.
2. Every request has a client timeout. A request that hits it counts as *hung* and fails the
   test; a refused write must carry a clear error: an S3 error code, or one ``plen:`` line on
   stderr without a traceback. Connection-level failures of the gateway itself are *unclear*.
3. Payloads are derived from their name (seeded PRNG), so only sizes and SHA-256 are kept.
4. "Healed" means: fsck says ok, and the block files on the disks of the servers that count
   agree with the nameserver: every referenced block on exactly RF of them, at the replicas
   the nameserver lists, and no block file that nothing references.
5. Nothing sleeps a fixed time; every loop has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import secrets
import shutil
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import crc32c
import pytest

from plen.auth import Credentials
from plen.client.fs import FileSystem
from tests.integration.harness import Cluster, plen_command

MiB = 1024 * 1024
S3_TIMEOUT_S = 60.0  # per request; a request slower than this is "hung"
PLEN_TIMEOUT_S = 90.0
HEAL_TIMEOUT_S = 120.0

Door = Literal["s3", "plen"]


def fault_options(**overrides: Any) -> dict[str, Any]:
    """Cluster options shared by the fault tests: 4 blockstores, RF 3, 1 MiB blocks, fast
    failure detection, and allocations that expire fast so a failed write's blocks are
    collected within a test."""
    options: dict[str, Any] = {
        "blockstores": 4, "replication": 3, "block_size": MiB, "heartbeat_interval_s": 0.5,
        "dead_after_s": 3.0, "gateway": True,
        "nameserver_args": ["--allocation-ttl", "5", "--gc-interval", "1"],
    }
    extra = list(overrides.pop("nameserver_args", []))
    options.update(overrides)
    options["nameserver_args"] = [*options["nameserver_args"], *extra]
    return options


def payload(name: str, size: int) -> bytes:
    return random.Random(f"plen-fault:{name}").randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Workload


@dataclass(frozen=True, slots=True)
class Write:
    door: Door
    name: str  # S3 key (in the workload's bucket) or plen path
    size: int

    @property
    def data(self) -> bytes:
        return payload(f"{self.door}:{self.name}", self.size)


@dataclass(slots=True)
class Outcome:
    op: Literal["write", "read"]
    write: Write
    kind: Literal["ok", "clear", "hung", "unclear", "wrong"]
    error: str = ""
    started: float = 0.0
    finished: float = 0.0


def s3_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, text) of an exception from boto3."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return "clear", f"{err.get('Code')}: {err.get('Message')}"
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return "hung", repr(exc)
    return "unclear", repr(exc)


def plen_failure(result: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    err = result.stderr.decode(errors="replace").strip()
    lines = err.splitlines()
    clear = len(lines) == 1 and lines[0].startswith("plen") and "Traceback" not in err
    return ("clear" if clear else "unclear"), err


class Workload:
    """Writes (and reads back) objects through S3 and files through ``plen`` from a bounded
    thread pool, in the background; records every outcome and what was acknowledged."""

    def __init__(self, cluster: Cluster, scratch: Path, *, bucket: str = "fault",
                 plen_dir: str = "/plenfault", workers: int = 16) -> None:
        self.cluster = cluster
        self.scratch = scratch
        self.bucket = bucket
        self.plen_dir = plen_dir
        self.workers = workers
        self.s3 = s3_client(cluster, pool=workers + 4)
        # Fixed now: the nameserver's URL stays valid across its restarts (same port), but
        # the harness only knows it again once the new process announced itself.
        self.plen_env = cluster.plen_env()
        self.acked: dict[tuple[Door, str], Write] = {}
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Any] = []
        scratch.mkdir(parents=True, exist_ok=True)

    # -- setup

    def prepare(self) -> Workload:
        from botocore.exceptions import ClientError

        try:
            self.s3.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",
                                                     "BucketAlreadyExists"):
                raise
        self.cluster.plen("mkdir", "-p", self.plen_dir)
        return self

    def writes(self, prefix: str, count: int, *, plen_every: int = 8, min_size: int = 2 * MiB,
               max_size: int = 4 * MiB) -> list[Write]:
        """``count`` writes of a few blocks each; every ``plen_every``-th goes through plen."""
        rng = random.Random(prefix)
        out = []
        for i in range(count):
            size = rng.randrange(min_size, max_size)
            if plen_every and i % plen_every == plen_every - 1:
                out.append(Write("plen", f"{self.plen_dir}/{prefix}-{i:04d}", size))
            else:
                out.append(Write("s3", f"{prefix}/obj-{i:04d}", size))
        return out

    # -- running

    def start(self, writes: Sequence[Write], *, read_back: bool = True) -> Workload:
        """Submit every write (each followed by a read of a random acknowledged item)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fault-workload")
        for i, w in enumerate(writes):
            self._futures.append(self._pool.submit(self._task, w, i if read_back else None))
        return self

    def run(self, writes: Sequence[Write], *, read_back: bool = True,
            timeout: float = 600.0) -> Workload:
        return self.start(writes, read_back=read_back).join(timeout)

    def join(self, timeout: float = 600.0) -> Workload:
        deadline = time.monotonic() + timeout
        for f in self._futures:
            f.result(timeout=max(deadline - time.monotonic(), 0.01))  # bounded; re-raises bugs
        self._futures.clear()
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def done(self) -> bool:
        """Every submitted task has finished."""
        return all(f.done() for f in self._futures)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_acked(self, n: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_count() < n:
            if time.monotonic() >= deadline:
                raise AssertionError(f"only {self.acked_count()} writes acknowledged in "
                                     f"{timeout:g}s (wanted {n}); {self.summary()}")
            time.sleep(0.05)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)
            if outcome.op == "write" and outcome.kind == "ok":
                self.acked[(outcome.write.door, outcome.write.name)] = outcome.write

    def _task(self, w: Write, read_seed: int | None) -> None:
        self._record(self.write_one(w))
        if read_seed is not None:
            with self._lock:
                done = sorted(self.acked.values(), key=lambda x: (x.door, x.name))
            if done:
                target = random.Random(read_seed).choice(done)
                self._record(self.read_one(target))

    def write_one(self, w: Write) -> Outcome:
        started = time.monotonic()
        if w.door == "s3":
            try:
                self.s3.put_object(Bucket=self.bucket, Key=w.name, Body=w.data)
            except Exception as exc:  # classified, never swallowed silently
                kind, text = s3_failure(exc)
                return Outcome("write", w, kind, text, started, time.monotonic())  # type: ignore[arg-type]
            return Outcome("write", w, "ok", "", started, time.monotonic())
        local = self.scratch / f"w-{secrets.token_hex(8)}"
        local.write_bytes(w.data)
        try:
            result = run_plen(self.cluster, "put", str(local), w.name, env=self.plen_env)
        except subprocess.TimeoutExpired:
            return Outcome("write", w, "hung", "plen put timed out", started, time.monotonic())
        finally:
            local.unlink(missing_ok=True)
        if result.returncode == 0:
            return Outcome("write", w, "ok", "", started, time.monotonic())
        kind, text = plen_failure(result)
        return Outcome("write", w, kind, text, started, time.monotonic())  # type: ignore[arg-type]

    def read_one(self, w: Write, door: Door | None = None) -> Outcome:
        started = time.monotonic()
        door = door or w.door
        try:
            data = read_item(self.cluster, self.s3, self.bucket, w, door=door,
                             env=self.plen_env)
        except subprocess.TimeoutExpired:
            return Outcome("read", w, "hung", "plen get timed out", started, time.monotonic())
        except ReadError as exc:
            return Outcome("read", w, exc.kind, exc.text, started,  # type: ignore[arg-type]
                           time.monotonic())
        if sha256(data) != sha256(w.data):
            return Outcome("read", w, "wrong", first_difference(data, w.data), started,
                           time.monotonic())
        return Outcome("read", w, "ok", "", started, time.monotonic())

    # -- judging

    def summary(self) -> str:
        with self._lock:
            counts = Counter(f"{o.op}:{o.write.door}:{o.kind}" for o in self.outcomes)
            errors = Counter(o.error.split("\n")[0][:120] for o in self.outcomes
                             if o.kind != "ok")
        parts = [f"{k}={v}" for k, v in sorted(counts.items())]
        top = "; ".join(f"{v}x {k!r}" for k, v in errors.most_common(5))
        return ", ".join(parts) + (f"; errors: {top}" if top else "")

    def failures(self, *, op: str | None = None,
                 kinds: Iterable[str] = ("hung", "unclear", "wrong")) -> list[Outcome]:
        wanted = set(kinds)
        with self._lock:
            return [o for o in self.outcomes if o.kind in wanted and (op is None or o.op == op)]

    def assert_no_hang_or_unclear_error(self, *, reads_must_succeed: bool = False) -> None:
        bad = self.failures()
        if reads_must_succeed:
            bad += self.failures(op="read", kinds=("clear",))
        assert not bad, (f"{len(bad)} bad outcomes, e.g. "
                         + "; ".join(f"{o.op} {o.write.door}:{o.write.name} {o.kind}: "
                                     f"{o.error[:300]}" for o in bad[:5])
                         + f"\n{self.summary()}")

    def writes_acked_after(self, moment: float) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes
                       if o.op == "write" and o.kind == "ok" and o.started >= moment)


class ReadError(Exception):
    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


def s3_client(cluster: Cluster, *, pool: int = 10) -> Any:
    """boto3 with client timeouts and no retries: each request either answers in time or
    counts as hung."""
    return cluster.s3_client(connect_timeout=5, read_timeout=S3_TIMEOUT_S,
                             retries={"mode": "standard", "total_max_attempts": 1},
                             max_pool_connections=pool)


def run_plen(cluster: Cluster, *args: str, timeout: float = PLEN_TIMEOUT_S,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*plen_command(), *args], capture_output=True, timeout=timeout,
                          env=env or cluster.plen_env(), cwd=cluster.tmp_path,
                          stdin=subprocess.DEVNULL)


def read_item(cluster: Cluster, s3: Any, bucket: str, w: Write, *, door: Door,
              env: dict[str, str] | None = None) -> bytes:
    """The bytes of an item through ``door`` (an S3 object is read through plen at its
    namespace path, a plen file through S3 at its bucket/key)."""
    if w.door == "s3":
        bucket_name, key, path = bucket, w.name, f"/{bucket}/{w.name}"
    else:
        path = w.name
        bucket_name, _, key = w.name.lstrip("/").partition("/")
    if door == "s3":
        try:
            resp = s3.get_object(Bucket=bucket_name, Key=key)
            with contextlib.closing(resp["Body"]) as body:
                return body.read()
        except Exception as exc:
            kind, text = s3_failure(exc)
            raise ReadError(kind, text) from exc
    result = run_plen(cluster, "get", path, "-", env=env)
    if result.returncode != 0:
        kind, text = plen_failure(result)
        raise ReadError(kind, text)
    return result.stdout


def first_difference(got: bytes, want: bytes) -> str:
    if len(got) != len(want):
        return f"read {len(got)} bytes, wrote {len(want)}"
    at = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    return f"bytes differ from offset {at} (block {at // MiB})"


def verify_all(cluster: Cluster, workload: Workload, *, doors: Sequence[Door] = ("s3", "plen"),
               workers: int = 8) -> None:
    """Every acknowledged item reads back byte for byte through every door in ``doors``
    (plen reads are process starts: limited to the plen items plus a sample of objects)."""
    items = sorted(workload.acked.values(), key=lambda w: (w.door, w.name))
    jobs: list[tuple[Write, Door]] = []
    for i, w in enumerate(items):
        for door in doors:
            if door == "plen" and w.door == "s3" and i % 10:
                continue  # a tenth of the objects through plen too
            jobs.append((w, door))
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda job: workload.read_one(*job), jobs))
    bad = [o for o in outcomes if o.kind != "ok"]
    assert not bad, (f"{len(bad)} of {len(outcomes)} reads of acknowledged items failed, e.g. "
                     + "; ".join(f"{o.write.door}:{o.write.name} -> {o.kind}: {o.error[:200]}"
                                 for o in bad[:5]))


# --------------------------------------------------------------------------------------------
# The nameserver's view, fsck, the disks


@dataclass(slots=True)
class BlockRef:
    crc32c: int
    holders: set[str]  # server ids the nameserver lists (live ones)
    paths: list[str] = field(default_factory=list)


async def _referenced_blocks(url: str, credentials: Credentials) -> dict[str, BlockRef]:
    refs: dict[str, BlockRef] = {}
    sem = asyncio.Semaphore(16)
    async with FileSystem(url, credentials=credentials) as fs:
        paths = [f"/{item.key}" async for item in fs.iter_walk("/")
                 if getattr(item.entry, "kind", "") == "file"]

        async def one(path: str) -> None:
            async with sem:
                try:
                    entry = await fs.stat_file(path, with_blocks=True)
                except Exception as exc:  # deleted meanwhile: only a "not found" is fine
                    if "not" in str(exc).lower() and "found" in str(exc).lower():
                        return
                    raise
            for b in entry.blocks:
                ref = refs.setdefault(b.block_id, BlockRef(b.crc32c, set()))
                ref.holders |= {r.server_id for r in b.replicas}
                ref.paths.append(path)

        await asyncio.gather(*(one(p) for p in paths))
    return refs


def referenced_blocks(cluster: Cluster) -> dict[str, BlockRef]:
    """block id -> what the nameserver says about it, for every file in the namespace."""
    return asyncio.run(_referenced_blocks(cluster.nameserver_url, cluster.credentials))


def fsck(cluster: Cluster) -> dict[str, Any]:
    report = cluster.ns_post("fsck", {}, timeout=30)
    assert isinstance(report, dict), report
    return report


@dataclass(slots=True)
class Census:
    refs: dict[str, BlockRef]
    disk: dict[str, list[str]]  # block id -> blockstore names (only those counted)
    problems: list[str]


def census(cluster: Cluster, among: Sequence[str]) -> Census:
    """Compare the block files on the disks of ``among`` with the nameserver's block map."""
    refs = referenced_blocks(cluster)
    disk = {bid: [n for n in names if n in among]
            for bid, names in cluster.block_files().items()}
    disk = {bid: names for bid, names in disk.items() if names}
    sid = {n: cluster.server_id(n) for n in among}
    problems = []
    for bid, names in sorted(disk.items()):
        if bid not in refs:
            problems.append(f"orphan block file {bid} on {names}")
    for bid, ref in sorted(refs.items()):
        on_disk = {sid[n] for n in disk.get(bid, [])}
        if len(on_disk) != cluster.replication:
            problems.append(f"block {bid} has files on {len(on_disk)} servers "
                            f"({sorted(disk.get(bid, []))}), not {cluster.replication}")
        elif ref.holders != on_disk:
            problems.append(f"block {bid}: nameserver lists {sorted(ref.holders)}, "
                            f"disks hold {sorted(on_disk)}")
    return Census(refs, disk, problems)


def block_file_ok(path: Path, want_crc: int | None = None) -> bool:
    """A block file's bytes match its CRC32C trailer (and the nameserver's CRC if given)."""
    data = path.read_bytes()
    if len(data) < 4:
        return False
    crc = crc32c.crc32c(data[:-4])
    return crc == struct.unpack(">I", data[-4:])[0] and (want_crc is None or crc == want_crc)


def corrupt_replicas(cluster: Cluster, cen: Census) -> list[str]:
    bad = []
    for bid, names in cen.disk.items():
        ref = cen.refs.get(bid)
        for n in names:
            path = cluster.block_path(n, bid)
            with contextlib.suppress(FileNotFoundError):
                if not block_file_ok(path, ref.crc32c if ref else None):
                    bad.append(f"{bid} on {n}")
    return bad


def running_blockstores(cluster: Cluster) -> list[str]:
    return [n for n in cluster.blockstore_names
            if cluster.is_running(n) and not cluster.process(n).paused]


def nudge(cluster: Cluster, among: Sequence[str], *, ns_doors: bool = True,
          block_reports: bool = False, missing: set[str] | None = None) -> None:
    """Run the background duties once now instead of waiting for their timers. A door that
    is not there (404) is noted in ``missing``; the timers still run."""
    ops = ("membership/run-once", "repair/run-once", "gc/run-once") if ns_doors else ()
    for op in ops:
        try:
            cluster.admin(op, timeout=60)
        except (AssertionError, OSError) as exc:
            if missing is not None:
                missing.add(f"nameserver {op}: {str(exc)[:120]}")
    bs_ops = ["heartbeat/run-once"] + (["block-report/run-once"] if block_reports else [])
    for name in among:
        for op in bs_ops:
            try:
                status, body = cluster.bs_admin(name, op, timeout=60)
            except OSError as exc:
                status, body = 0, repr(exc)
            if status != 200 and missing is not None:
                missing.add(f"{name} {op}: HTTP {status} {str(body)[:120]}")


def heal(cluster: Cluster, *, among: Sequence[str] | None = None,
         timeout: float = HEAL_TIMEOUT_S, ns_doors: bool = True,
         check_contents: bool = True) -> dict[str, Any]:
    """Wait (nudging the duties) until fsck is ok and the disks of ``among`` (default: every
    running, unpaused blockstore) agree with it; returns the last fsck report."""
    names = list(among) if among is not None else running_blockstores(cluster)
    deadline = time.monotonic() + timeout
    missing: set[str] = set()
    last_fsck: Any = None
    last_census: Census | None = None
    rounds = 0
    while True:
        cluster._assert_no_unexpected_exit()
        nudge(cluster, names, ns_doors=ns_doors, block_reports=rounds % 4 == 3,
              missing=missing)
        rounds += 1
        try:
            last_fsck = fsck(cluster)
        except (AssertionError, OSError) as exc:
            last_fsck = f"fsck failed: {exc}"
        try:
            last_census = census(cluster, names)
        except Exception as exc:
            last_census = Census({}, {}, [f"census failed: {exc!r}"])
        if isinstance(last_fsck, dict) and last_fsck.get("ok") and not last_census.problems:
            break
        if time.monotonic() >= deadline:
            problems = last_census.problems if last_census else []
            raise AssertionError(
                f"not healed after {timeout:g}s: fsck={_short(last_fsck)}; "
                f"{len(problems)} census problems, e.g. {problems[:5]}; "
                f"doors missing/failing: {sorted(missing)[:6]}\n\n{cluster.logs_tail(25)}")
        time.sleep(0.5)
    if check_contents:
        bad = corrupt_replicas(cluster, last_census)
        assert not bad, f"{len(bad)} block files fail their CRC after healing: {bad[:5]}"
    return last_fsck


def _short(report: Any) -> str:
    if not isinstance(report, dict):
        return str(report)[:300]
    return str({k: (v[:5] if isinstance(v, list) else v) for k, v in report.items()})[:600]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, cluster: Cluster,
             interval: float = 0.2) -> Any:
    """Bounded wait that also fails at once if a cluster process crashed."""
    return cluster.wait_for(predicate, timeout, what, interval=interval)


# --------------------------------------------------------------------------------------------
# Host tools: tmpfs and network namespaces (root only; the test skips with the reason)


def _root_or_skip(what: str) -> None:
    if os.geteuid() != 0:
        reason = f"{what} needs root"
        print(f"SKIP: {reason}")
        pytest.skip(reason)


@contextlib.contextmanager
def mounted_tmpfs(path: Path, size_bytes: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_bytes`` at ``path`` for the block; always unmounted after."""
    _root_or_skip("mounting a tmpfs")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}",
                             "plen-fault", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs at {path}: {result.stderr.strip()}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        yield path
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@dataclass(frozen=True, slots=True)
class NetnsLink:
    netns: str
    host_if: str  # the root-namespace end of the veth pair
    host_addr: str  # address on host_if (servers in the root namespace bind it)
    ns_addr: str  # address inside the namespace

    def set_link(self, up: bool) -> None:
        _ip("link", "set", self.host_if, "up" if up else "down")


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *(["netns", "exec", netns, "ip"] if netns else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {result.stderr.strip()}")


def _free_subnet() -> str:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    used += subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    rng = random.Random()
    for _ in range(100):
        prefix = f"10.{rng.randrange(160, 250)}.{rng.randrange(1, 250)}"
        if f"{prefix}." not in used:
            return prefix
    raise OSError("no free 10.x.y.0/24 subnet for the test")


_netns_counter = 0


@contextlib.contextmanager
def netns_link() -> Iterator[NetnsLink]:
    """A network namespace joined to the root namespace by a veth pair on a private /24;
    both ends up. Skips (with the reason) when it cannot be made; always removed after."""
    global _netns_counter
    _root_or_skip("network namespaces")
    if shutil.which("ip") is None:
        pytest.skip("no ip command")
    _netns_counter += 1
    tag = f"{os.getpid() % 100000:05d}{_netns_counter % 100:02d}"
    link = NetnsLink(netns=f"plenfault-{tag}", host_if=f"pf{tag}h",
                     host_addr="", ns_addr="")
    prefix = _free_subnet()
    link = NetnsLink(link.netns, link.host_if, f"{prefix}.1", f"{prefix}.2")
    peer = f"pf{tag}n"
    made_ns = made_link = False
    try:
        _ip("netns", "add", link.netns)
        made_ns = True
        _ip("link", "add", link.host_if, "type", "veth", "peer", "name", peer)
        made_link = True
        _ip("link", "set", peer, "netns", link.netns)
        _ip("addr", "add", f"{link.host_addr}/24", "dev", link.host_if)
        _ip("link", "set", link.host_if, "up")
        _ip("addr", "add", f"{link.ns_addr}/24", "dev", peer, netns=link.netns)
        _ip("link", "set", peer, "up", netns=link.netns)
        _ip("link", "set", "lo", "up", netns=link.netns)
    except OSError as exc:
        _netns_cleanup(link, made_ns, made_link)
        reason = f"cannot set up a network namespace: {exc}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        yield link
    finally:
        _netns_cleanup(link, made_ns, made_link)


def _netns_cleanup(link: NetnsLink, made_ns: bool, made_link: bool) -> None:
    if made_link:
        subprocess.run(["ip", "link", "del", link.host_if], capture_output=True)
    if made_ns:
        subprocess.run(["ip", "netns", "del", link.netns], capture_output=True)


class StatusSampler:
    """Polls cluster-status in the background (bounded by ``stop()``/the context), keeping
    the largest value seen of each numeric field, e.g. to see bytes at risk during a repair."""

    def __init__(self, cluster: Cluster, interval: float = 0.2) -> None:
        self.cluster = cluster
        self.interval = interval
        self.peak: dict[str, float] = {}
        self.samples = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-sampler", daemon=True)

    def __enter__(self) -> StatusSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.cluster.cluster_status()
            except (AssertionError, OSError, ValueError):
                self.errors += 1
            else:
                self.samples += 1
                for k, v in status.items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        self.peak[k] = max(self.peak.get(k, v), v)
            self._stop.wait(self.interval)


# --------------------------------------------------------------------------------------------
# Block files


def flip_bytes(path: Path, count: int = 16) -> None:
    """Invert ``count`` bytes in the middle of a block file's data (not its CRC trailer)."""
    size = path.stat().st_size
    at = max((size - 4) // 2 - count // 2, 0)
    with open(path, "r+b") as f:
        f.seek(at)
        data = f.read(count)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in data))
        f.flush()
        os.fsync(f.fileno())


def quarantined(cluster: Cluster, name: str, block_id: str) -> list[Path]:
    """Files of ``block_id`` in blockstore ``name``'s quarantine directory."""
    qdir = cluster.data_dir(name) / "quarantine"
    if not qdir.is_dir():
        return []
    return sorted(p for p in qdir.iterdir() if p.name.startswith(f"{block_id}."))


def blocks_of(cluster: Cluster, path: str) -> list[tuple[str, list[str]]]:
    """(block id, names of the blockstores the nameserver lists for it) for a file."""
    st = cluster.ns_post("stat", {"path": path, "with_blocks": True})
    out = []
    for b in st["file"]["blocks"]:
        out.append((b["block_id"], [cluster.name_of(r["server_id"]) for r in b["replicas"]]))
    return out


def item_path(workload: Workload, w: Write) -> str:
    return f"/{workload.bucket}/{w.name}" if w.door == "s3" else w.name
