"""`plen --json` against a real cluster: every document parses and says what was written
(sizes in bytes, MD5s, ISO 8601 UTC times); every error is one JSON object on stderr."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.harness import Cluster

BS = 1024 * 1024
CLUSTER_OPTIONS = {"blockstores": 3, "replication": 3, "block_size": BS}


def doc(cluster: Cluster, *args: str | os.PathLike[str], input: bytes | None = None) -> dict:
    result = cluster.plen("--json", *args, input=input)
    assert result.stderr == b"", result.stderr
    return json.loads(result.stdout)


def error_of(cluster: Cluster, *args: str, code: int, input: bytes | None = None) -> dict:
    result = cluster.plen(*args, input=input, check=False)
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    err = json.loads(lines[0])["error"]
    assert err["exit_code"] == code
    return err


def utc(text: str) -> float:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def c(shared_cluster: Cluster) -> Cluster:
    shared_cluster.plen("mkdir", "/j")
    return shared_cluster


def test_put_stat_ls_get_describe_what_was_written(c: Cluster, tmp_path: Path) -> None:
    data = os.urandom(2 * BS + 77)
    src = tmp_path / "photo.jpg"
    src.write_bytes(data)
    before = time.time()
    put = doc(c, "put", src, "/j/")
    after = time.time()
    md5 = hashlib.md5(data).hexdigest()
    assert (put["type"], put["path"], put["name"]) == ("file", "/j/photo.jpg", "photo.jpg")
    assert (put["size"], put["md5"], put["source"]) == (len(data), md5, str(src))
    assert put["content_type"] == "image/jpeg" and put["block_count"] == 3
    assert before - 1 <= utc(put["mtime"]) <= after + 1

    st = doc(c, "stat", "/j/photo.jpg")
    assert (st["size"], st["md5"], st["mtime"]) == (len(data), md5, put["mtime"])
    assert [b["size"] for b in st["blocks"]] == [BS, BS, 77]
    assert [b["offset"] for b in st["blocks"]] == [0, BS, 2 * BS]
    on_disk = c.block_files()
    for block in st["blocks"]:
        holders = {c.server_id(name) for name in on_disk[block["block_id"]]}
        assert {r["server_id"] for r in block["replicas"]} == holders
        assert len(holders) == 3 and len(block["crc32c"]) == 8

    c.plen("put", "-", "/j/small", input=b"tiny")
    c.plen("mkdir", "/j/sub")
    listing = doc(c, "ls", "/j")
    assert (listing["path"], listing["type"]) == ("/j", "dir")
    by_name = {e["name"]: e for e in listing["entries"]}
    assert set(by_name) == {"photo.jpg", "small", "sub"}
    assert by_name["small"]["size"] == 4 and by_name["small"]["inline"] is True
    assert by_name["small"]["md5"] == hashlib.md5(b"tiny").hexdigest()
    assert by_name["sub"] == {**by_name["sub"], "type": "dir", "path": "/j/sub", "marker": True}
    assert by_name["photo.jpg"]["size"] == len(data)

    dest = tmp_path / "back.jpg"
    got = doc(c, "get", "/j/photo.jpg", dest)
    assert (got["local"], got["size"], got["md5"]) == (str(dest), len(data), md5)
    assert dest.read_bytes() == data
    # To stdout the bytes are the output: no document mixed in.
    assert c.plen("--json", "get", "/j/small", "-").stdout == b"tiny"


def test_mutations_report_their_result_and_happen(c: Cluster) -> None:
    made = doc(c, "mkdir", "/j/m")
    assert (made["path"], made["type"], made["created"]) == ("/j/m", "dir", True)
    again = doc(c, "mkdir", "-p", "/j/m")
    assert again["created"] is False
    data = os.urandom(BS + 3)
    c.plen("put", "-", "/j/m/a", input=data)
    copied = doc(c, "cp", "/j/m/a", "/j/m/b")
    assert (copied["path"], copied["source"], copied["size"]) == ("/j/m/b", "/j/m/a", len(data))
    assert copied["md5"] == hashlib.md5(data).hexdigest()
    moved = doc(c, "mv", "/j/m", "/j/n")
    assert moved == {"path": "/j/n", "type": "dir", "source": "/j/m"}
    assert c.plen("get", "/j/n/b", "-").stdout == data
    touched = doc(c, "touch", "/j/n/empty")
    assert (touched["size"], touched["md5"]) == (0, hashlib.md5(b"").hexdigest())
    assert doc(c, "rm", "/j/n/a") == {"path": "/j/n/a", "type": "file", "removed": True}
    assert doc(c, "rm", "-r", "/j/n") == {"path": "/j/n", "type": "dir", "removed": True}
    assert c.plen("ls", "/j/n", check=False).returncode == 3
    doc(c, "mkdir", "/j/gone")
    assert doc(c, "rmdir", "/j/gone") == {"path": "/j/gone", "type": "dir", "removed": True}
    # Per command as well as global: the same document.
    assert json.loads(c.plen("stat", "--json", "/j/small").stdout) == doc(c, "stat", "/j/small")


def test_status_server_ls_and_fsck_match_the_cluster(c: Cluster) -> None:
    st = doc(c, "status")
    ids = {c.server_id(name) for name in c.blockstore_names}
    assert {s["server_id"] for s in st["servers"]} == ids
    assert st["live_servers"] == 3 and st["replication_factor"] == 3
    assert st["nameserver"] == c.nameserver_url
    assert st["capacity_bytes"] == sum(s["capacity_bytes"] for s in st["servers"]) > 0
    assert all(s["state"] == "live" and isinstance(s["used_bytes"], int) for s in st["servers"])
    raw = c.cluster_status()
    assert (st["files"], st["blocks"]) == (raw["files"], raw["blocks"])
    servers = doc(c, "server", "ls")
    assert {s["public_url"] for s in servers["servers"]} == set(c.blockstore_urls.values())
    fsck = doc(c, "fsck")
    assert fsck["ok"] is True and fsck["files"] == raw["files"]
    assert fsck["counts"]["missing"] == 0


def test_cd_and_pwd(c: Cluster, tmp_path: Path) -> None:
    env = {"PLEN_CONFIG": str(tmp_path / "cfg.json")}
    assert json.loads(c.plen("--json", "cd", "/j", env=env).stdout) == {"cwd": "/j"}
    assert json.loads(c.plen("--json", "pwd", env=env).stdout) == {"cwd": "/j"}


@pytest.mark.parametrize("args, exit_code, code", [
    (("--json", "stat", "/j/missing"), 3, "not_found"),
    (("ls", "--json", "/nope"), 3, "not_found"),
    (("--json", "mkdir", "/j"), 4, "already_exists"),
    (("--json", "put", "-", "/j/small/x"), 4, "not_a_directory"),
    (("--json", "ls", "--bogus"), 2, "usage"),
    (("--json", "--bogus", "ls"), 2, "usage"),
    (("ls", "/", "--json", "--bogus"), 2, "usage"),
    (("--json", "nosuchcommand"), 2, "usage"),
])
def test_errors_are_one_json_object_on_stderr(c: Cluster, args, exit_code, code) -> None:
    c.plen("put", "-", "/j/small", input=b"tiny")
    err = error_of(c, *args, code=exit_code, input=b"x")
    assert err["code"] == code and err["message"]


def test_local_errors_and_an_unreachable_cluster(c: Cluster, tmp_path: Path) -> None:
    err = error_of(c, "--json", "put", str(tmp_path / "absent"), "/j/x", code=3)
    assert err["code"] == "not_found" and str(tmp_path / "absent") in err["message"]
    result = c.plen("--json", "ls", "/", check=False,
                    env={"PLEN_NAMESERVER": "http://127.0.0.1:9"})
    err = json.loads(result.stderr)["error"]
    assert result.returncode == err["exit_code"] == 5
    assert err["code"] == "unavailable_before_start" and "127.0.0.1:9" in err["message"]
    result = c.plen("--json", "ls", "/", check=False,
                    env={"PLEN_NAMESERVER": "", "PLEN_CONFIG": str(tmp_path / "none.json")})
    assert json.loads(result.stderr)["error"]["code"] == "no_cluster"


def test_hostile_names_come_back_exactly(c: Cluster) -> None:
    name = "tab\there \x1b[31mred\x1b[0m ☃"
    c.ns_post("mkdir", {"path": "/j/h"})
    c.plen("put", "-", f"/j/h/{name}", input=b"hostile")
    result = c.plen("--json", "ls", "/j/h")
    assert result.stdout.isascii()  # escaped, so no terminal acts on it
    assert [e["name"] for e in json.loads(result.stdout)["entries"]] == [name]
