"""Every failure is one line on stderr with an exit code from main.py's table; never a
traceback unless --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from nameserver.store.embedded import free_port
from plen.cli.main import cli


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("PLEN_CONFIG", str(tmp_path / "cfg" / "config.json"))
    monkeypatch.delenv("PLEN_NAMESERVER", raising=False)


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("argv", [
    ["ls", "/"], ["ls", "-l", "/b"], ["status"], ["stat", "/b/x"], ["get", "/b/x", "-"],
    ["mkdir", "-p", "/b/c"], ["rm", "-r", "/b"], ["mv", "/a", "/b"], ["cd", "/b"],
    ["touch", "/b/t"], ["init", "--yes"], ["put", "-", "/b/x"],
])
def test_unreachable_nameserver_is_one_line_and_exit_5(argv, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run("--nameserver", url, *argv, input=b"data")
    assert result.exit_code == 5, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"plen: cannot reach the nameserver at {url}: "), line
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_debug_adds_the_traceback():
    url = f"http://127.0.0.1:{free_port()}"
    result = run("--nameserver", url, "--debug", "ls", "/")
    assert result.exit_code == 5
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("plen: cannot reach")


def test_no_cluster_configured_says_how_to_get_one():
    result = run("ls", "/")
    assert result.exit_code == 5
    line = one_line(result.stderr)
    assert line.startswith("plen: no cluster configured: run 'plen up'"), line


def test_unreadable_config_is_one_line_exit_1(tmp_path):
    cfg = tmp_path / "cfg" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text("{not json")
    result = run("ls", "/")
    assert result.exit_code == 1
    assert "config.json is not valid JSON" in one_line(result.stderr)


def test_missing_local_file_names_the_local_file(fake_cluster_thread, tmp_path):
    missing = tmp_path / "nope.txt"
    result = run("--nameserver", fake_cluster_thread.url, "put", str(missing), "/b/")
    assert result.exit_code == 3
    assert one_line(result.stderr) == f"plen: put {missing}: no such file or directory"


@pytest.mark.parametrize("argv, code, message", [
    (["get", "/b/nope", "-"], 3, "plen: get /b/nope: no such file or directory"),
    (["stat", "/b/nope"], 3, "plen: stat /b/nope: no such file or directory"),
    (["ls", "/nope"], 3, "plen: ls /nope: no such file or directory"),
    (["cd", "/b/f"], 4, "plen: cd /b/f: not a directory"),
    (["rm", "/b/d"], 4, "plen: rm /b/d: is a directory"),
    (["rmdir", "/b"], 4, "plen: rmdir /b: directory not empty"),
    (["mkdir", "/b/d"], 4, "plen: mkdir /b/d: file exists"),
    (["mkdir", "/x/y/z"], 3, "plen: mkdir /x/y/z: no such file or directory"),
    (["get", "/b/d", "-"], 4, "plen: get /b/d: is a directory"),
])
def test_errors_map_to_one_line_and_exit_code(fake_cluster_thread, argv, code, message):
    url = fake_cluster_thread.url
    assert run("--nameserver", url, "mkdir", "-p", "/b/d").exit_code == 0
    assert run("--nameserver", url, "put", "-", "/b/f", input=b"x").exit_code == 0
    result = run("--nameserver", url, *argv)
    assert result.exit_code == code, (result.output, result.stderr)
    assert one_line(result.stderr) == message
    assert "Traceback" not in result.output


def test_usage_errors_exit_2():
    result = run("ls", "-z")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_no_live_servers_is_exit_5(fake_cluster_thread, tmp_path):
    fake_cluster_thread.stores.clear()  # the fake nameserver then knows no server
    src = tmp_path / "big"
    src.write_bytes(b"x" * 5000)
    result = run("--nameserver", fake_cluster_thread.url, "put", str(src), "/b/big")
    assert result.exit_code == 5
    assert one_line(result.stderr) == "plen: put /b/big: no live servers"


def test_plen_imports_and_runs_without_the_server_packages():
    code = (
        "import sys\n"
        "sys.modules['nameserver.__main__'] = None\n"
        "sys.modules['blockstore.__main__'] = None\n"
        "from click.testing import CliRunner\n"
        "from plen.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['pwd'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(cli, ['nameserver', '--port', '0'])\n"
        "print(r.exit_code, r.stderr.strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("1 plen: the nameserver package cannot be imported"), out.stdout
