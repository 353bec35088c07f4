"""Peer S3 servers on loopback, for benchmarks that measure Plenilune beside them.

    python bench/peers.py        # or, from the repository root: python -m bench.peers

starts each peer in turn, puts a 1 MiB object, gets it back, lists the bucket (boto3, SigV4,
path-style) and prints one line per peer: ``ok`` with its version, startup time and the round
trip's times, or ``unavailable`` and the reason. Installs happen on the first run.

In a benchmark::

    with contextlib.ExitStack() as stack:
        peers = []
        for name, starter in STARTERS.items():   # moto, s3rver, swift
            try:
                peers.append(stack.enter_context(starter(root / name)))
            except PeerUnavailableError as exc:
                print(f"{name}: unavailable: {exc}")   # and go on without it
        for peer in peers:
            client = peer.client(max_pool_connections=8)
            ... PeakRSS(peer.pid) ...                  # the process that serves S3

Rules:

1. Each starter (``moto_server(tmp)``, ``s3rver(tmp)``, ``swift_s3api(tmp)``) is a context
   manager. It starts real processes on 127.0.0.1, waits (bounded, ``STARTUP_TIMEOUT_S``)
   until a ListBuckets signed with SigV4 by boto3 is answered, yields a ``Peer``, and on exit
   stops exactly the processes it started, by PID (the harness's ``ManagedProcess``: SIGTERM,
   then SIGKILL).
2. A peer that cannot be installed or started raises ``PeerUnavailableError`` with a one-line
   reason. Nothing here is a test: no assertion about a peer's speed or behaviour.
3. Installs are pinned, happen on first use under ``~/.cache/plenilune-bench``
   (``$XDG_CACHE_HOME/plenilune-bench``) behind a lock file, and never touch the project's
   own environment:
     moto     the project's environment (``moto[server]`` of the ``test`` extra); nothing
              installed here.
     s3rver   ``npm install --prefix <cache>/s3rver-3.7.1 s3rver@3.7.1``.
     Swift    a venv of its own, ``<cache>/swift-2.38.3``: ``pip install swift==2.38.3``
              (eventlet, greenlet, lxml, PasteDeploy, xattr, dnspython, and PyECLib, whose
              wheel carries liberasurecode: no Debian package needed for Swift itself), and
              Debian's ``memcached`` (``apt-get install memcached`` when it is missing and we
              are root), which a Swift proxy needs for tempauth tokens and for caching
              account and container info.
4. What each peer is:
     moto     ``python -m moto.server``: in memory; checks no signature.
     s3rver   Node, objects in files under ``tmp``; checks that the access key id exists
              but not the SigV4 signature (its V4 check is unimplemented upstream).
     swift    an all-in-one Swift on loopback: memcached; a proxy with s3api and tempauth
              (SigV4 verified); an account and a container server, each with three devices;
              three object servers, one device each; account, container and object rings of
              three replicas over three zones, built with Swift's RingBuilder (the code
              behind ``swift-ring-builder``). Objects are files with their metadata in user
              xattrs, so ``tmp`` must be on a file system that has them (checked first). No
              replicators, updaters or auditors: nothing fails during a benchmark. Every
              Swift server runs ``workers = 0``, one process, so ``pid`` (the proxy) is where
              its S3 work runs, as in Plenilune's single gateway process.
5. Ports: moto and s3rver bind port 0 and the port is read back from their log. Swift's
   ports are written into its rings (the proxy's and memcached's into the proxy's conf)
   before its servers start, so they come from ``free_port()``; if one is taken in between,
   the servers stop and start again on fresh ports with rebuilt rings.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # tests.integration.harness, from the repository
    sys.path.insert(0, str(HERE.parent))

from tests.integration.harness import (  # noqa: E402
    ManagedProcess,
    ProcessExited,
    child_env,
    free_port,
    http_request,
    start_process,
)

REGION = "us-east-1"
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 600.0
PROBE_INTERVAL_S = 0.2  # between two ListBuckets probes: each costs a little CPU
MiB = 1024 * 1024

S3RVER_VERSION = "3.7.1"
SWIFT_VERSION = "2.38.3"
SWIFT_PART_POWER = 8  # 256 partitions: plenty for 3 devices
SWIFT_REPLICAS = 3
SWIFT_PORT_ATTEMPTS = 3


class PeerUnavailableError(Exception):
    """A peer that cannot be installed or started here; ``str()`` is a one-line reason."""


@dataclass(frozen=True)
class Peer:
    """A running peer S3 server, as a benchmark needs it."""

    name: str
    version: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    pid: int  # the process that serves S3: sample its peak RSS
    pids: tuple[int, ...]  # every process the peer runs, ``pid`` included
    data_dir: Path  # what it stores (moto: only its log; objects in memory)
    startup_s: float  # from the starter's first step (installs excluded) to ready
    checks_sigv4: bool  # False: any signature (moto: any key) is accepted
    notes: str = ""
    persists: bool = False  # objects survive a restart (on disk, fsynced or not)
    replicas: int = 1  # copies of each object it keeps

    def client(self, max_pool_connections: int = 10, **config: Any) -> Any:
        """A boto3 S3 client for this peer, path-style, SigV4 (boto3's default)."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(max_pool_connections=max_pool_connections,
                          s3={"addressing_style": "path"}, **config))


# --------------------------------------------------------------------------------------------
# Shared machinery


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "plenilune-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _install_lock(name: str) -> Iterator[None]:
    """One installer at a time per package, across processes."""
    with open(cache_dir() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _one_line(exc: BaseException) -> str:
    return _last_line(f"{type(exc).__name__}: {exc}")


def _run_step(what: str, argv: list[str], *, env: dict[str, str] | None = None) -> None:
    """Run an install or setup command to its end; PeerUnavailableError with its last line of
    output if it fails."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env,
                              timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PeerUnavailableError(f"{what} did not finish in {INSTALL_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise PeerUnavailableError(f"{what}: {_one_line(exc)}") from None
    if done.returncode != 0:
        raise PeerUnavailableError(f"{what} failed (exit {done.returncode}): "
                              f"{_last_line(done.stdout)}")


class _ListBuckets:
    """Readiness probe: a SigV4-signed ListBuckets through boto3, at most every
    ``PROBE_INTERVAL_S``. ``url()`` returns None while the port is not known yet."""

    def __init__(self, url: Callable[[], str | None], access_key: str, secret_key: str) -> None:
        self.url = url
        self.access_key = access_key
        self.secret_key = secret_key
        self.last_error = "no answer yet"
        self._client: Any = None
        self._client_url: str | None = None
        self._next_at = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self._next_at:
            return False
        self._next_at = now + PROBE_INTERVAL_S
        url = self.url()
        if url is None:
            return False
        if self._client_url != url:
            self._client = boto3.session.Session().client(
                "s3", endpoint_url=url, region_name=REGION, aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                config=Config(s3={"addressing_style": "path"}, connect_timeout=1,
                              read_timeout=5, retries={"max_attempts": 1}))
            self._client_url = url
        try:
            self._client.list_buckets()
        except (BotoCoreError, ClientError) as exc:
            self.last_error = _one_line(exc)
            return False
        return True


def _port_from_log(proc: ManagedProcess, pattern: re.Pattern[str]) -> Callable[[], str | None]:
    """For a server started on port 0: its URL once its log says which port it bound."""
    def url() -> str | None:
        if not proc.port:
            # Only what this start wrote: the log is appended to across starts.
            match = pattern.search(proc.log_tail(20).rpartition("--- harness: start")[2])
            if match is None:
                return None
            proc.port = int(match.group(1))
        return f"http://{HOST}:{proc.port}"

    return url


def _start(proc: ManagedProcess, *, retry_port: Callable[[], int] | None = None,
           probe: _ListBuckets | None = None, timeout: float = STARTUP_TIMEOUT_S) -> int:
    """Start ``proc`` and wait until its probe passes; its PID, or PeerUnavailableError."""
    try:
        start_process(proc, timeout=timeout, retry_port=retry_port)
    except ProcessExited as exc:
        raise PeerUnavailableError(f"{exc.brief}: {_last_line(proc.log_tail(15))}") from None
    except AssertionError:  # not ready in time; start_process has killed it
        why = f"last probe: {probe.last_error}" if probe is not None else "no answer"
        raise PeerUnavailableError(f"{proc.name} not ready in {timeout:g} s ({why}); "
                              f"log {proc.log_path}") from None
    assert proc.pid is not None
    return proc.pid


# --------------------------------------------------------------------------------------------
# moto


MOTO_LISTENING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")


@contextlib.contextmanager
def moto_server(tmp: Path) -> Iterator[Peer]:
    """``python -m moto.server`` from the project's environment, in memory."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise PeerUnavailableError("moto with its server extra is not installed "
                              "(it comes with the project's test extra: pip install '.[test]')")
    began = time.monotonic()
    tmp = tmp.resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "moto", command=lambda port: [sys.executable, "-m", "moto.server", "-H", HOST,
                                      "-p", str(port)],
        cwd=tmp, log_path=tmp / "moto.log", env=child_env(), probe=lambda: False)
    probe = _ListBuckets(_port_from_log(proc, MOTO_LISTENING), "bench", "bench")
    proc.probe = probe
    try:
        pid = _start(proc, probe=probe)
        yield Peer("moto", importlib.metadata.version("moto"), f"http://{HOST}:{proc.port}",
                   "bench", "bench", REGION, pid, (pid,), tmp, time.monotonic() - began,
                   checks_sigv4=False, notes="in memory; any key and signature accepted",
                   persists=False, replicas=1)
    finally:
        proc.terminate()


# --------------------------------------------------------------------------------------------
# s3rver


S3RVER_LISTENING = re.compile(r"S3rver listening on 127\.0\.0\.1:(\d+)")
S3RVER_KEY = "S3RVER"  # its one built-in account: access key id and secret alike


def ensure_s3rver() -> Path:
    """The pinned s3rver's entry script, installed with npm on first use."""
    prefix = cache_dir() / f"s3rver-{S3RVER_VERSION}"
    script = prefix / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    for tool in ("node", "npm") if not script.exists() else ("node",):
        if shutil.which(tool) is None:
            raise PeerUnavailableError(f"{tool} is not on PATH (s3rver is a Node package)")
    if script.exists():
        return script
    with _install_lock("s3rver"):
        if script.exists():
            return script
        # Installed beside, then renamed: a half-done install never looks complete.
        partial = prefix.with_name(prefix.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        _run_step(f"npm install s3rver@{S3RVER_VERSION}",
                  ["npm", "install", "--prefix", str(partial), "--no-audit", "--no-fund",
                   "--save-exact", "--loglevel=error", f"s3rver@{S3RVER_VERSION}"])
        shutil.rmtree(prefix, ignore_errors=True)
        partial.rename(prefix)
    return script


@contextlib.contextmanager
def s3rver(tmp: Path) -> Iterator[Peer]:
    """s3rver on Node, its objects in files under ``tmp/data``."""
    script = ensure_s3rver()
    node = shutil.which("node")
    assert node is not None  # ensure_s3rver checked
    began = time.monotonic()
    tmp = tmp.resolve()  # the process runs in tmp: every path absolute
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    # s3rver makes ListObjectsV2 continuation tokens with DES, which a Node on OpenSSL 3
    # (Node 17 and later) refuses without the legacy provider: every listing would be a 500.
    openssl = subprocess.run([node, "-p", "process.versions.openssl"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    legacy = ["--openssl-legacy-provider"] if openssl.startswith("3") else []
    proc = ManagedProcess(
        "s3rver", command=lambda port: [node, *legacy, str(script), "--directory", str(data),
                                        "--address", HOST, "--port", str(port),
                                        "--no-vhost-buckets", "--silent"],
        cwd=tmp, log_path=tmp / "s3rver.log", env=child_env(), probe=lambda: False)
    probe = _ListBuckets(_port_from_log(proc, S3RVER_LISTENING), S3RVER_KEY, S3RVER_KEY)
    proc.probe = probe
    try:
        pid = _start(proc, probe=probe)
        version = json.loads((script.parents[1] / "package.json").read_text())["version"]
        yield Peer("s3rver", version, f"http://{HOST}:{proc.port}", S3RVER_KEY,
                   S3RVER_KEY, REGION, pid, (pid,), data, time.monotonic() - began,
                   checks_sigv4=False,
                   notes="files on disk; checks the access key id, not the V4 signature",
                   persists=True, replicas=1)
    finally:
        proc.terminate()


# --------------------------------------------------------------------------------------------
# OpenStack Swift with s3api


SWIFT_DEVICES = ("d1", "d2", "d3")  # one per zone; each object server has one of them

# Run with the Swift venv's Python: builds account, container and object rings from
# {"swift_dir": str, "part_power": int, "replicas": int,
#  "rings": {"object": [[port, device, zone], ...], ...}}
_BUILD_RINGS = """
import json, sys
from swift.common.ring import RingBuilder
spec = json.loads(sys.argv[1])
for kind, devices in spec["rings"].items():
    builder = RingBuilder(spec["part_power"], spec["replicas"], 0)
    for dev_id, (port, device, zone) in enumerate(devices):
        builder.add_dev({"id": dev_id, "region": 1, "zone": zone, "ip": "127.0.0.1",
                         "port": port, "device": device, "weight": 100.0, "meta": ""})
    builder.rebalance()
    builder.save(f"{spec['swift_dir']}/{kind}.builder")
    builder.get_ring().save(f"{spec['swift_dir']}/{kind}.ring.gz")
"""


def ensure_swift() -> Path:
    """The bin directory of a venv holding the pinned Swift, made on first use."""
    venv = cache_dir() / f"swift-{SWIFT_VERSION}"
    marker = venv / ".plenilune-complete"
    if marker.exists():
        return venv / "bin"
    with _install_lock("swift"):
        if marker.exists():
            return venv / "bin"
        # A venv cannot be renamed into place (its scripts name their own path), so a
        # marker written last tells a finished install from an interrupted one.
        shutil.rmtree(venv, ignore_errors=True)
        _run_step("python -m venv", [sys.executable, "-m", "venv", str(venv)])
        _run_step(f"pip install swift=={SWIFT_VERSION}",
                  [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                   "--disable-pip-version-check", f"swift=={SWIFT_VERSION}"])
        marker.write_text(f"swift=={SWIFT_VERSION}\n")
    return venv / "bin"


def ensure_memcached() -> str:
    """Path of ``memcached``; installed from Debian's packages when missing and root."""
    found = shutil.which("memcached")
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PeerUnavailableError("memcached is not installed (Debian: apt-get install memcached); "
                              "a Swift proxy needs it for tempauth")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "memcached"]
    with _install_lock("memcached"):
        try:
            _run_step("apt-get install memcached", install, env=env)
        except PeerUnavailableError:  # a stale package list: refresh it once and try again
            _run_step("apt-get update", ["apt-get", "update", "-q"], env=env)
            _run_step("apt-get install memcached", install, env=env)
    found = shutil.which("memcached")
    if found is None:
        raise PeerUnavailableError("apt-get installed memcached but it is not on PATH")
    return found


def check_user_xattrs(directory: Path) -> None:
    """Swift keeps object metadata in user xattrs; PeerUnavailableError where there are none."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory) as f:
        try:
            os.setxattr(f.name, "user.plenilune.probe", b"x" * 1024)
            ok = os.getxattr(f.name, "user.plenilune.probe") == b"x" * 1024
        except OSError as exc:
            raise PeerUnavailableError(f"no user xattrs on the file system of {directory} "
                                  f"({exc.strerror}); Swift stores object metadata in them") \
                from None
    if not ok:
        raise PeerUnavailableError(f"user xattrs on the file system of {directory} do not read back")


def memcached_version(proc: ManagedProcess) -> str | None:
    """memcached's ``version`` answer, or None while it does not answer."""
    try:
        with socket.create_connection((HOST, proc.port), timeout=1) as sock:
            sock.sendall(b"version\r\n")
            answer = sock.recv(100).decode(errors="replace").strip()
    except OSError:
        return None
    return answer.removeprefix("VERSION ") if answer.startswith("VERSION ") else None


def _swift_common(port: int, swift_dir: Path, devices: Path) -> str:
    return (f"[DEFAULT]\nbind_ip = {HOST}\nbind_port = {port}\nworkers = 0\n"
            f"user = {pwd.getpwuid(os.geteuid()).pw_name}\nswift_dir = {swift_dir}\n"
            f"devices = {devices}\nmount_check = false\n"
            # A taken port fails in 2 s (not Swift's 30 s of retries): the caller rebuilds
            # the rings on fresh ports.
            "bind_timeout = 2\n"
            # WARNING and up only, to the console (our log file; servers run with -v): no
            # access log line per request. A syslog copy goes to /dev/log, or to UDP
            # 127.0.0.1:514 where there is none.
            "log_level = WARNING\n")


def _storage_conf(kind: str, port: int, swift_dir: Path, devices: Path) -> str:
    return (_swift_common(port, swift_dir, devices)
            + f"\n[pipeline:main]\npipeline = healthcheck {kind}-server\n"
            + "\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
            + f"\n[app:{kind}-server]\nuse = egg:swift#{kind}\n")


def _proxy_conf(port: int, swift_dir: Path, devices: Path, memcached_port: int,
                user: str, password: str) -> str:
    account, _, name = user.partition(":")
    filters = {
        "catch_errors": "", "gatekeeper": "", "healthcheck": "", "proxy-logging": "",
        "cache": f"memcache_servers = {HOST}:{memcached_port}\n", "listing_formats": "",
        "bulk": "", "s3api": f"location = {REGION}\n",
        "tempauth": f"user_{account}_{name} = {password} .admin\n",
        "copy": "", "slo": "", "dlo": "",
    }
    eggs = {"proxy-logging": "proxy_logging", "cache": "memcache"}
    text = _swift_common(port, swift_dir, devices)
    # s3api's documented order: before the auth middleware, with bulk and slo in the
    # pipeline (multipart uploads are SLOs); proxy-logging first and last.
    text += ("\n[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging "
             "cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging "
             "proxy-server\n")
    text += "\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
    for section, extra in filters.items():
        text += f"\n[filter:{section}]\nuse = egg:swift#{eggs.get(section, section)}\n{extra}"
    return text


def _answers(proc: ManagedProcess) -> bool:
    try:
        return proc.running and proc.probe is not None and bool(proc.probe())
    except OSError:
        return False


def _swift_server(name: str, bin_dir: Path, kind: str, conf: Path, root: Path,
                  port: int) -> ManagedProcess:
    """One Swift server, ready when its /healthcheck answers 200 (the proxy's probe is
    replaced by a ListBuckets)."""
    def healthy() -> bool:
        return http_request("GET", f"http://{HOST}:{port}/healthcheck", timeout=2)[0] == 200

    return ManagedProcess(
        name, command=lambda _port: [str(bin_dir / f"swift-{kind}-server"), str(conf), "-v"],
        cwd=root, log_path=root / "logs" / f"{name}.log", env=child_env(), probe=healthy,
        port=port)


@contextlib.contextmanager
def swift_s3api(tmp: Path) -> Iterator[Peer]:
    """An all-in-one Swift on loopback, S3 through its s3api middleware (module docstring)."""
    bin_dir = ensure_swift()
    memcached = ensure_memcached()
    began = time.monotonic()
    root = tmp.resolve()  # Swift's servers chdir to /: every path absolute
    swift_dir, devices = root / "etc", root / "srv"
    swift_dir.mkdir(parents=True, exist_ok=True)
    for device in SWIFT_DEVICES:
        (devices / device).mkdir(parents=True, exist_ok=True)
    check_user_xattrs(devices / SWIFT_DEVICES[0])
    (swift_dir / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_suffix = plenilune-bench\n"
        "swift_hash_path_prefix = plenilune-bench\n\n"
        "[storage-policy:0]\nname = Policy-0\ndefault = yes\n")
    user, password = "bench:bench", secrets.token_hex(16)

    with contextlib.ExitStack() as stack:
        def started(proc: ManagedProcess, **kwargs: Any) -> int:
            stack.callback(proc.terminate)  # stopped in reverse order of start
            return _start(proc, **kwargs)

        cache_args = ["-l", HOST, "-U", "0", "-m", "64", "-t", "1"]
        if os.geteuid() == 0:  # memcached will not run as root unless told which user
            cache_args += ["-u", "root"]
        cache = ManagedProcess(
            "memcached", command=lambda port: [memcached, "-p", str(port), *cache_args],
            cwd=root, log_path=root / "logs" / "memcached.log", env=child_env(),
            probe=lambda: False, port=free_port(HOST))
        cache.probe = lambda: memcached_version(cache) is not None
        pids = [started(cache, retry_port=lambda: free_port(HOST))]

        rings_s = 0.0
        proxy_conf = swift_dir / "proxy-server.conf"
        group: list[ManagedProcess] = []
        for attempt in range(SWIFT_PORT_ATTEMPTS):
            # Every port is fixed before anything starts: the storage servers' are in the
            # rings, the proxy's and memcached's in its conf.
            ports = {"account": free_port(HOST), "container": free_port(HOST)}
            ports.update({f"object-{d}": free_port(HOST) for d in SWIFT_DEVICES})
            zones = list(enumerate(SWIFT_DEVICES, start=1))
            rings = {kind: [[ports[kind], d, z] for z, d in zones]
                     for kind in ("account", "container")}
            rings["object"] = [[ports[f"object-{d}"], d, z] for z, d in zones]
            spec = {"swift_dir": str(swift_dir), "part_power": SWIFT_PART_POWER,
                    "replicas": SWIFT_REPLICAS, "rings": rings}
            t0 = time.monotonic()
            _run_step("building Swift's rings",
                      [str(bin_dir / "python"), "-c", _BUILD_RINGS, json.dumps(spec)])
            rings_s += time.monotonic() - t0
            group = []
            for name, port in ports.items():
                kind = name.split("-")[0]
                conf = swift_dir / f"{name}-server.conf"
                conf.write_text(_storage_conf(kind, port, swift_dir, devices))
                group.append(_swift_server(name, bin_dir, kind, conf, root, port))
            proxy_port = free_port(HOST)
            proxy_conf.write_text(_proxy_conf(proxy_port, swift_dir, devices, cache.port,
                                              user, password))
            proxy = _swift_server("proxy", bin_dir, "proxy", proxy_conf, root, proxy_port)
            probe = _ListBuckets(lambda: f"http://{HOST}:{proxy.port}", user, password)
            proxy.probe = probe
            group.append(proxy)  # last: ready only once the storage servers answer
            try:
                deadline = time.monotonic() + STARTUP_TIMEOUT_S
                for proc in group:  # all at once: their imports overlap
                    stack.callback(proc.terminate)
                    proc.spawn()
                for proc in group:
                    proc.wait_ready(deadline)
                break
            except ProcessExited as exc:
                for proc in reversed(group):
                    proc.terminate()
                in_use = "could not bind to" in exc.proc.log_tail(15).lower()
                if not in_use or attempt == SWIFT_PORT_ATTEMPTS - 1:
                    raise PeerUnavailableError(
                        f"{exc.brief}: {_last_line(exc.proc.log_tail(15))}") from None
            except AssertionError:  # not ready in time
                late = [p.name for p in group[:-1] if not _answers(p)]
                for proc in reversed(group):
                    proc.terminate()
                raise PeerUnavailableError(
                    f"Swift not ready in {STARTUP_TIMEOUT_S:g} s (servers not answering: "
                    f"{', '.join(late) or 'none'}; last ListBuckets: {probe.last_error}); "
                    f"logs in {root / 'logs'}") from None
        pid = proxy.pid
        assert pid is not None
        pids += [p.pid for p in group[:-1] if p.pid is not None]
        yield Peer(
            "swift", SWIFT_VERSION, f"http://{HOST}:{proxy.port}", user, password, REGION,
            pid, (pid, *pids), devices, time.monotonic() - began, checks_sigv4=True,
            notes=(f"proxy + account + container + 3 object servers, 3 replicas, memcached "
                   f"{memcached_version(cache) or '?'}; rings built in {rings_s:.1f} s"),
            persists=True, replicas=SWIFT_REPLICAS)


# --------------------------------------------------------------------------------------------
# Smoke run


STARTERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[Peer]]] = {
    "moto": moto_server,
    "s3rver": s3rver,
    "swift": swift_s3api,
}


@dataclass(frozen=True)
class RoundTrip:
    put_s: float
    get_s: float
    list_s: float


def round_trip(peer: Peer, size: int = MiB, bucket: str = "peer-smoke") -> RoundTrip:
    """CreateBucket, PutObject of ``size`` random bytes, GetObject compared byte for byte,
    ListObjectsV2 that must show the key with its size. Raises on any difference."""
    client = peer.client(1)
    client.create_bucket(Bucket=bucket)
    body, key = os.urandom(size), "smoke/one-mib"
    t0 = time.perf_counter()
    client.put_object(Bucket=bucket, Key=key, Body=body)
    t1 = time.perf_counter()
    got = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    t2 = time.perf_counter()
    listed = client.list_objects_v2(Bucket=bucket, Prefix="smoke/")
    t3 = time.perf_counter()
    if got != body:
        raise AssertionError(f"GetObject returned {len(got)} bytes that differ from the "
                             f"{size} put")
    contents = [(o["Key"], o["Size"]) for o in listed.get("Contents", [])]
    if contents != [(key, size)]:
        raise AssertionError(f"ListObjectsV2 listed {contents}, expected [({key!r}, {size})]")
    return RoundTrip(t1 - t0, t2 - t1, t3 - t2)


def copies_on_disk(peer: Peer, size: int) -> int:
    """Files of exactly ``size`` bytes under the peer's data directory: after one object of
    that size, how many copies of it the peer keeps (Swift: one per replica)."""
    return sum(1 for path in peer.data_dir.rglob("*")
               if path.is_file() and path.stat().st_size == size)


def main() -> int:
    for name, starter in STARTERS.items():
        with tempfile.TemporaryDirectory(prefix=f"plen-peer-{name}-") as tmp:
            try:
                with starter(Path(tmp)) as peer:
                    rt = round_trip(peer)
                    copies = copies_on_disk(peer, MiB)
            except PeerUnavailableError as exc:
                print(f"{name}: unavailable: {exc}", flush=True)
                continue
            except Exception as exc:  # started, but the round trip failed
                print(f"{name}: FAILED round trip: {_one_line(exc)}", flush=True)
                continue
        print(f"{name}: ok, {peer.name} {peer.version}, started in {peer.startup_s:.1f} s, "
              f"1 MiB put {rt.put_s * 1000:.0f} ms, get {rt.get_s * 1000:.0f} ms, list "
              f"{rt.list_s * 1000:.0f} ms, copies on disk: {copies}; {peer.notes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
