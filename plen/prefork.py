"""Several worker processes serving one listening socket (the gateway's ``--workers``).

One asyncio process uses one core; the gateway parses, signs and hashes in Python, so on a
machine with more cores it runs a worker per core.

Rules:

1. The parent binds and listens, then forks the workers before any event loop exists; each
   worker serves the inherited socket with its own loop, and the kernel hands each new
   connection to whichever worker accepts first.
2. A worker dies with its parent (``PR_SET_PDEATHSIG``): SIGKILL of the parent, which is what
   a supervisor or a fault test sends to the PID it knows, never leaves workers serving.
3. The parent forwards SIGTERM and SIGINT to the workers and waits for them. A worker that
   exits on its own stops the others and the parent exits 1, so the supervisor (``plen up``,
   systemd, Kubernetes) restarts the whole server instead of it running short-handed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
from collections.abc import Callable

log = logging.getLogger("plen.prefork")

_PR_SET_PDEATHSIG = 1


MAX_DEFAULT = 8  # each worker holds its own imports and pools: about 60 MiB


def default_count() -> int:
    """One worker per core this process may run on, at most MAX_DEFAULT."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT))


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: rule 2 does not hold there
        log.warning("workers will not die with their parent on this platform")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def run(count: int, serve: Callable[[], None], *, on_started: Callable[[], None]) -> None:
    """Fork ``count`` workers that each call ``serve()`` (which returns on SIGTERM), call
    ``on_started()`` in the parent, and wait; returns when every worker has stopped, or
    raises SystemExit(1) if one stopped on its own."""
    parent = os.getpid()
    workers: set[int] = set()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _die_with_parent(parent)
                serve()
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        workers.add(pid)

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            _signal(pid, signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    log.info("%d workers: %s", count, sorted(workers))
    on_started()

    failed = False
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        workers.discard(pid)
        if not stopping:
            log.error("worker %d exited (status %d); stopping the others", pid, status)
            failed = stopping = True
            for other in workers:
                _signal(other, signal.SIGTERM)
    if failed:
        raise SystemExit(1)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
