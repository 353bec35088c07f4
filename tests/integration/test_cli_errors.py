"""Every CLI error is one readable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket

import pytest

from tests.integration.harness import Cluster, wait_until

CLUSTER_OPTIONS = {"blockstores": 3, "replication": 3}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line_error(result, code: int, *phrases: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == code, (result.returncode, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("plen: "), err
    for phrase in phrases:
        assert phrase in err, (phrase, err)


@pytest.fixture(scope="module")
def errs(shared_cluster: Cluster) -> Cluster:
    shared_cluster.plen("mkdir", "/e")
    shared_cluster.plen("put", "-", "/e/file", input=b"f")
    shared_cluster.plen("mkdir", "/e/full")
    shared_cluster.plen("put", "-", "/e/full/x", input=b"x")
    return shared_cluster


@pytest.mark.parametrize("args, code, phrase", [
    (("get", "/e/missing", "-"), 3, "no such file"),
    (("ls", "/nope"), 3, "no such file"),
    (("stat", "/e/missing"), 3, "no such file"),
    (("rm", "/e/missing"), 3, "no such file"),
    (("cd", "/e/missing"), 3, "no such file"),
    (("put", "-", "/nope/x"), 3, "no such file"),
    (("ls", "/e/file/x"), 4, "not a directory"),
    (("put", "-", "/e/file/x"), 4, "not a directory"),
    (("cd", "/e/file"), 4, "not a directory"),
    (("rmdir", "/e/full"), 4, "not empty"),
    (("mkdir", "/e"), 4, "exists"),
    (("rm", "/e/full"), 4, "directory"),
])
def test_error_cases_give_message_and_exit_code(errs: Cluster, args, code, phrase) -> None:
    assert_one_line_error(errs.plen(*args, input=b"data", check=False), code, phrase)


def test_cluster_unreachable(errs: Cluster) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = errs.plen("ls", "/", check=False, env={"PLEN_NAMESERVER": url})
    assert_one_line_error(result, 5, "cannot reach", url)


def test_no_cluster_configured(errs: Cluster, tmp_path) -> None:
    result = errs.plen("ls", "/", check=False,
                       env={"PLEN_NAMESERVER": "", "PLEN_CONFIG": str(tmp_path / "none.json")})
    assert result.returncode != 0 and "Traceback" not in result.stderr.decode()
    assert "plen up" in result.stderr.decode()


def test_get_failure_leaves_local_file_intact(errs: Cluster, tmp_path) -> None:
    target = tmp_path / "keep.txt"
    target.write_bytes(b"precious")
    result = errs.plen("get", "/e/missing", target, check=False)
    assert result.returncode == 3 and target.read_bytes() == b"precious"


def test_no_live_servers(cluster: Cluster) -> None:
    cluster.plen("mkdir", "/b")
    for name in cluster.blockstore_names:
        cluster.kill(name)
    cluster.admin("membership/run-once")
    wait_until(lambda: all(s["state"] == "dead" for s in cluster.cluster_status()["servers"]),
               timeout=30, interval=0.2)
    result = cluster.plen("put", "-", "/b/big", input=os.urandom(100_000), check=False)
    assert_one_line_error(result, 5, "no live")
    assert cluster.ns_post("stat", {"path": "/b/big"})["file"] is None
