"""``plen up``: a whole cluster on this machine, in the foreground.

Rule 1: every service is a real child process (``redis-server``, ``python -m nameserver``,
``python -m blockstore``), each in its own process group so that Ctrl-C reaches only
``plen up``, which then stops them in order: gateway, blockstores, nameserver, Redis (SIGTERM, a
grace period, then SIGKILL), and exits 0. Signals go to the PIDs started here, never to
names.
Rule 2: every server binds the port asked for (0 = a free one) and announces its URL in a
ready file, which is read back; stale ready files are deleted first. A child that does not
get ready in time fails the start with one line naming it, and the tail of its log.
Rule 3: everything lives under ``--data``: ``secret`` and ``root-credentials`` (the S3 root
user's keys unless PLEN_ROOT_USER/PLEN_ROOT_PASSWORD give them; mode 0600), ``redis/`` (the AOF),
``blockstore-<i>/``, ``logs/<name>.log``, ``run/<name>.ready``. Starting again on the same
directory keeps every file and every setting of the cluster.
Rule 4: a child that dies on its own is reported in one line; the others keep running.
Rule 5: with ``--json`` the announcement is one JSON line on stdout once everything is ready
(services, URLs, PIDs, S3 endpoint and keys); notices go to stderr as JSON lines
(``{"event": ...}``) and a failure as one ``{"error": ...}`` object.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click
from rich.table import Table
from rich.text import Text

from plen.auth import Credentials
from plen.cli import config
from plen.cli import jsonout as js
from plen.cli.output import console
from plen.settings import load_or_create_secret
from plen.wire.errors import WireError

READY_POLL_S = 0.05
STOP_GRACE_S = 10.0
LOG_TAIL_LINES = 20
# Per-instance settings a user's environment must not hand to every child alike.
_CHILD_ENV_DROP = ("PLEN_BLOCKSTORE_PUBLIC_URL", "PLEN_BLOCKSTORE_PRIVATE_URL",
                   "PLEN_BLOCKSTORE_DATA", "PLEN_READY_FILE")


class UpError(Exception):
    """Starting the cluster failed; ``log`` names the log whose tail explains it."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


class _Interrupted(Exception):
    pass


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    data_dir: Path | None = None
    ready_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    server_id: str | None = None
    exit_reported: bool = False

    def start(self) -> None:
        if self.ready_file is not None:
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.ready_file.unlink()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- plen up: starting {self.name} at "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self.env or None, cwd=self.cwd, process_group=0)
            except OSError as exc:
                raise UpError(f"cannot start {self.name} ({self.argv[0]}): "
                              f"{exc.strerror or exc}") from exc

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def died_error(self) -> UpError:
        return UpError(f"{self.name} exited with code {self.exited()} while starting "
                       f"(log: {self.log_path})", self.log_path)

    def read_ready(self) -> bool:
        assert self.ready_file is not None
        try:
            info = json.loads(self.ready_file.read_text())
        except (FileNotFoundError, ValueError):
            return False
        self.url = str(info["url"]).rstrip("/")
        self.server_id = info.get("server_id")
        return True

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)


class Supervisor:
    """Starts, watches and stops the children of one ``plen up``."""

    def __init__(self, data: Path, *, timeout_s: float) -> None:
        self.data = data
        self.timeout_s = timeout_s
        self.children: list[Child] = []
        self.stop_requested = False
        self.signals_seen = 0
        self.json_events = False  # notices as JSON lines (plen --json up)

    # -- signals -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.signals_seen += 1
            self.stop_requested = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def check(self) -> None:
        """Raise if asked to stop; called from every wait loop."""
        if self.stop_requested:
            raise _Interrupted()

    # -- start ---------------------------------------------------------------------------------

    def launch(self, child: Child) -> Child:
        self.children.append(child)
        child.start()
        return child

    def wait_ready(self, child: Child) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not child.read_ready():
            self.check()
            if child.exited() is not None:
                raise child.died_error()
            if time.monotonic() > deadline:
                raise UpError(f"{child.name} did not announce its address within "
                              f"{self.timeout_s:.0f}s (log: {child.log_path})", child.log_path)
            time.sleep(READY_POLL_S)

    def wait_redis(self, child: Child, host: str, port: int) -> None:
        import redis

        deadline = time.monotonic() + self.timeout_s
        client = redis.Redis(host=host, port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                self.check()
                if child.exited() is not None:
                    raise child.died_error()
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise UpError(f"redis did not answer PING on {host}:{port} within "
                                  f"{self.timeout_s:.0f}s (log: {child.log_path})",
                                  child.log_path)
                time.sleep(READY_POLL_S)
        finally:
            client.close()

    def wait_cluster(self, nameserver_url: str, stores: list[Child],
                     credentials: Credentials) -> None:
        from plen.client.fs import FileSystem

        expected = {c.server_id for c in stores if c.server_id}
        deadline = time.monotonic() + self.timeout_s

        async def go() -> None:
            async with FileSystem(nameserver_url, credentials=credentials) as fs:
                last = "no answer yet"
                while True:
                    self.check()
                    for child in self.children:
                        if child.exited() is not None:
                            raise child.died_error()
                    try:
                        st = await fs.cluster_status()
                        live = {s.server_id for s in st.servers if s.state == "live"}
                        if (expected <= live) if expected else len(live) >= len(stores):
                            return
                        last = f"{len(live & expected) if expected else len(live)} of " \
                               f"{len(stores)} blockstores live"
                    except WireError as err:
                        last = err.message
                    if time.monotonic() > deadline:
                        raise UpError(f"the blockstores did not all register within "
                                      f"{self.timeout_s:.0f}s: {last}")
                    await asyncio.sleep(0.1)

        asyncio.run(go())

    # -- run and stop ------------------------------------------------------------------------

    def watch(self) -> None:
        """Until a signal: report children that exit on their own."""
        while not self.stop_requested:
            for child in self.children:
                code = child.exited()
                if code is not None and not child.exit_reported:
                    child.exit_reported = True
                    if self.json_events:
                        click.echo(js.dumps({
                            "event": "exited", "service": child.name, "pid": child.pid,
                            "exit_code": code if code >= 0 else None,
                            "signal": -code if code < 0 else None,
                            "log": str(child.log_path)}), err=True)
                        continue
                    how = f"was killed by signal {-code}" if code < 0 else \
                        f"exited with code {code}"
                    click.echo(f"plen up: {child.name} (pid {child.pid}) {how}; the rest keep "
                               f"running (log: {child.log_path})", err=True)
            time.sleep(0.2)

    def stop(self) -> None:
        """The gateway, the blockstores, the nameserver, then Redis: SIGTERM, wait, SIGKILL."""
        gateways = [c for c in self.children if c.name == "gateway"]
        stores = [c for c in self.children if c.name.startswith("blockstore")]
        others = [c for c in reversed(self.children) if c not in stores and c not in gateways]
        for group in (gateways, stores, *[[c] for c in others]):
            for child in group:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for child in group:
                if child.proc is None:
                    continue
                while child.proc.poll() is None:
                    if time.monotonic() > deadline or self.signals_seen >= 2:
                        child.signal(signal.SIGKILL)
                        child.proc.wait()
                        break
                    time.sleep(0.05)


@contextlib.contextmanager
def _data_lock(data: Path) -> Iterator[IO[str]]:
    """One ``plen up`` per data directory: two would share one Redis AOF and block dirs."""
    path = data / "plen-up.lock"
    f = open(path, "a+")  # noqa: SIM115 (held open for the lifetime of plen up)
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise UpError(f"another 'plen up' is running on {data} "
                          f"(pid {f.read().strip() or '?'})") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield f
    finally:
        f.close()


def _child_env(secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    env["PLEN_CLUSTER_SECRET"] = secret  # not on the command line, where ps would show it
    env["PYTHONUNBUFFERED"] = "1"
    # Children run from the data directory; make sure they import this very plen.
    import plen

    root = Path(plen.__file__).resolve().parent.parent
    if (root / "nameserver" / "__init__.py").exists():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def root_credentials(data: Path) -> tuple[str, str]:
    """The S3 root user: from PLEN_ROOT_USER/PLEN_ROOT_PASSWORD, else made once and kept in
    ``root-credentials`` (mode 0600) so that every restart on the same data keeps them."""
    user, password = os.environ.get("PLEN_ROOT_USER"), os.environ.get("PLEN_ROOT_PASSWORD")
    if user and password:
        return user, password
    path = data / "root-credentials"
    try:
        saved = json.loads(path.read_text())
        return saved["access_key"], saved["secret_key"]
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as exc:
        raise UpError(f"{path} is damaged ({exc}); remove it to make new keys") from exc
    alphabet = string.ascii_uppercase + string.digits
    access_key = "PLEN" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_key = secrets.token_urlsafe(30)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key": access_key, "secret_key": secret_key}, f)
    os.replace(tmp, path)
    return access_key, secret_key


TLS_DIR = "tls"  # under --data: the local authority and the gateway's certificate


def tls_hosts(host: str) -> list[str]:
    """The names a client may use for a gateway bound to ``host``."""
    hosts = {"localhost", "127.0.0.1", "::1"}
    if host in ("0.0.0.0", "", "::"):
        hosts.add(socket.gethostname())
    else:
        hosts.add(host)
    return sorted(hosts)


def _start_gateway(sup: Supervisor, *, data: Path, env: dict[str, str], ns_url: str,
                   host: str, port: int, tls: bool) -> Child:
    user, password = root_credentials(data)
    run = data / "run"
    gw_env = {**env, "PLEN_ROOT_USER": user, "PLEN_ROOT_PASSWORD": password}
    argv = [sys.executable, "-m", "gateway", "--nameserver", ns_url, "--host", host,
            "--port", str(port), "--ready-file", str(run / "gateway.ready")]
    if tls:
        from gateway.tls import local_certificate

        made = local_certificate(data / TLS_DIR, tls_hosts(host))
        argv += ["--tls-cert", str(made.cert), "--tls-key", str(made.key)]
    gateway = sup.launch(Child("gateway", argv, data / "logs" / "gateway.log",
                               ready_file=run / "gateway.ready", env=gw_env, cwd=data))
    sup.wait_ready(gateway)
    return gateway


def _start(sup: Supervisor, *, data: Path, blockstores: int, replication: int,
           redis_url: str | None, host: str, nameserver_port: int, blockstore_port: int,
           redis_port: int, block_size: int | None, gateway_port: int | None,
           tls: bool = False, extra_env: dict[str, str] | None = None) -> tuple[str, str]:
    """Start everything; the nameserver URL and the Redis URL."""
    from nameserver.store.embedded import free_port, redis_command

    logs, run = data / "logs", data / "run"
    secret = load_or_create_secret(data / "secret")
    env = {**_child_env(secret), **(extra_env or {})}

    if redis_url is None:
        port = redis_port or free_port(_connect_host(host))
        redis_host = _connect_host(host)
        try:
            argv = redis_command(data / "redis", port, host=host)
        except RuntimeError as exc:  # RedisNotFoundError
            raise UpError(str(exc)) from exc
        redis = sup.launch(Child("redis", argv, logs / "redis.log", data_dir=data / "redis",
                                 cwd=data / "redis"))
        sup.wait_redis(redis, redis_host, port)
        redis_url = f"redis://{redis_host}:{port}/0"
        redis.url = redis_url

    ns_argv = [sys.executable, "-m", "nameserver", "--host", host,
               "--port", str(nameserver_port), "--redis", redis_url,
               "--replication", str(replication), "--ready-file", str(run / "nameserver.ready")]
    if block_size is not None:
        ns_argv += ["--block-size", str(block_size)]
    user, password = root_credentials(data)
    ns_env = {**env, "PLEN_ROOT_USER": user, "PLEN_ROOT_PASSWORD": password}
    ns = sup.launch(Child("nameserver", ns_argv, logs / "nameserver.log",
                          ready_file=run / "nameserver.ready", env=ns_env, cwd=data))
    sup.wait_ready(ns)

    stores: list[Child] = []
    for i in range(blockstores):
        name = f"blockstore-{i}"
        store_dir = data / name
        store_dir.mkdir(parents=True, exist_ok=True)
        port = blockstore_port + i if blockstore_port else 0
        argv = [sys.executable, "-m", "blockstore", "--data", str(store_dir),
                "--nameserver", ns.url, "--host", host, "--port", str(port),
                "--ready-file", str(run / f"{name}.ready")]
        stores.append(sup.launch(Child(name, argv, logs / f"{name}.log", data_dir=store_dir,
                                       ready_file=run / f"{name}.ready", env=env, cwd=data)))
    for store in stores:
        sup.wait_ready(store)
    sup.wait_cluster(ns.url, stores, Credentials(user, password))
    if gateway_port is not None:
        _start_gateway(sup, data=data, env=env, ns_url=ns.url, host=host, port=gateway_port,
                       tls=tls)
    return ns.url, redis_url


@dataclass
class LocalCluster:
    """A cluster started by ``start_local_cluster``; ``stop()`` ends every process it
    started, by PID, in ``plen up``'s order."""

    data: Path
    nameserver_url: str
    redis_url: str
    gateway_url: str | None
    access_key: str | None
    secret_key: str | None
    ca_bundle: Path | None
    supervisor: Supervisor

    @property
    def pids(self) -> dict[str, int]:
        """Service name -> PID of every process started (the gateway's workers are its
        children, stopped with it)."""
        return {c.name: c.pid for c in self.supervisor.children if c.pid is not None}

    def stop(self) -> None:
        self.supervisor.stop()


def start_local_cluster(data: Path, *, blockstores: int = 3, replication: int | None = None,
                        host: str = "127.0.0.1", block_size: int | None = None,
                        gateway: bool = True, tls: bool = False, timeout_s: float = 60.0,
                        extra_env: dict[str, str] | None = None) -> LocalCluster:
    """What ``plen up`` starts (embedded Redis, a nameserver, blockstores, a gateway), on
    free ports under ``data``, for a program rather than a terminal: no signal handlers,
    no client config written, nothing printed. Raises ``UpError`` after stopping whatever
    had started when something does not get ready."""
    replication = min(3, blockstores) if replication is None else replication
    data = data.expanduser().resolve()
    data.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(data, timeout_s=timeout_s)
    try:
        ns_url, redis_url = _start(
            sup, data=data, blockstores=blockstores, replication=replication, redis_url=None,
            host=host, nameserver_port=0, blockstore_port=0, redis_port=0,
            block_size=block_size, gateway_port=0 if gateway else None, tls=tls,
            extra_env=extra_env)
    except BaseException:
        sup.stop()
        raise
    gateway_child = next((c for c in sup.children if c.name == "gateway"), None)
    access_key, secret_key = root_credentials(data)  # root's: the gateway's and the CLI's
    ca_bundle = None
    if gateway_child is not None:
        if tls:
            from gateway.tls import LocalCertificate

            ca_bundle = LocalCertificate.in_directory(data / TLS_DIR).ca
    return LocalCluster(data=data, nameserver_url=ns_url, redis_url=redis_url,
                        gateway_url=gateway_child.url if gateway_child else None,
                        access_key=access_key, secret_key=secret_key, ca_bundle=ca_bundle,
                        supervisor=sup)


def _fail(code: str, message: str, exit_code: int, json_mode: bool) -> None:
    if json_mode:
        js.emit_error(code, message, exit_code)
    else:
        click.echo(f"plen: {message}", err=True)


def _announcement(sup: Supervisor, redis_url: str, embedded: bool,
                  config_file: Path) -> dict[str, Any]:
    """``plen --json up``'s one line once ready: everything a script needs to connect."""
    by_name = {c.name: c for c in sup.children}
    gateway = by_name.get("gateway")
    s3 = None
    if gateway is not None:
        user, password = root_credentials(sup.data)
        ca = None
        if gateway.url.startswith("https:"):
            from gateway.tls import LocalCertificate

            ca = str(LocalCertificate.in_directory(sup.data / TLS_DIR).ca)
        s3 = {"endpoint_url": gateway.url, "access_key": user, "secret_key": password,
              # The gateway's own default when PLEN_REGION does not set it.
              "region": os.environ.get("PLEN_REGION") or "us-east-1", "ca_bundle": ca}
    return {
        "ready": True, "data": str(sup.data), "nameserver": by_name["nameserver"].url,
        "redis": {"url": redis_url, "embedded": embedded},
        "services": [{"name": c.name, "pid": c.pid, "url": c.url,
                      "data_dir": str(c.data_dir) if c.data_dir else None}
                     for c in sup.children],
        "s3": s3, "config": str(config_file), "logs": str(sup.data / "logs"),
    }


def _print_table(sup: Supervisor, redis_url: str, embedded: bool) -> None:
    table = Table(title="plen up", title_justify="left")
    for header in ("service", "pid", "url", "data dir"):
        table.add_column(header, no_wrap=True)
    if not embedded:
        table.add_row("redis (external)", "-", Text(redis_url), "-")
    for child in sup.children:
        table.add_row(child.name, str(child.pid), Text(child.url),
                      Text(str(child.data_dir) if child.data_dir else "-"))
    console().print(table)
    gateway = next((c for c in sup.children if c.name == "gateway"), None)
    if gateway is not None:
        user, password = root_credentials(sup.data)
        click.echo(f"S3 endpoint: {gateway.url}")
        click.echo(f"S3 access key: {user}")
        click.echo(f"S3 secret key: {password}")
        if gateway.url.startswith("https:"):
            from gateway.tls import LocalCertificate

            ca = LocalCertificate.in_directory(sup.data / TLS_DIR).ca
            click.echo(f"S3 CA bundle: {ca}  (a local authority: export AWS_CA_BUNDLE={ca})")
        click.echo(f"  e.g. AWS_ACCESS_KEY_ID={user} AWS_SECRET_ACCESS_KEY=... "
                   f"aws --endpoint-url {gateway.url} s3 ls")


@click.command()
@click.option("--data", type=click.Path(file_okay=False, path_type=Path),
              default=Path("plen-data"), show_default=True,
              help="Where everything is kept; starting again on it keeps everything.")
@click.option("--blockstores", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many blockstores to run.")
@click.option("--replication", type=click.IntRange(min=1), default=None,
              help="Replicas per block [default: 3, or fewer when there are fewer blockstores].")
@click.option("--redis", "redis_url", metavar="URL", default=None,
              help="Use this Redis instead of starting an embedded one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--nameserver-port", type=click.IntRange(min=0, max=65535), default=0,
              show_default=True, help="0 = a free port.")
@click.option("--blockstore-port", type=click.IntRange(min=0, max=65535), default=0,
              show_default=True, help="First blockstore's port (the next ones follow); "
              "0 = free ports.")
@click.option("--redis-port", type=click.IntRange(min=0, max=65535), default=0,
              show_default=True, help="Embedded Redis port; 0 = a free port.")
@click.option("--block-size", type=click.IntRange(min=4096), default=None,
              help="Bytes per block [default: the nameserver's, 8 MiB].")
@click.option("--gateway-port", type=click.IntRange(min=0, max=65535), default=9000,
              show_default=True, help="The S3 gateway's port; 0 = a free port.")
@click.option("--no-gateway", is_flag=True, help="Run no S3 gateway.")
@click.option("--tls", is_flag=True,
              help="Serve S3 over HTTPS, with a certificate signed by a local authority "
              "made in DATA/tls (clients trust DATA/tls/ca.pem).")
@click.option("--startup-timeout", type=float, default=60.0, show_default=True, hidden=True)
@js.json_option
@click.pass_context
def up(ctx: click.Context, data: Path, blockstores: int, replication: int | None,
       redis_url: str | None, host: str, nameserver_port: int, blockstore_port: int,
       redis_port: int, block_size: int | None, gateway_port: int, no_gateway: bool,
       tls: bool, startup_timeout: float) -> None:
    """Run a whole cluster here, in the foreground: Redis, a nameserver, blockstores and an
    S3 gateway.

    Writes the client config so that every other plen command finds the cluster.
    Ctrl-C stops everything.
    """
    if replication is None:
        replication = min(3, blockstores)
    if tls and no_gateway:
        raise click.BadParameter("there is no gateway to serve TLS", param_hint="--tls")
    if replication > blockstores:
        raise click.BadParameter(f"{replication} replicas need at least {replication} "
                                 f"blockstores, not {blockstores}", param_hint="--replication")
    data = data.expanduser().resolve()
    # plen.cli.main's AppContext; up cannot import main (main imports up), so it asks.
    json_mode = bool(getattr(ctx.obj, "json", False))
    sup = Supervisor(data, timeout_s=startup_timeout)
    sup.json_events = json_mode
    sup.install_signal_handlers()
    exit_code = 0
    try:
        data.mkdir(parents=True, exist_ok=True)
        with _data_lock(data):
            try:
                ns_url, used_redis = _start(
                    sup, data=data, blockstores=blockstores, replication=replication,
                    redis_url=redis_url, host=host, nameserver_port=nameserver_port,
                    blockstore_port=blockstore_port, redis_port=redis_port,
                    block_size=block_size, gateway_port=None if no_gateway else gateway_port,
                    tls=tls)
                # The CLI signs as root on the cluster it started (mode 0600 file).
                config_file = config.save_nameserver(ns_url,
                                                     Credentials(*root_credentials(data)))
                if json_mode:
                    js.emit(_announcement(sup, used_redis, redis_url is None, config_file))
                    sys.stdout.flush()  # a script reads this line while up keeps running
                else:
                    _print_table(sup, used_redis, embedded=redis_url is None)
                    click.echo(f"client config: {config_file}")
                    click.echo(f"logs: {data / 'logs'}")
                    click.echo("ready: try 'plen status'")
                sup.watch()
                if json_mode:
                    click.echo(js.dumps({"event": "stopping"}), err=True)
                else:
                    click.echo("plen up: stopping", err=True)
            except _Interrupted:
                _fail("interrupted", "up: interrupted while starting; stopping", 130,
                      json_mode)
                exit_code = 130
            except (UpError, config.ConfigError, OSError) as exc:
                message = str(exc) if not isinstance(exc, OSError) else \
                    f"{exc.filename or ''}: {(exc.strerror or str(exc)).lower()}".lstrip(": ")
                tail = log_tail(exc.log) if isinstance(exc, UpError) and exc.log else []
                if json_mode:
                    js.emit_error("start_failed", f"up: {message}", 1, log_tail=tail)
                else:
                    click.echo(f"plen: up: {message}", err=True)
                    for line in tail:
                        click.echo(f"  | {line}", err=True)
                exit_code = 1
            finally:
                sup.stop()
    except (UpError, OSError) as exc:  # the data directory or its lock
        message = str(exc) if isinstance(exc, UpError) else \
            f"{data}: {(exc.strerror or str(exc)).lower()}"
        _fail("start_failed", f"up: {message}", 1, json_mode)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ctx.exit(exit_code)
