"""A real Plenilune cluster on loopback, for integration and fault tests.

Rules:

1. Everything is real: a ``redis-server`` binary, ``python -m nameserver`` and
   ``python -m blockstore`` as separate processes, and the ``plen`` console script. No mocks,
   no in-process servers (Garage: "launch using execve").
2. Every server binds port 0 and announces its URL through ``--ready-file``; the harness reads
   it back. Redis is the one exception (it has no ready file): it gets a port from
   ``free_port()`` and is ready when it answers PING. A restart reuses the port a process had,
   so URLs held by clients and by the other processes stay valid.
3. Services run with ``cwd`` set to the cluster's own temporary directory, so they import the
   *installed* packages, never the checkout through the working directory.
4. Each process logs to ``<tmp>/logs/<name>.log`` (appended across restarts). A failed start
   raises ``AssertionError`` carrying the tail of every log.
5. The harness signals only the PIDs it started itself, and ``stop()`` is safe to call at any
   time, any number of times, even when a process is paused (SIGSTOP) or already dead.
6. Nothing here sleeps a fixed time: every wait is ``wait_until(predicate, timeout)``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis

from nameserver.store.embedded import free_port, redis_command
from plen.auth import Credentials, sign

T = TypeVar("T")

BLOCK_ID_RE = re.compile(r"^[0-9a-f]{32}$")
CLUSTER_SECRET_HEADER = "X-Plen-Cluster-Secret"
LOG_TAIL_LINES = 60
DEFAULT_STARTUP_TIMEOUT_S = 60.0
DEFAULT_STOP_GRACE_S = 10.0
DEFAULT_PLEN_TIMEOUT_S = 120.0
MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Waiting


class WaitTimeout(AssertionError):
    pass


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, *,
               message: str = "", ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``predicate`` until it returns something truthy, and return that value.

    Exceptions in ``ignore`` count as "not yet" (the last one is shown on timeout); any other
    exception propagates at once. Raises ``WaitTimeout`` (an ``AssertionError``) on timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last_error = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            detail = f"; last error: {last_error!r}" if last_error is not None else ""
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(interval)


async def async_wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
                           interval: float = 0.05, *, message: str = "",
                           ignore: tuple[type[BaseException], ...] = ()) -> Any:
    """``wait_until`` for async tests; ``predicate`` may be a plain or an async callable."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
        except ignore as exc:
            last_error = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            detail = f"; last error: {last_error!r}" if last_error is not None else ""
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}{detail}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------
# Small HTTP helpers (stdlib only: usable from sync and async tests alike)


def http_request(method: str, url: str, *, body: bytes | None = None,
                 headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0) -> tuple[int, bytes]:
    """One HTTP request; returns ``(status, body)`` for any status, raises ``OSError`` when
    the server cannot be reached."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def post_json(url: str, payload: Any = None, *, headers: Mapping[str, str] | None = None,
              timeout: float = 10.0) -> tuple[int, Any]:
    """POST ``payload`` as JSON; returns ``(status, decoded JSON or None)``."""
    status, raw = http_request(
        "POST", url, body=json.dumps({} if payload is None else payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})}, timeout=timeout)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def healthz(url: str, timeout: float = 5.0) -> bool:
    try:
        status, _ = http_request("GET", url.rstrip("/") + "/healthz", timeout=timeout)
    except OSError:
        return False
    return status == 200


# --------------------------------------------------------------------------------------------
# Processes

# Every process any harness started and has not reaped yet, so that an interpreter exiting
# without a fixture teardown (a crash in the middle of a test session) leaves no orphans.
_RUNNING: set[ManagedProcess] = set()


@atexit.register
def _kill_orphans() -> None:
    for proc in list(_RUNNING):
        proc.force_kill()


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for spawned processes: ours, minus any ``PLEN_*`` settings that would
    leak from the developer's shell into the cluster, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEN_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _is_address_in_use(log_text: str) -> bool:
    lowered = log_text.lower()
    return "address already in use" in lowered or "errno 98" in lowered


class ManagedProcess:
    """One long-running child process: spawn, readiness, signals, reaping, log.

    ``command(port)`` builds the argv for a port (0 = let the process choose). Readiness is
    either a ready file (JSON with at least ``url``, written atomically by the process) or a
    ``probe()`` returning True.
    """

    def __init__(self, name: str, *, command: Callable[[int], list[str]], cwd: Path,
                 log_path: Path, env: Mapping[str, str], ready_file: Path | None = None,
                 probe: Callable[[], bool] | None = None, port: int = 0) -> None:
        if (ready_file is None) == (probe is None):
            raise ValueError("give exactly one of ready_file and probe")
        self.name = name
        self.command = command
        self.cwd = cwd
        self.log_path = log_path
        self.env = dict(env)
        self.ready_file = ready_file
        self.probe = probe
        self.port = port
        self.popen: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.paused = False
        self.expect_exit = False  # set once we sent it a signal that may end it
        self.starts = 0
        self.spawned_at = 0.0  # time.monotonic() of the last spawn
        self.returncode: int | None = None

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} running={self.running}>"

    # -- state

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def url(self) -> str:
        try:
            return str(self.info["url"])
        except KeyError:
            raise AssertionError(f"{self.name} has not announced a URL yet") from None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return tail(self.log_path, lines)

    # -- lifecycle

    def spawn(self) -> None:
        if self.running:
            raise AssertionError(f"{self.name} is already running (pid {self.pid})")
        self._reap()
        if self.ready_file is not None:
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            self.ready_file.unlink(missing_ok=True)
        self.info = {}
        self.paused = False
        self.expect_exit = False
        self.returncode = None
        self.starts += 1
        self.spawned_at = time.monotonic()
        argv = self.command(self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- harness: start #{self.starts}: {' '.join(argv)}\n".encode())
            log.flush()
            # A new session keeps terminal signals (Ctrl-C) away from the children: the
            # harness alone decides when they stop, in a known order.
            self.popen = subprocess.Popen(argv, cwd=self.cwd, env=self.env,
                                          stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        _RUNNING.add(self)

    def wait_ready(self, deadline: float) -> None:
        """Block until the process announces itself; fail fast if it exits first."""
        while True:
            if self.popen is None:
                raise AssertionError(f"{self.name} was never started")
            code = self.popen.poll()
            if code is not None:
                self._reap()
                raise ProcessExited(self, code)
            if self._check_ready():
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.name} (pid {self.pid}) did not become ready in time")
            time.sleep(0.02)

    def _check_ready(self) -> bool:
        if self.probe is not None:
            try:
                return bool(self.probe())
            except (OSError, redis.RedisError):
                return False
        assert self.ready_file is not None
        try:
            info = json.loads(self.ready_file.read_text())
        except (FileNotFoundError, ValueError):
            return False
        if not isinstance(info, dict) or "url" not in info:
            return False
        self.info = info
        port = urllib.parse.urlsplit(str(info["url"])).port
        if port:
            self.port = port
        return True

    def send(self, sig: int) -> None:
        if not self.running:
            raise AssertionError(f"{self.name} is not running")
        assert self.popen is not None
        if sig not in (signal.SIGSTOP, signal.SIGCONT):
            self.expect_exit = True
        self.popen.send_signal(sig)
        if sig == signal.SIGSTOP:
            self.paused = True
        elif sig == signal.SIGCONT:
            self.paused = False

    def signal_and_wait(self, sig: int, timeout: float) -> int | None:
        """Send ``sig`` and wait for the exit; returns the exit code, or None if still alive."""
        if not self.running:
            self._reap()
            return self.returncode
        assert self.popen is not None
        self.expect_exit = True
        self.popen.send_signal(sig)
        if self.paused and sig != signal.SIGKILL:
            # A stopped process keeps a SIGTERM pending until it runs again.
            self.popen.send_signal(signal.SIGCONT)
            self.paused = False
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reap()
        return self.returncode

    def terminate(self, grace: float = DEFAULT_STOP_GRACE_S) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        code = self.signal_and_wait(signal.SIGTERM, grace)
        if code is None and self.running:
            code = self.signal_and_wait(signal.SIGKILL, grace)
        return code

    def force_kill(self) -> None:
        if self.popen is None:
            return
        self.expect_exit = True
        if self.popen.poll() is None:
            with contextlib.suppress(OSError):
                self.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        self._reap()

    def _reap(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            self.returncode = self.popen.returncode
            self.paused = False
            _RUNNING.discard(self)


class ProcessExited(AssertionError):
    def __init__(self, proc: ManagedProcess, code: int) -> None:
        self.proc = proc
        self.code = code
        self.brief = f"{proc.name} exited with code {code} (log {proc.log_path})"
        super().__init__(f"{self.brief}:\n{proc.log_tail()}")


def start_process(proc: ManagedProcess, *, timeout: float, retry_port: Callable[[], int] | None,
                  attempts: int = 5) -> None:
    """Spawn ``proc`` and wait until it is ready.

    If it dies complaining that its port is taken (a restart that reuses its old port, or a
    ``free_port()`` raced by another process), try again: with a fresh port from
    ``retry_port`` when given, else with the same port once the holder let go.
    """
    deadline = time.monotonic() + timeout
    for attempt in range(attempts):
        proc.spawn()
        try:
            proc.wait_ready(deadline)
            return
        except ProcessExited:
            text = proc.log_tail(15)
            if attempt == attempts - 1 or time.monotonic() >= deadline \
                    or not _is_address_in_use(text):
                raise
            if retry_port is not None:
                proc.port = retry_port()
            time.sleep(0.2 * (attempt + 1))
        except BaseException:
            proc.force_kill()
            raise


# --------------------------------------------------------------------------------------------
# Redis


def redis_ping(url: str, timeout: float = 1.0) -> bool:
    with redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as r:
        return bool(r.ping())


def redis_process(name: str, *, data_dir: Path, log_dir: Path, cwd: Path,
                  host: str = "127.0.0.1", port: int | None = None) -> ManagedProcess:
    """A real ``redis-server`` (AOF in ``data_dir``) as a ManagedProcess, ready on PING."""
    proc: ManagedProcess

    def command(p: int) -> list[str]:
        return redis_command(data_dir, p, host)

    def probe() -> bool:
        return redis_ping(f"redis://{host}:{proc.port}/0")

    proc = ManagedProcess(name, command=command, cwd=cwd, log_path=log_dir / f"{name}.log",
                          env=child_env(), probe=probe, port=port or free_port(host))
    return proc


def redis_url_of(proc: ManagedProcess, host: str = "127.0.0.1", db: int = 0) -> str:
    return f"redis://{host}:{proc.port}/{db}"


@contextlib.contextmanager
def running_redis(tmp_path: Path, *, timeout: float = 30.0) -> Iterator[str]:
    """A bare real redis-server in ``tmp_path`` for the length of the block; yields its URL."""
    proc = redis_process("redis", data_dir=tmp_path / "redis", log_dir=tmp_path / "logs",
                         cwd=tmp_path)
    try:
        start_process(proc, timeout=timeout, retry_port=free_port)
        yield redis_url_of(proc)
    finally:
        proc.terminate()


# --------------------------------------------------------------------------------------------
# The plen console script


def plen_command() -> list[str]:
    """The installed ``plen`` console script: the one next to this interpreter first (the
    venv's), then PATH, then the entry point function through this interpreter."""
    beside = Path(sys.executable).parent / "plen"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("plen")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from plen.cli.main import main; sys.exit(main())"]


def _num(value: float) -> str:
    """``1.0`` -> ``"1"``: whole numbers go on the command line as integers, so a flag
    declared as either int or float accepts them."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --------------------------------------------------------------------------------------------
# The cluster


class Cluster:
    """Redis + one nameserver + N blockstores (+ a gateway), as real processes on loopback.

    Process names: ``"redis"``, ``"nameserver"``, ``"bs0"`` ... ``"bs{N-1}"`` and, with
    ``gateway=True``, ``"gateway"`` (root credentials ``s3_access_key``/``s3_secret_key``).

    ``tls=True`` serves the gateway over HTTPS (``tls_ca`` is the authority to trust).

    Fault-test extras: ``nameservers=2`` adds ``"nameserver1"`` (same Redis; every blockstore
    gets ``--nameserver URL0,URL1``; ``primary_nameserver`` says which one ``ns_post``,
    ``admin`` and ``plen`` talk to unless told ``via=``). ``host`` is the address the
    nameserver(s), the gateway and the blockstores bind (Redis stays on loopback), and
    ``put_in_netns(name, netns, address)`` runs one blockstore inside a network namespace.
    """

    REDIS = "redis"
    NAMESERVER = "nameserver"
    GATEWAY = "gateway"

    def __init__(self, tmp_path: Path, *, blockstores: int = 3, replication: int = 3,
                 block_size: int = 1 * MiB, heartbeat_interval_s: float = 1.0,
                 dead_after_s: float = 5.0, inline_max: int | None = None,
                 zones: Sequence[str] | None = None, capacity_bytes: int | None = None,
                 log_level: str | None = None, cluster_secret: str | None = None,
                 startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
                 nameserver_args: Sequence[str] = (), blockstore_args: Sequence[str] = (),
                 gateway: bool = False, gateway_args: Sequence[str] = (),
                 tls: bool = False, nameservers: int = 1, host: str = "127.0.0.1") -> None:
        if zones is not None and len(zones) != blockstores:
            raise ValueError("zones must name one zone per blockstore")
        self.tmp_path = Path(tmp_path)
        self.replication = replication
        self.block_size = block_size
        self.heartbeat_interval_s = heartbeat_interval_s
        self.dead_after_s = dead_after_s
        self.inline_max = inline_max
        self.capacity_bytes = capacity_bytes
        self.log_level = log_level
        self.cluster_secret = cluster_secret or secrets.token_urlsafe(24)
        self.startup_timeout = startup_timeout
        self.nameserver_args = list(nameserver_args)
        self.blockstore_args = list(blockstore_args)
        self.gateway_args = list(gateway_args)
        self.host = host
        # With tls=True the gateway serves HTTPS with a certificate from a local authority,
        # as `plen up --tls` does; clients trust ``tls_ca``.
        self.tls_ca: Path | None = None
        if tls:
            from gateway.tls import local_certificate

            made = local_certificate(self.tmp_path / "tls", ["127.0.0.1", "localhost"])
            self.tls_ca = made.ca
            self.gateway_args += ["--tls-cert", str(made.cert), "--tls-key", str(made.key)]
        if nameservers < 1:
            raise ValueError("nameservers must be at least 1")
        self.nameserver_names = [self.NAMESERVER] + [f"nameserver{i}"
                                                     for i in range(1, nameservers)]
        self.primary_nameserver = self.NAMESERVER
        self._netns: dict[str, tuple[str, str]] = {}  # blockstore -> (netns, address)
        self.s3_access_key = "plen-" + secrets.token_hex(6)
        self.s3_secret_key = secrets.token_urlsafe(30)
        self.log_dir = self.tmp_path / "logs"
        self.run_dir = self.tmp_path / "run"
        self.config_path = self.tmp_path / "config.json"
        self.started = False
        self._zones: dict[str, str] = {}
        self._procs: dict[str, ManagedProcess] = {}
        self._procs[self.REDIS] = redis_process(self.REDIS, data_dir=self.tmp_path / "redis",
                                                log_dir=self.log_dir, cwd=self.tmp_path)
        for ns_name in self.nameserver_names:
            self._procs[ns_name] = self._service(ns_name, self._nameserver_argv)
        for i in range(blockstores):
            self._add_blockstore_process(zone=zones[i] if zones else None)
        if gateway:
            self._procs[self.GATEWAY] = self._service(self.GATEWAY, self._gateway_argv)

    def __repr__(self) -> str:
        return f"<Cluster {self.tmp_path} {sorted(self._procs)}>"

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- building commands

    def _service(self, name: str, argv: Callable[[str, int], list[str]]) -> ManagedProcess:
        return ManagedProcess(name, command=lambda port: argv(name, port), cwd=self.tmp_path,
                              log_path=self.log_dir / f"{name}.log", env=child_env(),
                              ready_file=self.run_dir / f"{name}.ready.json")

    def _common_args(self) -> list[str]:
        args = ["--cluster-secret", self.cluster_secret]
        if self.log_level:
            args += ["--log-level", self.log_level]
        return args

    def _nameserver_argv(self, name: str, port: int) -> list[str]:
        argv = [sys.executable, "-m", "nameserver",
                "--host", self.host, "--port", str(port),
                "--redis", self.redis_url,
                "--replication", str(self.replication),
                "--block-size", str(self.block_size),
                "--heartbeat-interval", _num(self.heartbeat_interval_s),
                "--dead-after", _num(self.dead_after_s),
                "--root-user", self.s3_access_key, "--root-password", self.s3_secret_key,
                "--ready-file", str(self.run_dir / f"{name}.ready.json"),
                *self._common_args()]
        if self.inline_max is not None:
            argv += ["--inline-max", str(self.inline_max)]
        return argv + self.nameserver_args

    def _blockstore_argv(self, name: str, port: int) -> list[str]:
        netns, host = self._netns.get(name, ("", self.host))
        argv = [sys.executable, "-m", "blockstore",
                "--data", str(self.data_dir(name)),
                "--nameserver", ",".join(self.url(n) for n in self.nameserver_names),
                "--host", host, "--port", str(port),
                "--ready-file", str(self.run_dir / f"{name}.ready.json"),
                *self._common_args()]
        if self._zones.get(name):
            argv += ["--zone", self._zones[name]]
        if self.capacity_bytes is not None:
            argv += ["--capacity", str(self.capacity_bytes)]
        # `ip netns exec` execs the command, so the PID the harness signals is the server's.
        prefix = ["ip", "netns", "exec", netns] if netns else []
        return prefix + argv + self.blockstore_args

    def _gateway_argv(self, name: str, port: int) -> list[str]:
        argv = [sys.executable, "-m", "gateway",
                "--nameserver", self.nameserver_url,
                "--host", self.host, "--port", str(port),
                "--root-user", self.s3_access_key, "--root-password", self.s3_secret_key,
                "--ready-file", str(self.run_dir / f"{name}.ready.json")]
        if self.log_level:
            argv += ["--log-level", self.log_level]
        return argv + self.gateway_args

    def _add_blockstore_process(self, zone: str | None) -> str:
        name = f"bs{len(self.blockstore_names)}"
        if zone:
            self._zones[name] = zone
        self._procs[name] = self._service(name, self._blockstore_argv)
        return name

    # -- names, URLs, paths

    @property
    def names(self) -> list[str]:
        return list(self._procs)

    @property
    def blockstore_names(self) -> list[str]:
        return [n for n in self._procs
                if n not in (self.REDIS, self.GATEWAY, *self.nameserver_names)]

    def process(self, name: str) -> ManagedProcess:
        try:
            return self._procs[name]
        except KeyError:
            raise KeyError(f"no process {name!r}; have {self.names}") from None

    @property
    def redis_url(self) -> str:
        return redis_url_of(self._procs[self.REDIS])

    @property
    def nameserver_url(self) -> str:
        return self._procs[self.primary_nameserver].url

    @property
    def nameserver_urls(self) -> dict[str, str]:
        return {n: self.url(n) for n in self.nameserver_names}

    def put_in_netns(self, name: str, netns: str, address: str) -> None:
        """Run blockstore ``name`` inside network namespace ``netns`` (made by the caller),
        bound to ``address`` there; from its next start on."""
        self.process(name)  # must exist
        self._netns[name] = (netns, address)

    @property
    def gateway_url(self) -> str:
        return self.process(self.GATEWAY).url

    def s3_client(self, **config: Any) -> Any:
        """A boto3 S3 client for the gateway, at boto3's default settings unless overridden
        (``config`` goes to ``botocore.config.Config``)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.gateway_url, region_name="us-east-1",
            aws_access_key_id=self.s3_access_key, aws_secret_access_key=self.s3_secret_key,
            verify=str(self.tls_ca) if self.tls_ca else None,
            config=Config(s3={"addressing_style": "path"}, **config))

    def url(self, name: str) -> str:
        """The URL a process announced (a blockstore's public URL); Redis's is redis://."""
        if name == self.REDIS:
            return self.redis_url
        return self.process(name).url

    @property
    def blockstore_urls(self) -> dict[str, str]:
        return {n: self.url(n) for n in self.blockstore_names}

    def data_dir(self, name: str) -> Path:
        if name == self.REDIS:
            return self.tmp_path / "redis"
        if name not in self.blockstore_names:
            raise KeyError(f"{name!r} is not a blockstore; have {self.blockstore_names}")
        return self.tmp_path / name / "data"

    @property
    def data_dirs(self) -> dict[str, Path]:
        return {n: self.data_dir(n) for n in self.blockstore_names}

    def server_id(self, name: str) -> str:
        """A blockstore's server id, from its ready file."""
        info = self.process(name).info
        if "server_id" not in info:
            raise AssertionError(f"{name}'s ready file has no server_id: {info}")
        return str(info["server_id"])

    def name_of(self, server_id: str) -> str:
        for name in self.blockstore_names:
            if self.process(name).info.get("server_id") == server_id:
                return name
        raise KeyError(f"no blockstore with server id {server_id!r}")

    def pid(self, name: str) -> int | None:
        return self.process(name).pid

    def is_running(self, name: str) -> bool:
        return self.process(name).running

    def log_path(self, name: str) -> Path:
        return self.process(name).log_path

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(errors="replace")

    def logs_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(f"===== {p.name} ({p.log_path}) =====\n{p.log_tail(lines)}"
                         for p in self._procs.values())

    # -- blocks on disk

    def block_path(self, name: str, block_id: str) -> Path:
        return self.data_dir(name) / "blocks" / block_id[:2] / block_id

    def block_files(self) -> dict[str, list[str]]:
        """block id -> sorted names of the blockstores holding a file for it.

        Only files named exactly like a block id (32 lowercase hex) in ``blocks/<id[:2]>/``
        count: temporaries, quarantined copies and other sidecars are ignored.
        """
        found: dict[str, list[str]] = {}
        for name in self.blockstore_names:
            root = self.data_dir(name) / "blocks"
            if not root.is_dir():
                continue
            for shard in root.iterdir():
                if not shard.is_dir() or len(shard.name) != 2:
                    continue
                for f in shard.iterdir():
                    if BLOCK_ID_RE.match(f.name) and f.name[:2] == shard.name and f.is_file():
                        found.setdefault(f.name, []).append(name)
        return {bid: sorted(names) for bid, names in sorted(found.items())}

    # -- HTTP to the nameserver

    def _ns_base(self, via: str | None) -> str:
        return self.url(via) if via is not None else self.nameserver_url

    @property
    def credentials(self) -> Credentials:
        """The root user's: what the gateway, ``plen`` and ``ns_post`` sign with."""
        return Credentials(self.s3_access_key, self.s3_secret_key)

    def ns_call(self, endpoint: str, payload: Any = None, *, timeout: float = 10.0,
                via: str | None = None,
                credentials: Credentials | None = None) -> tuple[int, Any]:
        """POST a client-API message to ``/v1/<endpoint>`` signed by ``credentials`` (default
        root's); returns ``(status, decoded JSON)`` whatever the status."""
        body = json.dumps({} if payload is None else payload).encode()
        headers = {"Content-Type": "application/json",
                   **sign(credentials or self.credentials, "POST", f"/v1/{endpoint}", body)}
        status, raw = http_request("POST", f"{self._ns_base(via)}/v1/{endpoint}", body=body,
                                   headers=headers, timeout=timeout)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def ns_post(self, endpoint: str, payload: Any = None, *, timeout: float = 10.0,
                via: str | None = None) -> Any:
        """POST a client-API message to ``/v1/<endpoint>`` as root; returns the decoded
        answer and fails the test on any non-2xx. ``via`` names the nameserver (default the
        primary)."""
        status, body = self.ns_call(endpoint, payload, timeout=timeout, via=via)
        if not 200 <= status < 300:
            raise AssertionError(f"POST /v1/{endpoint} -> HTTP {status}: {body}")
        return body

    def admin(self, op: str, payload: Any = None, *, timeout: float = 30.0,
              via: str | None = None) -> Any:
        """Run an admin door, e.g. ``cluster.admin("gc/run-once")``."""
        status, body = post_json(f"{self._ns_base(via)}/admin/{op.strip('/')}", payload,
                                 headers={CLUSTER_SECRET_HEADER: self.cluster_secret},
                                 timeout=timeout)
        if not 200 <= status < 300:
            raise AssertionError(f"POST /admin/{op} -> HTTP {status}: {body}")
        return body

    def bs_admin(self, name: str, op: str, payload: Any = None, *,
                 timeout: float = 60.0) -> tuple[int, Any]:
        """POST a blockstore admin door (``"scrub/run-once"``); returns ``(status, body)``
        whatever the status, so a test can tell a missing door (404) from a failure."""
        return post_json(f"{self.url(name)}/admin/{op.strip('/')}", payload,
                         headers={CLUSTER_SECRET_HEADER: self.cluster_secret}, timeout=timeout)

    def cluster_status(self, *, via: str | None = None) -> dict[str, Any]:
        status = self.ns_post("cluster-status", {}, via=via)
        assert isinstance(status, dict), status
        return status

    def server_states(self) -> dict[str, str]:
        """server id -> state ("live", "dead", "draining"), as the nameserver sees it."""
        return {s["server_id"]: s["state"] for s in self.cluster_status()["servers"]}

    def server_state(self, name: str) -> str | None:
        return self.server_states().get(self.server_id(name))

    def _all_live(self, names: Sequence[str]) -> bool:
        servers = {s["server_id"]: s for s in self.cluster_status()["servers"]}
        now = time.monotonic()
        for name in names:
            proc = self.process(name)
            if "server_id" not in proc.info:
                # No server id announced: fall back to counting.
                live = sum(1 for s in servers.values() if s["state"] == "live")
                return live >= len(names)
            server = servers.get(str(proc.info["server_id"]))
            if server is None or server["state"] != "live":
                return False
            # Heard from since this process started, not a "live" left over from before a
            # restart (the same data dir keeps the same server id).
            age = server.get("last_heartbeat_age_s")
            if isinstance(age, (int, float)) and age > now - proc.spawned_at:
                return False
        return True

    def wait_live(self, names: Sequence[str] | None = None, timeout: float | None = None) -> None:
        """Wait until the nameserver lists every given (default: every running) blockstore
        as live, with a heartbeat received since that process was started."""
        names = [n for n in self.blockstore_names if self.is_running(n)] \
            if names is None else list(names)
        self.wait_for(lambda: self._all_live(names), timeout or self.startup_timeout,
                   f"nameserver to list {names} as live")

    def wait_state(self, name: str, state: str, timeout: float | None = None) -> None:
        """Wait until the nameserver reports blockstore ``name`` in ``state`` (e.g. "dead")."""
        timeout = timeout or (self.dead_after_s * 3 + 10)
        self.wait_for(lambda: self.server_state(name) == state, timeout,
                   f"{name} to be {state!r}")

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str, *,
                 interval: float = 0.05) -> Any:
        """Like ``wait_until``, tolerating a server that is not answering yet, but failing at
        once, with the logs, if one of our processes dies unexpectedly meanwhile."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            self._assert_no_unexpected_exit()
            try:
                value = predicate()
            except (OSError, AssertionError, KeyError, ValueError, TypeError) as exc:
                last_error = exc
            else:
                if value:
                    return value
            if time.monotonic() >= deadline:
                detail = f"; last error: {last_error!r}" if last_error is not None else ""
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{detail}"
                                     f"\n\n{self.logs_tail()}")
            time.sleep(interval)

    def _assert_no_unexpected_exit(self) -> None:
        # A process that was started, not told to go and is no longer running has crashed:
        # say so at once instead of waiting out the timeout.
        for proc in self._procs.values():
            if proc.popen is not None and not proc.expect_exit and proc.popen.poll() is not None:
                raise ProcessExited(proc, proc.popen.returncode)

    # -- lifecycle

    def _start_one(self, name: str, deadline: float) -> None:
        proc = self.process(name)
        if proc.running:
            return
        first_redis_start = name == self.REDIS and proc.starts == 0
        try:
            start_process(proc, timeout=max(deadline - time.monotonic(), 1.0),
                          retry_port=free_port if first_redis_start else None)
        except AssertionError as exc:
            raise self._start_failure(exc) from None

    def _start_failure(self, exc: AssertionError) -> AssertionError:
        brief = exc.brief if isinstance(exc, ProcessExited) else str(exc)
        return AssertionError(f"cluster start failed: {brief}\n\n{self.logs_tail()}")

    def start(self, *, timeout: float | None = None) -> Cluster:
        """Start every process that is not running, in dependency order, and wait until the
        nameserver lists every blockstore as live. Safe to call again after ``kill_all``."""
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in self.blockstore_names:
            self.data_dir(name).mkdir(parents=True, exist_ok=True)
        self.started = True
        self._start_one(self.REDIS, deadline)
        for ns_name in self.nameserver_names:
            self._start_one(ns_name, deadline)
        # Blockstores start side by side: spawn them all, then wait for each.
        pending = [n for n in self.blockstore_names if not self.is_running(n)]
        for name in pending:
            self.process(name).spawn()
        for name in pending:
            try:
                self.process(name).wait_ready(deadline)
            except AssertionError as exc:
                raise self._start_failure(exc) from None
        self.wait_live(timeout=max(deadline - time.monotonic(), 1.0))
        if self.GATEWAY in self._procs:
            self._start_one(self.GATEWAY, deadline)
        return self

    def start_again(self, *, timeout: float | None = None) -> Cluster:
        """After ``kill_all()`` or ``stop()``: start everything on the same data and ports."""
        if not self.started:
            raise AssertionError("start_again() before start()")
        return self.start(timeout=timeout)

    def stop(self, grace: float = DEFAULT_STOP_GRACE_S) -> None:
        """SIGTERM everything (blockstores, then the nameserver, then Redis), wait, SIGKILL
        stragglers. Idempotent; never raises for a process that is already gone."""
        groups = [[n for n in (self.GATEWAY,) if n in self._procs], self.blockstore_names,
                  list(self.nameserver_names), [self.REDIS]]
        for group in groups:
            procs = [self._procs[n] for n in group if self._procs[n].popen is not None]
            for proc in procs:
                proc.expect_exit = True
                if proc.running:
                    assert proc.popen is not None
                    with contextlib.suppress(OSError):
                        proc.popen.send_signal(signal.SIGTERM)
                        if proc.paused:
                            proc.popen.send_signal(signal.SIGCONT)
                            proc.paused = False
            deadline = time.monotonic() + grace
            for proc in procs:
                assert proc.popen is not None
                try:
                    proc.popen.wait(max(deadline - time.monotonic(), 0.01))
                except subprocess.TimeoutExpired:
                    proc.force_kill()
                proc._reap()

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Kill every process at once (default SIGKILL: a power cut without the disk loss)."""
        for proc in self._procs.values():
            if proc.running:
                assert proc.popen is not None
                proc.expect_exit = True
                proc.popen.send_signal(sig)
                if proc.paused and sig != signal.SIGKILL:
                    proc.popen.send_signal(signal.SIGCONT)
        for proc in self._procs.values():
            if proc.popen is not None:
                try:
                    proc.popen.wait(DEFAULT_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.force_kill()
                proc._reap()

    def kill(self, name: str, sig: int = signal.SIGKILL, *, wait: bool = True,
             timeout: float = DEFAULT_STOP_GRACE_S) -> int | None:
        """Send ``sig`` to one process; with ``wait``, return its exit code once it is gone
        (or None if it outlived ``timeout``)."""
        proc = self.process(name)
        if not wait:
            proc.send(sig)
            return None
        if not proc.running:
            raise AssertionError(f"{name} is not running")
        return proc.signal_and_wait(sig, timeout)

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a hung server)."""
        self.process(name).send(signal.SIGSTOP)

    def cont(self, name: str) -> None:
        self.process(name).send(signal.SIGCONT)

    @contextlib.contextmanager
    def paused(self, name: str) -> Iterator[None]:
        self.pause(name)
        try:
            yield
        finally:
            if self.is_running(name) and self.process(name).paused:
                self.cont(name)

    def restart(self, name: str, *, sig: int = signal.SIGTERM, wait_live: bool = True,
                timeout: float | None = None) -> None:
        """Stop ``name`` (``sig``, then SIGKILL after a grace period) if it runs, and start it
        again on the same data and port. For a blockstore, ``wait_live`` also waits until the
        nameserver lists it live; for the nameserver, until it answers cluster-status."""
        proc = self.process(name)
        if proc.running:
            if proc.signal_and_wait(sig, DEFAULT_STOP_GRACE_S) is None:
                proc.force_kill()
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        self._start_one(name, deadline)
        if name in self.nameserver_names:
            self.wait_for(lambda: self.cluster_status(via=name),
                       max(deadline - time.monotonic(), 1.0),
                       f"{name} to answer cluster-status")
        elif name in self.blockstore_names and wait_live:
            self.wait_live([name], timeout=max(deadline - time.monotonic(), 1.0))

    def add_blockstore(self, *, zone: str | None = None, start: bool = True) -> str:
        """Add one more blockstore (e.g. to watch a rebalance); returns its name."""
        name = self._add_blockstore_process(zone)
        self.data_dir(name).mkdir(parents=True, exist_ok=True)
        if start:
            self.restart(name)
        return name

    # -- the CLI

    def plen_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return child_env({"PLEN_NAMESERVER": self.nameserver_url,
                          "PLEN_CONFIG": str(self.config_path),
                          "PLEN_ACCESS_KEY": self.s3_access_key,
                          "PLEN_SECRET_KEY": self.s3_secret_key,
                          # Wide and plain, so tables are not cut or coloured for a terminal.
                          "COLUMNS": "200", "NO_COLOR": "1", **(extra or {})})

    def plen(self, *args: str | os.PathLike[str], input: bytes | None = None, check: bool = True,
             timeout: float = DEFAULT_PLEN_TIMEOUT_S, env: Mapping[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run the real ``plen`` command against this cluster; stdout/stderr as bytes.

        With ``check`` (default) a non-zero exit fails the test with both streams shown.
        """
        words = [str(os.fspath(a)) for a in args]
        argv = [*plen_command(), *words]
        result = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                                env=self.plen_env(env), cwd=cwd or self.tmp_path,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(
                f"plen {' '.join(words)} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout.decode(errors='replace')}\n"
                f"--- stderr ---\n{result.stderr.decode(errors='replace')}")
        return result
