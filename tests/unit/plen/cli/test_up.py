"""``plen up``'s supervisor with small stand-in child processes (no cluster needed)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from plen.cli import up as up_mod
from plen.cli.main import cli
from plen.cli.up import Child, Supervisor, UpError, _data_lock


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_ready_file_is_read_back_and_stale_one_deleted_first(tmp_path):
    ready = tmp_path / "run" / "svc.ready"
    ready.parent.mkdir()
    ready.write_text('{"service": "svc", "url": "http://stale:1", "pid": 1}')
    argv = script(tmp_path, "svc", f"""
        import json, os, time
        time.sleep(0.2)
        with open({str(ready)!r} + ".tmp", "w") as f:
            json.dump({{"service": "svc", "url": "http://127.0.0.1:4242/", "pid": os.getpid(),
                       "server_id": "abcdefabcdefabcd"}}, f)
        os.replace({str(ready)!r} + ".tmp", {str(ready)!r})
        time.sleep(60)
    """)
    sup = Supervisor(tmp_path, timeout_s=20)
    child = sup.launch(Child("svc", argv, tmp_path / "logs" / "svc.log", ready_file=ready))
    try:
        sup.wait_ready(child)
        assert child.url == "http://127.0.0.1:4242"
        assert child.server_id == "abcdefabcdefabcd"
    finally:
        sup.stop()
    assert child.exited() is not None


def test_child_dying_while_starting_fails_naming_it_with_its_log(tmp_path):
    argv = script(tmp_path, "bad", """
        import sys
        print("first line")
        print("the real reason: port already in use", file=sys.stderr)
        sys.exit(3)
    """)
    sup = Supervisor(tmp_path, timeout_s=20)
    log = tmp_path / "logs" / "blockstore-0.log"
    child = sup.launch(Child("blockstore-0", argv, log, ready_file=tmp_path / "bs0.ready"))
    with pytest.raises(UpError) as info:
        sup.wait_ready(child)
    sup.stop()
    assert "blockstore-0 exited with code 3 while starting" in str(info.value)
    assert info.value.log == log
    assert "the real reason: port already in use" in up_mod.log_tail(log)


def test_child_that_never_gets_ready_times_out(tmp_path):
    argv = script(tmp_path, "slow", "import time\ntime.sleep(60)\n")
    sup = Supervisor(tmp_path, timeout_s=0.5)
    child = sup.launch(Child("nameserver", argv, tmp_path / "ns.log",
                             ready_file=tmp_path / "ns.ready"))
    with pytest.raises(UpError) as info:
        sup.wait_ready(child)
    assert "nameserver did not announce its address within" in str(info.value)
    sup.stop()
    assert child.exited() is not None


def test_stop_goes_blockstores_nameserver_redis_and_kills_the_stubborn(tmp_path, monkeypatch):
    monkeypatch.setattr(up_mod, "STOP_GRACE_S", 1.0)
    order = tmp_path / "order.txt"
    started = tmp_path / "started"
    started.mkdir()

    def polite(name: str) -> list[str]:
        return script(tmp_path, name.replace("-", "_"), f"""
            import signal, sys, time, pathlib
            def bye(*_):
                with open({str(order)!r}, "a") as f:
                    f.write({name!r} + "\\n")
                sys.exit(0)
            signal.signal(signal.SIGTERM, bye)
            pathlib.Path({str(started)!r}, {name!r}).touch()
            while True:
                time.sleep(0.05)
        """)

    stubborn = script(tmp_path, "stubborn", f"""
        import signal, time, pathlib
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path({str(started)!r}, "blockstore-1").touch()
        while True:
            time.sleep(0.05)
    """)
    sup = Supervisor(tmp_path, timeout_s=10)
    children = [
        sup.launch(Child("redis", polite("redis"), tmp_path / "r.log")),
        sup.launch(Child("nameserver", polite("nameserver"), tmp_path / "n.log")),
        sup.launch(Child("blockstore-0", polite("blockstore-0"), tmp_path / "b0.log")),
        sup.launch(Child("blockstore-1", stubborn, tmp_path / "b1.log")),
    ]
    import time
    deadline = time.monotonic() + 20
    while len(list(started.iterdir())) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.stop()
    assert order.read_text().split() == ["blockstore-0", "nameserver", "redis"]
    assert children[3].exited() == -9  # ignored SIGTERM: killed after the grace period
    assert all(c.exited() is not None for c in children)


def test_one_up_per_data_directory(tmp_path):
    with _data_lock(tmp_path), pytest.raises(UpError) as info, _data_lock(tmp_path):
        pass
    assert "another 'plen up' is running" in str(info.value)
    with _data_lock(tmp_path):  # released with the first
        pass


def test_up_refuses_more_replicas_than_blockstores(tmp_path):
    result = CliRunner().invoke(cli, ["up", "--data", str(tmp_path / "d"),
                                      "--blockstores", "2", "--replication", "3"])
    assert result.exit_code == 2
    assert "need at least 3 blockstores" in result.stderr
    assert not (tmp_path / "d").exists()


def test_up_start_failure_is_one_line_and_exit_1(tmp_path, monkeypatch):
    """An external Redis that is not there: the nameserver cannot start."""
    monkeypatch.setenv("PLEN_CONFIG", str(tmp_path / "cfg.json"))

    def failing_start(sup: Supervisor, **kwargs) -> tuple[str, str]:
        argv = script(tmp_path, "ns", "import sys\nprint('no redis at all')\nsys.exit(1)\n")
        child = sup.launch(Child("nameserver", argv, tmp_path / "d" / "logs" / "ns.log",
                                 ready_file=tmp_path / "ns.ready"))
        sup.wait_ready(child)
        raise AssertionError("unreachable")

    monkeypatch.setattr(up_mod, "_start", failing_start)
    result = CliRunner().invoke(cli, ["up", "--data", str(tmp_path / "d")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("plen: up: nameserver exited with code 1 while starting")
    assert any("no redis at all" in line for line in lines[1:])
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cfg.json").exists()  # no config for a cluster that never came up
