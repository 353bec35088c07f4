"""s3fs (fsspec): open/write/read, put/get, ls, find, walk and rm.

Every payload size and the hostile key names go through an ``S3FileSystem`` and come back
byte for byte.

Rules: each test builds its own ``S3FileSystem`` (``skip_instance_cache=True``, listings cache
off) whose botocore session reads no ``~/.aws`` file; s3fs sorts its listings by name, which
for ``str`` is UTF-8 byte order, so every listing is compared whole and in order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compat_tests.clients import CLIENT_KEYS, SIZES, payload, require_module, write_payloads
from compat_tests.helpers import MiB, md5_hex, multipart_etag, quoted
from compat_tests.keys import byte_order
from compat_tests.targets import Target

BLOCK = 8 * MiB  # the file system's block size: multipart parts and concurrent range reads
WRITE_PIECE = MiB  # what one write() call hands s3fs
PRE = "tree"  # the hostile keys live under this prefix


@pytest.fixture
def fs(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    s3fs = require_module("s3fs", "python -m pip install s3fs")
    # The session aiobotocore builds must not read the user's config or credentials files.
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    made = s3fs.S3FileSystem(
        key=target.access_key, secret=target.secret_key,
        client_kwargs={"endpoint_url": target.endpoint_url, "region_name": target.region},
        config_kwargs={"s3": {"addressing_style": "path"}},
        default_block_size=BLOCK, skip_instance_cache=True, use_listings_cache=False)
    yield made
    if made._s3 is not None:  # close the aiohttp session now, not at garbage collection
        s3fs.S3FileSystem.close_session(made.loop, made._s3creator)


def _pieces(data: bytes) -> Iterable[bytes]:
    return (data[i:i + WRITE_PIECE] for i in range(0, len(data), WRITE_PIECE))


def _expected_etag(data: bytes) -> str:
    """s3fs writes one PUT below a block and BLOCK-sized parts (the last one shorter) above."""
    if len(data) < BLOCK:
        return quoted(md5_hex(data))
    return multipart_etag([data[i:i + BLOCK] for i in range(0, len(data), BLOCK)])


def _walk_expected(root: str, keys: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """What ``fs.walk(root)`` yields for these keys: top-down, each level's directories and
    files sorted, subdirectories visited in order (a name may be both a file and a
    directory, as ``a`` beside ``a/b``)."""
    dirs: dict[str, set[str]] = {"": set()}
    files: dict[str, set[str]] = {"": set()}
    for key in keys:
        parts = key.split("/")
        for depth in range(len(parts) - 1):
            parent, child = "/".join(parts[:depth]), "/".join(parts[:depth + 1])
            dirs.setdefault(parent, set()).add(parts[depth])
            dirs.setdefault(child, set())
            files.setdefault(child, set())
        files.setdefault("/".join(parts[:-1]), set()).add(parts[-1])

    def visit(rel: str) -> Iterator[tuple[str, list[str], list[str]]]:
        here = f"{root}/{rel}" if rel else root
        yield here, sorted(dirs[rel]), sorted(files[rel])
        for name in sorted(dirs[rel]):
            yield from visit(f"{rel}/{name}" if rel else name)

    return list(visit(""))


def _put_hostile_keys(fs: Any, bucket: str) -> None:
    for key in CLIENT_KEYS:
        with fs.open(f"{bucket}/{PRE}/{key}", "wb") as f:
            f.write(key.encode())


# --------------------------------------------------------------------------------------------


def test_s3fs_round_trips_every_size(fs: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    """s3fs open/write, cat, ranged reads, get and put carry every payload size byte for byte"""
    files = {f"{label}.bin": payload(size) for label, size in SIZES.items()}
    for name, data in files.items():  # written in 1 MiB pieces: above BLOCK, a multipart upload
        with fs.open(f"{bucket}/open/{name}", "wb") as f:
            for piece in _pieces(data):
                assert f.write(piece) == len(piece)
        head = s3.head_object(Bucket=bucket, Key=f"open/{name}")
        assert (head["ContentLength"], head["ETag"]) == (len(data), _expected_etag(data)), name
        info = fs.info(f"{bucket}/open/{name}")
        assert (info["type"], info["size"]) == ("file", len(data)), name

    big = files["40MiB.bin"]
    assert _expected_etag(big).endswith(f'-{-(-len(big) // BLOCK)}"')
    for name, data in files.items():
        if len(data) < BLOCK:  # the big one is read back below, by get
            assert fs.cat_file(f"{bucket}/open/{name}") == data, name

    # Ranged reads through a file object: across block boundaries, and a short tail.
    with fs.open(f"{bucket}/open/40MiB.bin", "rb", block_size=MiB) as f:
        for offset, length in [(BLOCK - 5, 10), (3 * BLOCK + 1, MiB + 3), (len(big) - 7, 100)]:
            f.seek(offset)
            assert f.read(length) == big[offset:offset + length], (offset, length)
    assert fs.cat_file(f"{bucket}/open/40MiB.bin", start=5 * BLOCK - 3, end=5 * BLOCK + 3) == (
        big[5 * BLOCK - 3:5 * BLOCK + 3])

    # get: the whole prefix into a local directory (the big one in concurrent ranges).
    back = tmp_path / "back"
    fs.get(f"{bucket}/open/", str(back) + "/", recursive=True)
    assert {p.name: p.read_bytes() for p in back.iterdir()} == files

    # put: local files up (the big one stays local: it has travelled both ways already).
    local = write_payloads(tmp_path / "local")
    for name, data in local.items():
        if len(data) < BLOCK:
            fs.put_file(str(tmp_path / "local" / name), f"{bucket}/put/{name}")
            got = s3.get_object(Bucket=bucket, Key=f"put/{name}")
            assert got["Body"].read() == data, name
            assert got["ETag"] == quoted(md5_hex(data)), name
    assert fs.find(f"{bucket}/put") == [f"{bucket}/put/{n}" for n in sorted(local)
                                        if len(local[n]) < BLOCK]


def test_s3fs_hostile_keys_round_trip(fs: Any, s3: Any, bucket: str) -> None:
    """s3fs writes and reads back keys with spaces, unicode, +, %, # and a beside a/b"""
    _put_hostile_keys(fs, bucket)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == byte_order([f"{PRE}/{k}" for k in CLIENT_KEYS])
    for key in CLIENT_KEYS:
        path = f"{bucket}/{PRE}/{key}"
        assert fs.cat_file(path) == key.encode(), key
        assert fs.info(path)["size"] == len(key.encode()), key
        assert fs.exists(path), key
        with fs.open(path, "rb") as f:
            assert f.read() == key.encode(), key
    assert fs.find(f"{bucket}/{PRE}") == [f"{bucket}/{PRE}/{k}" for k in byte_order(CLIENT_KEYS)]
    # "a" is a file and, because of "a/b", a directory too; "deep/er" is only a directory.
    root = f"{bucket}/{PRE}"
    assert (fs.isfile(f"{root}/a"), fs.isdir(f"{root}/a")) == (True, True)
    assert (fs.isfile(f"{root}/deep/er"), fs.isdir(f"{root}/deep/er")) == (False, True)
    assert fs.info(f"{root}/deep/er")["type"] == "directory"
    assert not fs.exists(f"{root}/a/c")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{root}/a/c")
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{root}/nowhere")


def test_s3fs_ls_find_walk_list_complete_and_in_order(fs: Any, bucket: str) -> None:
    """s3fs ls, find and walk list every hostile key, file and directory, in S3 order"""
    _put_hostile_keys(fs, bucket)
    root = f"{bucket}/{PRE}"
    expected = _walk_expected(root, CLIENT_KEYS)

    # ls of each directory: its files and subdirectories, by name ("a" as a file first,
    # then as the directory holding "a/b").
    for here, subdirs, names in expected:
        listing = fs.ls(here, detail=True)
        want = sorted([(f"{here}/{n}", "file") for n in names]
                      + [(f"{here}/{d}", "directory") for d in subdirs], key=lambda e: e[0])
        assert [(e["name"], e["type"]) for e in listing] == want, here
        for entry in listing:
            if entry["type"] == "file":
                key = entry["name"].removeprefix(f"{root}/")
                assert entry["size"] == len(key.encode()), entry
    assert fs.ls(root) == sorted([f"{root}/{n}" for n in expected[0][2]]
                                 + [f"{root}/{d}" for d in expected[0][1]])

    assert list(fs.walk(root)) == expected

    everything = byte_order([f"{root}/{k}" for k in CLIENT_KEYS])
    assert fs.find(root) == everything
    assert fs.find(bucket) == everything
    assert fs.find(f"{root}/deep") == [f"{root}/deep/er/than/that/leaf"]
    assert fs.find(f"{root}/a") == [f"{root}/a/b"]  # the directory, not the file beside it
    assert fs.find(root, maxdepth=1) == [f"{root}/{n}" for n in expected[0][2]]
    withdirs = fs.find(f"{root}/deep", withdirs=True, detail=True)
    assert [(n, e["type"]) for n, e in withdirs.items()] == [
        (f"{root}/deep", "directory"), (f"{root}/deep/er", "directory"), (f"{root}/deep/er/than", "directory"),
        (f"{root}/deep/er/than/that", "directory"), (f"{root}/deep/er/than/that/leaf", "file")]
    assert fs.glob(f"{root}/*/*") == byte_order(
        [f"{root}/{k}" for k in CLIENT_KEYS if k.count("/") == 1]
        + [f"{root}/deep/er"])


def test_s3fs_rm_file_subtree_and_bucket(fs: Any, s3: Any, bucket: str) -> None:
    """s3fs rm deletes one file, a whole subtree, then the bucket with what is left in it"""
    _put_hostile_keys(fs, bucket)
    root = f"{bucket}/{PRE}"
    remaining = set(CLIENT_KEYS)

    def listed() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    fs.rm(f"{root}/emoji😀")
    remaining.discard("emoji😀")
    assert not fs.exists(f"{root}/emoji😀")
    assert listed() == byte_order([f"{PRE}/{k}" for k in remaining])

    fs.rm(f"{root}/ünï", recursive=True)
    fs.rm([f"{root}/#frag", f"{root}/%2F", f"{root}/100%"])
    remaining -= {"ünï/cødé", "#frag", "%2F", "100%"}
    assert listed() == byte_order([f"{PRE}/{k}" for k in remaining])

    # The path and everything below it: the file "a" and the directory "a" holding "a/b".
    fs.rm(f"{root}/a", recursive=True)
    remaining -= {"a", "a/b"}
    assert listed() == byte_order([f"{PRE}/{k}" for k in remaining])
    assert fs.cat_file(f"{root}/a+b") == b"a+b"

    with pytest.raises(FileNotFoundError):
        fs.info(f"{root}/emoji😀")

    fs.rm(bucket, recursive=True)  # every object, then the bucket itself
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not fs.exists(bucket)


def test_s3fs_overwrite_and_empty_file(fs: Any, s3: Any, bucket: str) -> None:
    """s3fs overwrites a file in place and stores an empty one via touch"""
    path = f"{bucket}/notes/today.txt"
    fs.pipe_file(path, b"first version, longer than the second")
    fs.pipe_file(path, b"second")
    assert fs.cat_file(path) == b"second"
    fs.touch(f"{bucket}/notes/empty")
    assert fs.cat_file(f"{bucket}/notes/empty") == b""
    assert fs.info(f"{bucket}/notes/empty")["size"] == 0
    head = s3.head_object(Bucket=bucket, Key="notes/today.txt")
    assert fs.info(path)["ETag"] == head["ETag"] == quoted(hashlib.md5(b"second").hexdigest())
    assert fs.modified(path) == head["LastModified"]
    assert fs.find(f"{bucket}/notes") == [f"{bucket}/notes/empty", path]
