"""The integration harness's own pieces, without a nameserver or a blockstore: a real
redis-server, the ready-file protocol of ``plen.service.run``, signals, cleanup, waiting and
the block-file census."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from tests.integration.harness import (
    Cluster,
    ManagedProcess,
    ProcessExited,
    WaitTimeout,
    _num,
    child_env,
    healthz,
    plen_command,
    redis_ping,
    redis_process,
    redis_url_of,
    running_redis,
    start_process,
    wait_until,
)

FAKE_SERVICE = """
import sys
from pathlib import Path
from plen.service import base_app, run
run(base_app("fake"), service="fake", host="127.0.0.1", port=int(sys.argv[1]),
    ready_file=Path(sys.argv[2]))
"""


def gone(pid: int) -> bool:
    if not psutil.pid_exists(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def fake_service(tmp_path: Path, name: str = "fake") -> ManagedProcess:
    script = tmp_path / "fake_service.py"
    script.write_text(FAKE_SERVICE)
    ready = tmp_path / "run" / f"{name}.ready.json"
    return ManagedProcess(
        name, command=lambda port: [sys.executable, str(script), str(port), str(ready)],
        cwd=tmp_path, log_path=tmp_path / "logs" / f"{name}.log", env=child_env(),
        ready_file=ready)


# -- redis


def test_redis_server_fixture_is_a_real_redis(redis_server: str) -> None:
    with redis.Redis.from_url(redis_server) as r:
        assert r.ping()
        assert r.info("server")["redis_version"]
        r.set("k", "v")
        assert r.get("k") == b"v"
        assert r.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"


def _redis_children() -> set[int]:
    return {p.pid for p in psutil.Process().children()
            if "redis-server" in " ".join(p.cmdline())}


def test_running_redis_leaves_no_process(tmp_path: Path) -> None:
    # Only its own: a session-scoped cluster (the plenilune fixture) may run a Redis too.
    before = _redis_children()
    with running_redis(tmp_path) as url:
        assert redis_ping(url)
        pids = _redis_children() - before
        assert pids
    assert all(gone(pid) for pid in pids)
    with pytest.raises(redis.ConnectionError):
        redis_ping(url)


def test_redis_keeps_acknowledged_writes_across_sigkill(tmp_path: Path) -> None:
    proc = redis_process("redis", data_dir=tmp_path / "redis", log_dir=tmp_path / "logs",
                         cwd=tmp_path)
    try:
        start_process(proc, timeout=30, retry_port=None)
        url = redis_url_of(proc)
        with redis.Redis.from_url(url) as r:
            r.set("durable", "yes")
        assert proc.signal_and_wait(signal.SIGKILL, 10) == -signal.SIGKILL
        start_process(proc, timeout=30, retry_port=None)  # same port, same AOF
        assert redis_url_of(proc) == url
        with redis.Redis.from_url(url) as r:
            assert r.get("durable") == b"yes"
    finally:
        proc.terminate()
    assert "start #2" in proc.log_path.read_text()


# -- ready files, signals, restarts


def test_ready_file_announces_url_and_pid(tmp_path: Path) -> None:
    proc = fake_service(tmp_path)
    try:
        start_process(proc, timeout=30, retry_port=None)
        assert proc.info["service"] == "fake"
        assert proc.info["pid"] == proc.pid
        assert proc.port != 0 and proc.url == f"http://127.0.0.1:{proc.port}"
        assert healthz(proc.url)
        assert json.loads(proc.ready_file.read_text())["url"] == proc.url  # type: ignore[union-attr]
    finally:
        code = proc.terminate()
    assert code == 0, proc.log_tail()  # SIGTERM is a clean shutdown
    assert not healthz(proc.url, timeout=1)


def test_restart_reuses_the_port(tmp_path: Path) -> None:
    proc = fake_service(tmp_path)
    try:
        start_process(proc, timeout=30, retry_port=None)
        first_url, first_pid = proc.url, proc.pid
        assert proc.signal_and_wait(signal.SIGKILL, 10) == -signal.SIGKILL
        start_process(proc, timeout=30, retry_port=None)
        assert proc.url == first_url and proc.pid != first_pid
        assert healthz(proc.url)
    finally:
        proc.terminate()


def test_paused_process_is_still_stopped_by_sigterm(tmp_path: Path) -> None:
    proc = fake_service(tmp_path)
    try:
        start_process(proc, timeout=30, retry_port=None)
        proc.send(signal.SIGSTOP)
        assert proc.paused
        # SIGSTOP is delivered asynchronously: wait for the kernel to say so
        wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_STOPPED,
                   timeout=10)
        assert not healthz(proc.url, timeout=0.5)
        proc.send(signal.SIGCONT)
        assert healthz(proc.url)
        proc.send(signal.SIGSTOP)
        pid = proc.pid
        assert proc.terminate(grace=10) == 0  # SIGTERM + SIGCONT, not the SIGKILL fallback
        assert pid is not None and gone(pid)
    finally:
        proc.force_kill()


def test_process_dying_before_ready_fails_fast_with_its_log(tmp_path: Path) -> None:
    ready = tmp_path / "never.json"
    proc = ManagedProcess(
        "doomed", command=lambda port: [sys.executable, "-c",
                                        "import sys; print('boom: no config'); sys.exit(3)"],
        cwd=tmp_path, log_path=tmp_path / "logs" / "doomed.log", env=child_env(),
        ready_file=ready)
    started = time.monotonic()
    with pytest.raises(ProcessExited) as info:
        start_process(proc, timeout=60, retry_port=None)
    assert time.monotonic() - started < 30
    assert info.value.code == 3
    assert "boom: no config" in str(info.value) and "doomed" in str(info.value)


def test_child_env_drops_plen_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEN_NAMESERVER", "http://elsewhere:1")
    env = child_env({"PLEN_CONFIG": "/x"})
    assert "PLEN_NAMESERVER" not in env and env["PLEN_CONFIG"] == "/x"


# -- the cluster object without its services


def test_failed_cluster_start_shows_logs_and_cleans_up(tmp_path: Path) -> None:
    # Whether or not the nameserver exists yet, an unknown flag makes it exit at once.
    c = Cluster(tmp_path, blockstores=1, startup_timeout=60,
                nameserver_args=["--no-such-flag-for-the-harness-test"])
    try:
        with pytest.raises(AssertionError) as info:
            c.start()
        message = str(info.value)
        assert "cluster start failed" in message
        assert "===== nameserver" in message and "===== redis" in message
        redis_pid = c.pid("redis")
        assert redis_pid is not None and c.is_running("redis")
    finally:
        c.stop()
    assert gone(redis_pid)
    assert not any(c.is_running(n) for n in c.names)
    c.stop()  # idempotent


def test_block_files_counts_only_block_ids(tmp_path: Path) -> None:
    c = Cluster(tmp_path, blockstores=3)
    a, b = "ab" + "0" * 30, "cd" + "1" * 30
    for name, ids in {"bs0": [a, b], "bs1": [a], "bs2": []}.items():
        for bid in ids:
            path = c.block_path(name, bid)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
    shard = c.data_dir("bs2") / "blocks" / "ab"
    shard.mkdir(parents=True)
    (shard / (a + ".tmp")).write_bytes(b"")        # a temporary
    (shard / (a + ".corrupted")).write_bytes(b"")  # a quarantined copy
    (shard / a.upper()).write_bytes(b"")           # not lowercase
    (shard / ("cd" + "1" * 30)).write_bytes(b"")   # in the wrong shard
    (c.data_dir("bs2") / "blocks" / "tmp").mkdir()
    assert c.block_files() == {a: ["bs0", "bs1"], b: ["bs0"]}
    assert set(c.data_dirs) == {"bs0", "bs1", "bs2"}


def test_cluster_names_and_urls_before_start(tmp_path: Path) -> None:
    c = Cluster(tmp_path, blockstores=2, zones=["z1", "z2"])
    assert c.names == ["redis", "nameserver", "bs0", "bs1"]
    assert c.redis_url.startswith("redis://127.0.0.1:")
    with pytest.raises(AssertionError, match="not announced"):
        _ = c.nameserver_url
    with pytest.raises(ValueError):
        Cluster(tmp_path, blockstores=2, zones=["z1"])


# -- helpers


def test_wait_until_returns_the_value_or_times_out() -> None:
    calls = iter([0, None, "", 42])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001) == 42
    with pytest.raises(WaitTimeout, match="the sky to fall"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, message="the sky to fall")

    def flaky() -> bool:
        raise ConnectionRefusedError("not yet")

    with pytest.raises(WaitTimeout, match="not yet"):
        wait_until(flaky, timeout=0.05, interval=0.01, ignore=(OSError,))
    with pytest.raises(ConnectionRefusedError):
        wait_until(flaky, timeout=5)


def test_plen_command_and_numbers() -> None:
    argv = plen_command()
    assert argv and Path(argv[0]).exists()
    assert _num(1.0) == "1" and _num(0.5) == "0.5" and _num(15) == "15"
