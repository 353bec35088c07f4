"""The file commands against the fake cluster (served from a thread, see ../conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
from click.testing import CliRunner

from plen.cli.main import cli

BLOCK = 64 * 1024


@pytest.fixture
def plen(fake_cluster_thread, tmp_path, monkeypatch):
    """``plen(*args)`` against the fake cluster, found through the config file."""
    cfg = tmp_path / "cfg" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"nameserver": fake_cluster_thread.url}))
    monkeypatch.setenv("PLEN_CONFIG", str(cfg))
    monkeypatch.delenv("PLEN_NAMESERVER", raising=False)

    def run(*args: str, input: bytes | None = None, ok: bool = True):
        result = CliRunner().invoke(cli, list(args), input=input)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    run.cluster = fake_cluster_thread  # type: ignore[attr-defined]
    return run


def test_put_get_round_trip_multi_block(plen, tmp_path):
    data = os.urandom(3 * BLOCK + 123)
    src = tmp_path / "photo.jpg"
    src.write_bytes(data)
    plen("mkdir", "/b")
    plen("put", str(src), "/b/")  # trailing slash: into the directory
    stored = plen.cluster.ns.files["/b/photo.jpg"]
    assert stored.content_type == "image/jpeg"
    assert stored.md5 == hashlib.md5(data).hexdigest()
    assert len(stored.blocks) == 4
    plen("get", "/b/photo.jpg", str(tmp_path / "back.jpg"))
    assert (tmp_path / "back.jpg").read_bytes() == data
    out = plen("get", "/b/photo.jpg", "-")
    assert out.stdout_bytes == data


def test_put_into_existing_directory_and_from_stdin(plen, tmp_path):
    src = tmp_path / "a.txt"
    src.write_bytes(b"alpha")
    plen("mkdir", "/b")
    plen("put", str(src), "/b")  # an existing directory: into it
    plen("put", "-", "/b/from-stdin", input=b"piped bytes")
    assert plen("get", "/b/a.txt", "-").stdout_bytes == b"alpha"
    assert plen("get", "/b/from-stdin", "-").stdout_bytes == b"piped bytes"
    result = plen("put", "-", "/b", input=b"x", ok=False)
    assert result.exit_code == 2  # stdin has no name to put into a directory


def test_get_into_directory_and_overwrite_keeps_mode(plen, tmp_path):
    plen("mkdir", "/b")
    plen("put", "-", "/b/f.txt", input=b"new")
    dest_dir = tmp_path / "out"
    dest_dir.mkdir()
    old = dest_dir / "f.txt"
    old.write_bytes(b"old")
    old.chmod(0o640)
    plen("get", "/b/f.txt", str(dest_dir))
    assert old.read_bytes() == b"new"
    assert old.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(dest_dir)) == ["f.txt"]


def test_failed_get_leaves_the_old_local_file_intact(plen, tmp_path):
    plen("mkdir", "/b")
    plen("put", "-", "/b/big", input=os.urandom(2 * BLOCK))
    dest = tmp_path / "big"
    dest.write_bytes(b"precious")
    for store in plen.cluster.stores:
        store.get_mode = "error"
    result = plen("get", "/b/big", str(dest), ok=False)
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.startswith("plen: ")
    assert dest.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["big", "cfg"] or sorted(os.listdir(tmp_path)) == \
        ["big", "cfg"]
    result = plen("get", "/b/missing", str(dest), ok=False)
    assert result.exit_code == 3
    assert dest.read_bytes() == b"precious"


def test_ls_lists_dirs_with_slash_and_long_format(plen, tmp_path):
    plen("mkdir", "-p", "/b/sub")
    plen("put", "-", "/b/file", input=b"12345")
    plen("put", "-", "/b/sub/deep", input=b"x")
    out = plen("ls", "/b").output.splitlines()
    assert out == ["file", "sub/"]
    long = plen("ls", "-l", "/b").output.splitlines()
    assert long[0].split() [0] == "5" and long[0].endswith("  file")
    assert hashlib.md5(b"12345").hexdigest() in long[0]
    assert long[1].endswith("  sub/")
    # ls of a file shows that file
    assert plen("ls", "/b/file").output.strip() == "file"
    assert plen("ls", "/").output.splitlines() == ["b/"]


def test_cd_pwd_and_relative_paths(plen, tmp_path):
    plen("mkdir", "-p", "/b/d1/d2")
    assert plen("pwd").output.strip() == "/"
    plen("cd", "/b")
    assert plen("pwd").output.strip() == "/b"
    plen("cd", "d1/d2")
    assert plen("pwd").output.strip() == "/b/d1/d2"
    plen("put", "-", "here", input=b"rel")
    assert "/b/d1/d2/here" in plen.cluster.ns.files
    plen("cd", "../..")
    assert plen("pwd").output.strip() == "/b"
    assert plen("ls").output.splitlines() == ["d1/"]
    assert plen("get", "d1/d2/here", "-").stdout_bytes == b"rel"
    # cd into something missing keeps the old cwd
    assert plen("cd", "nope", ok=False).exit_code == 3
    assert plen("pwd").output.strip() == "/b"
    plen("cd")
    assert plen("pwd").output.strip() == "/"


def test_file_and_directory_of_the_same_name(plen):
    """S3 keys `a` and `a/x`: get/cp/mv/rm/stat take the file, ls/cd/rmdir the dir."""
    plen("mkdir", "/b")
    plen("put", "-", "/b/a", input=b"the file")
    assert plen("put", "-", "/b/a/x", input=b"below", ok=False).exit_code == 4  # not a dir
    plen("put", "-p", "-", "/b/a/x", input=b"below")
    assert plen("stat", "/b/a").output.splitlines()[1] == "type:     file"
    assert plen("get", "/b/a", "-").stdout_bytes == b"the file"
    assert plen("ls", "/b/a").output.splitlines() == ["x"]
    assert plen("ls", "/b").output.splitlines() == ["a", "a/"]
    plen("cd", "/b/a")
    assert plen("pwd").output.strip() == "/b/a"
    plen("cp", "/b/a", "/b/copy")
    assert plen("get", "/b/copy", "-").stdout_bytes == b"the file"
    plen("rm", "/b/a")
    assert "/b/a" not in plen.cluster.ns.files
    assert "/b/a/x" in plen.cluster.ns.files


def test_rm_rmdir_and_recursive(plen):
    plen("mkdir", "-p", "/b/d/e")
    plen("put", "-", "/b/d/e/f", input=b"x")
    assert plen("rm", "/b/d", ok=False).exit_code == 4
    assert plen("rmdir", "/b/d", ok=False).exit_code == 4
    assert plen("rmdir", "/b/d/e/f", ok=False).exit_code == 4  # a file: not a directory
    plen("rm", "/b/d/e/f")
    assert plen.cluster.ns.files == {}
    plen("rmdir", "/b/d/e")  # implicit parents (mkdir -p) vanish with their last child
    assert plen("ls", "/", ok=False).output == ""
    plen("put", "-p", "-", "/b/d/g", input=b"y")
    plen("mkdir", "-p", "/b")  # now a marker: it stays when /b/d goes
    plen("rm", "-r", "/b/d")
    assert plen("ls", "/b").output == ""
    plen("mkdir", "/b/h")
    plen("put", "-", "/b/h/i", input=b"z")
    plen("rmdir", "-r", "/b/h")
    assert plen.cluster.ns.files == {}


def test_mkdir_parents_and_existing(plen):
    assert plen("mkdir", "/b/c", ok=False).exit_code == 3
    plen("mkdir", "-p", "/b/c")
    plen("mkdir", "-p", "/b/c")  # exist_ok
    assert plen("mkdir", "/b/c", ok=False).exit_code == 4
    assert "/b/c" in plen.cluster.ns.markers


def test_mv_files_and_directories(plen):
    plen("mkdir", "-p", "/b/src")
    plen("mkdir", "-p", "/b/dst")
    plen("put", "-", "/b/src/f", input=b"1")
    plen("mv", "/b/src/f", "/b/dst")  # into an existing directory
    assert set(plen.cluster.ns.files) == {"/b/dst/f"}
    plen("mv", "/b/dst/f", "/b/dst/g")  # a rename
    assert set(plen.cluster.ns.files) == {"/b/dst/g"}
    plen("mv", "/b/dst", "/b/moved")  # a directory
    assert set(plen.cluster.ns.files) == {"/b/moved/g"}
    plen("mv", "/b/moved", "/b/src/")  # a directory into a directory
    assert set(plen.cluster.ns.files) == {"/b/src/moved/g"}
    assert plen("mv", "/b/none", "/b/x", ok=False).exit_code == 3


def test_cp_into_directory(plen):
    plen("mkdir", "-p", "/b/d")
    plen("put", "-", "/b/f", input=b"copy me")
    plen("cp", "/b/f", "/b/d")
    assert plen("get", "/b/d/f", "-").stdout_bytes == b"copy me"
    assert plen("cp", "/b/d", "/b/e", ok=False).exit_code == 4  # a directory


def test_touch_creates_then_refreshes_mtime(plen):
    plen("mkdir", "/b")
    plen("touch", "/b/t")
    f = plen.cluster.ns.files["/b/t"]
    assert f.size == 0 and f.md5 == hashlib.md5(b"").hexdigest()
    f.mtime = 1000.0
    plen("touch", "/b/t")
    assert plen.cluster.ns.files["/b/t"].mtime > time.time() - 60
    assert plen.cluster.ns.files["/b/t"].size == 0
    assert plen("touch", "/b", ok=False).exit_code == 4


def test_stat_shows_blocks_and_their_replicas(plen):
    plen("mkdir", "/b")
    data = os.urandom(BLOCK + 10)
    plen("put", "-", "/b/f", input=data)
    out = plen("stat", "/b/f").output
    assert f"size:     {len(data)} " in out
    assert hashlib.md5(data).hexdigest() in out
    stored = plen.cluster.ns.files["/b/f"]
    assert f"crc32c:   {stored.crc32c:08x}" in out
    for cb in stored.blocks:
        assert cb.block.block_id in out
    for store in plen.cluster.stores[:2]:
        assert f"replica {store.server_id}  {store.url}" in out
    assert "block 1:" in out and f"offset {BLOCK}" in out
    inline = plen("put", "-", "/b/tiny", input=b"hi") and plen("stat", "/b/tiny").output
    assert "inline" in inline
    assert "type:     directory" in plen("stat", "/b").output


def test_status_lists_every_server(plen):
    out = plen("status").output
    for store in plen.cluster.stores:
        assert store.server_id in out
        assert store.url in out
    assert "under-replicated blocks: 0" in out


def test_init_asks_first_and_wipes_with_yes(plen):
    plen("mkdir", "/b")
    plen("put", "-", "/b/f", input=b"x")
    result = plen("init", input=b"n\n", ok=False)
    assert result.exit_code == 1
    assert "/b/f" in plen.cluster.ns.files
    out = plen("init", "--yes").output
    assert plen.cluster.ns.files == {}
    assert "3.0 GiB" in out and "3 live servers" in out
