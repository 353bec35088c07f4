"""AWS CLI v1 `aws s3`: mb, rb, ls, cp, mv, rm and sync, every payload size and hostile key.

Rules: each command runs for real (``python -m awscli``, its own config, see compat_tests/cli.py)
against the target, and the test checks what the command printed, what the bucket holds
(listings whole and in S3 order) and the bytes that come back. The 40 MiB payload goes up
once (multipart), is moved once server-side (multipart copy) and comes down once.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from compat_tests import clients
from compat_tests.cli import AwsCli
from compat_tests.clients import (
    CLIENT_KEYS,
    SIZES,
    read_tree,
    require_module,
    write_payloads,
    write_tree,
)
from compat_tests.helpers import (
    MiB,
    empty_and_delete_bucket,
    expect_error,
    md5_hex,
    multipart_etag,
    quoted,
    unique_name,
)
from compat_tests.keys import byte_order

CLI_CHUNK = 8 * MiB  # the CLI's default multipart_threshold and multipart_chunksize

TREE = {
    **clients.TREE,
    "big.bin": random.Random(9).randbytes(9 * MiB),  # above the CLI's 8 MiB threshold
}


@pytest.fixture(autouse=True)
def _awscli_installed() -> None:
    require_module("awscli", "python -m pip install awscli")


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` under ``root``, dated an hour ago: `s3 sync` uploads a file whose mtime
    is newer than the object's whole-second LastModified, which a file written within the
    same second as its upload would be."""
    write_tree(root, files, mtime=time.time() - 3600)


def _ls_lines(aws: AwsCli, *args: str) -> list[tuple[str, int | None]]:
    """`aws s3 ls ARGS`, parsed by ``_parse_ls``."""
    return _parse_ls(aws("s3", "ls", *args).stdout)


def _parse_ls(out: str) -> list[tuple[str, int | None]]:
    """`aws s3 ls` output as printed, in order: ("name", size) for an object and
    ("name/", None) for a common prefix. The columns are fixed (19-character date, a space,
    a 10-character size, a space, the name), so names keep their leading and trailing
    spaces."""
    listed: list[tuple[str, int | None]] = []
    for line in out.splitlines():
        if line[:30].strip() == "PRE":
            listed.append((line[31:], None))
        else:
            listed.append((line[31:], int(line[20:30])))
    return listed


def _ls_recursive(aws: AwsCli, url: str) -> dict[str, int]:
    """`aws s3 ls --recursive` as {key: size}."""
    return {key: size for key, size in _ls_lines(aws, url, "--recursive") if size is not None}


def _listed(s3: Any, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
    """The bucket's (key, size) pairs under ``prefix`` as boto3 lists them, in order: where
    the CLI's own listing is not what is under test, one CLI start saved."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [(o["Key"], o["Size"]) for page in pages for o in page.get("Contents", [])]


def _in_s3_order(sizes: dict[str, int]) -> list[tuple[str, int]]:
    return [(key, sizes[key]) for key in byte_order(list(sizes))]


def _lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def _shown(path: Path) -> str:
    """A local path as the CLI prints it: relative to the working directory (the CLI runs in
    this process's)."""
    return os.path.relpath(path)


def _cli_etag(data: bytes) -> str:
    """The ETag of an object `aws s3 cp` uploaded: one PUT up to the threshold, else
    CLI_CHUNK-sized parts."""
    if len(data) < CLI_CHUNK:
        return quoted(md5_hex(data))
    return multipart_etag([data[i:i + CLI_CHUNK] for i in range(0, len(data), CLI_CHUNK)])


def test_cli_mb_ls_rb(aws: AwsCli, s3: Any) -> None:
    """aws s3 mb makes a bucket that aws s3 ls lists and aws s3 rb removes"""
    name = unique_name("cli-mb")
    try:
        assert aws("s3", "mb", f"s3://{name}").stdout.strip() == f"make_bucket: {name}"
        listed = [line.split()[-1] for line in aws("s3", "ls").stdout.splitlines()]
        assert name in listed
        assert aws("s3", "rb", f"s3://{name}").stdout.strip() == f"remove_bucket: {name}"
        expect_error(404, "404", s3.head_bucket, Bucket=name)
    finally:
        empty_and_delete_bucket(s3, name)


def test_cli_cp_single_file_up_and_down(aws: AwsCli, bucket: str, tmp_path: Path,
                                        s3: Any) -> None:
    """aws s3 cp uploads one file to a nested key and downloads it back"""
    local = tmp_path / "note.txt"
    local.write_bytes(b"copied by the aws cli\n")
    up = aws("s3", "cp", "--no-progress", str(local), f"s3://{bucket}/docs/note.txt")
    assert up.stdout.strip().endswith(f"to s3://{bucket}/docs/note.txt")
    assert up.stdout.strip().startswith("upload:")
    assert s3.get_object(Bucket=bucket, Key="docs/note.txt")["Body"].read() == local.read_bytes()

    back = tmp_path / "back.txt"
    down = aws("s3", "cp", "--no-progress", f"s3://{bucket}/docs/note.txt", str(back))
    assert down.stdout.strip().startswith(f"download: s3://{bucket}/docs/note.txt to ")
    assert back.read_bytes() == local.read_bytes()


def test_cli_cp_recursive_and_ls(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    """aws s3 cp --recursive carries a tree up and down; aws s3 ls shows it"""
    src = tmp_path / "src"
    _write_tree(src, TREE)
    out = aws("s3", "cp", "--no-progress", str(src), f"s3://{bucket}/tree", "--recursive").stdout
    assert len([line for line in out.splitlines() if line.startswith("upload:")]) == len(TREE)

    assert _ls_recursive(aws, f"s3://{bucket}/tree") == {
        f"tree/{rel}": len(data) for rel, data in TREE.items()}
    top = aws("s3", "ls", f"s3://{bucket}/tree/").stdout
    assert "PRE sub/" in _lines(top)
    assert any(line.endswith(" with space.txt") for line in _lines(top))

    dst = tmp_path / "dst"
    aws("s3", "cp", "--no-progress", f"s3://{bucket}/tree", str(dst), "--recursive")
    assert read_tree(dst) == TREE


def test_cli_sync_and_sync_delete(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    """aws s3 sync uploads only what changed, and --delete removes what went"""
    src = tmp_path / "src"
    files = {k: v for k, v in TREE.items() if k != "big.bin"}
    _write_tree(src, files)
    aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/mirror")
    assert _ls_recursive(aws, f"s3://{bucket}/mirror") == {
        f"mirror/{rel}": len(data) for rel, data in files.items()}

    _write_tree(src, {"a.txt": b"alpha, longer now\n", "new.txt": b"new\n"})
    (src / "sub" / "b.txt").unlink()
    second = aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/mirror").stdout
    assert sorted(line.split()[-1] for line in second.splitlines()) == [
        f"s3://{bucket}/mirror/a.txt", f"s3://{bucket}/mirror/new.txt"]
    assert "mirror/sub/b.txt" in _ls_recursive(aws, f"s3://{bucket}/mirror")

    third = aws("s3", "sync", "--no-progress", str(src), f"s3://{bucket}/mirror", "--delete").stdout
    assert _lines(third) == [f"delete: s3://{bucket}/mirror/sub/b.txt"]
    expected = {**files, "a.txt": b"alpha, longer now\n", "new.txt": b"new\n"}
    del expected["sub/b.txt"]
    assert _ls_recursive(aws, f"s3://{bucket}/mirror") == {
        f"mirror/{rel}": len(data) for rel, data in expected.items()}

    back = tmp_path / "back"
    aws("s3", "sync", "--no-progress", f"s3://{bucket}/mirror", str(back))
    assert read_tree(back) == expected


def test_cli_mv(aws: AwsCli, bucket: str, tmp_path: Path, s3: Any) -> None:
    """aws s3 mv moves a file up, then renames the object within the bucket"""
    local = tmp_path / "moving.txt"
    local.write_bytes(b"on the move")
    aws("s3", "mv", "--no-progress", str(local), f"s3://{bucket}/first.txt")
    assert not local.exists()
    out = aws("s3", "mv", "--no-progress", f"s3://{bucket}/first.txt",
              f"s3://{bucket}/second.txt").stdout
    assert out.strip() == f"move: s3://{bucket}/first.txt to s3://{bucket}/second.txt"
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="first.txt")
    assert s3.get_object(Bucket=bucket, Key="second.txt")["Body"].read() == b"on the move"


def test_cli_rm_recursive(aws: AwsCli, bucket: str, tmp_path: Path, s3: Any) -> None:
    """aws s3 rm --recursive deletes exactly the objects under a prefix"""
    src = tmp_path / "src"
    files = {k: v for k, v in TREE.items() if k != "big.bin"}
    _write_tree(src, files)
    aws("s3", "cp", "--no-progress", str(src), f"s3://{bucket}/gone", "--recursive")
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"stays")
    out = aws("s3", "rm", f"s3://{bucket}/gone", "--recursive").stdout
    assert _lines(out) == sorted(f"delete: s3://{bucket}/gone/{rel}" for rel in files)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept.txt"]


def test_cli_s3api_object_calls(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
    """aws s3api put-object, head-object, ranged get-object, list-objects-v2"""
    body = tmp_path / "body.txt"
    body.write_bytes(b"0123456789abcdef")
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "api/obj.txt",
                   "--body", str(body), "--content-type", "text/plain",
                   "--metadata", "origin=cli")
    assert put["ETag"] == quoted(md5_hex(body.read_bytes()))

    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "api/obj.txt")
    assert head["ContentLength"] == 16
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"origin": "cli"}

    out = tmp_path / "range.out"
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "api/obj.txt",
                   "--range", "bytes=2-5", str(out))
    assert got["ContentRange"] == "bytes 2-5/16"
    assert got["ContentLength"] == 4
    assert out.read_bytes() == b"2345"

    listed = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/")
    assert [o["Key"] for o in listed["Contents"]] == ["api/obj.txt"]
    assert listed["Contents"][0]["Size"] == 16

    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "absent", check=False)
    assert missing.returncode == 255  # AWS CLI v1: any service error
    assert "(404)" in missing.stderr


def test_cli_every_size_cp_mv_sync(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    """aws s3 cp, mv and sync carry 0 B to 40 MiB byte for byte, multipart above 8 MiB"""
    src, dst = tmp_path / "up", tmp_path / "down"
    files = write_payloads(src)
    up = aws("s3", "cp", "--no-progress", "--recursive", str(src), f"s3://{bucket}/sizes/").stdout
    assert _lines(up) == sorted(f"upload: {_shown(src / name)} to s3://{bucket}/sizes/{name}"
                                for name in files)
    assert _ls_lines(aws, f"s3://{bucket}/sizes/", "--recursive") == [
        (f"sizes/{name}", len(files[name])) for name in byte_order(list(files))]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="sizes/")["Contents"]
    assert {o["Key"]: o["ETag"] for o in listed} == {
        f"sizes/{name}": _cli_etag(data) for name, data in files.items()}
    assert _cli_etag(files["40MiB.bin"]).endswith('-6"')  # 5 full parts and 13 bytes

    # S3 to S3: a copy (UploadPartCopy above the threshold) and a delete per object.
    moved = aws("s3", "mv", "--no-progress", "--recursive", f"s3://{bucket}/sizes/",
                f"s3://{bucket}/moved/").stdout
    assert _lines(moved) == sorted(
        f"move: s3://{bucket}/sizes/{name} to s3://{bucket}/moved/{name}" for name in files)
    assert _listed(s3, bucket) == [
        (f"moved/{name}", len(files[name])) for name in byte_order(list(files))]
    big = s3.head_object(Bucket=bucket, Key="moved/40MiB.bin")
    assert big["ContentLength"] == SIZES["40MiB"]
    assert big["ETag"].endswith('-6"'), big["ETag"]  # copied in CLI_CHUNK parts too

    down = aws("s3", "sync", "--no-progress", f"s3://{bucket}/moved/", str(dst))
    assert _lines(down.stdout) == sorted(
        f"download: s3://{bucket}/moved/{name} to {_shown(dst / name)}" for name in files)
    assert read_tree(dst) == files
    again = aws("s3", "sync", "--no-progress", f"s3://{bucket}/moved/", str(dst))
    assert again.stdout == ""  # same sizes, same times: nothing to do


def test_cli_hostile_keys_cp_ls_sync(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    """aws s3 cp, ls and sync keep keys with spaces, unicode, +, %, # and a beside a/b"""
    bodies = {key: f"body of {key!r}\n".encode() * (i + 1) for i, key in enumerate(CLIENT_KEYS)}
    # "a" and "a/b" cannot both be local files: "a/b" travels on its own.
    tree = {key: body for key, body in bodies.items() if key != "a/b"}
    src, dst = tmp_path / "src", tmp_path / "down"
    _write_tree(src, tree)
    (tmp_path / "b").write_bytes(bodies["a/b"])
    up = aws("s3", "cp", "--no-progress", "--recursive", str(src), f"s3://{bucket}/").stdout
    assert _lines(up) == sorted(f"upload: {_shown(src / key)} to s3://{bucket}/{key}"
                                for key in tree)
    aws("s3", "cp", "--no-progress", str(tmp_path / "b"), f"s3://{bucket}/a/b")

    recursive, root, beside = (_parse_ls(done.stdout) for done in aws.run_all([
        ("s3", "ls", f"s3://{bucket}", "--recursive"), ("s3", "ls", f"s3://{bucket}/"),
        ("s3", "ls", f"s3://{bucket}/a")]))
    assert recursive == [(key, len(bodies[key])) for key in byte_order(CLIENT_KEYS)]
    top = sorted({k.split("/")[0] for k in CLIENT_KEYS if "/" in k}, key=str.encode)
    assert root == (
        [(f"{name}/", None) for name in top]  # one page: the common prefixes first
        + [(key, len(bodies[key])) for key in byte_order(CLIENT_KEYS) if "/" not in key])
    # A name that is a file and a directory at once: both show, the directory first.
    assert beside == [("a/", None), ("a", len(bodies["a"])), ("a+b", len(bodies["a+b"]))]

    down = aws("s3", "sync", "--no-progress", f"s3://{bucket}/", str(dst),
               "--exclude", "a/b").stdout
    assert _lines(down) == sorted(f"download: s3://{bucket}/{key} to {_shown(dst / key)}"
                                  for key in tree)
    assert read_tree(dst) == tree
    # Nothing changed on either side: a second sync has nothing to do, which it can only know
    # if the listing gives every key back exactly as it went up.
    assert aws("s3", "sync", "--no-progress", f"s3://{bucket}/", str(dst),
               "--exclude", "a/b").stdout == ""
    aws("s3", "cp", "--no-progress", f"s3://{bucket}/a/b", str(tmp_path / "b-back"))
    assert (tmp_path / "b-back").read_bytes() == bodies["a/b"]

    # The file "a" goes; the directory "a/" beside it stays.
    assert aws("s3", "rm", f"s3://{bucket}/a").stdout.strip() == f"delete: s3://{bucket}/a"
    assert _listed(s3, bucket) == [
        (key, len(bodies[key])) for key in byte_order(CLIENT_KEYS) if key != "a"]


def test_cli_sync_exclude_include_delete_both_ways(aws: AwsCli, s3: Any, bucket: str,
                                                   tmp_path: Path) -> None:
    """aws s3 sync, cp and rm honour --exclude/--include, and sync --delete prunes both ways"""
    files = {"keep.txt": b"1", "skip.log": b"22", "sub/keep.txt": b"333", "sub/skip.log": b"4444",
             "sub/deep/x.txt": b"55555"}
    src, url = tmp_path / "src", f"s3://{bucket}/f"
    _write_tree(src, files)
    aws("s3", "sync", "--no-progress", str(src), url, "--exclude", "*", "--include", "*.txt")
    assert _listed(s3, bucket) == _in_s3_order(
        {f"f/{k}": len(v) for k, v in files.items() if k.endswith(".txt")})
    second = aws("s3", "sync", "--no-progress", str(src), url, "--exclude", "*.txt",
                 "--exclude", "sub/*").stdout
    assert _lines(second) == [f"upload: {_shown(src / 'skip.log')} to {url}/skip.log"]

    (src / "skip.log").unlink()
    (src / "sub" / "deep" / "x.txt").unlink()
    pruned = aws("s3", "sync", "--no-progress", str(src), url, "--delete",
                 "--exclude", "sub/*").stdout
    assert _lines(pruned) == [f"delete: {url}/skip.log"]  # sub/deep/x.txt is excluded: kept
    assert _listed(s3, bucket) == [("f/keep.txt", 1), ("f/sub/deep/x.txt", 5),
                                   ("f/sub/keep.txt", 3)]

    dst = tmp_path / "dst"
    _write_tree(dst, {"extra.txt": b"local only", "also.log": b"excluded, kept"})
    down = aws("s3", "sync", "--no-progress", url, str(dst), "--delete",
               "--exclude", "*.log").stdout
    assert _lines(down) == sorted([f"delete: {_shown(dst / 'extra.txt')}"] + [
        f"download: {url}/{k} to {_shown(dst / k)}" for k in ("keep.txt", "sub/keep.txt",
                                                     "sub/deep/x.txt")])
    assert read_tree(dst) == {"keep.txt": b"1", "sub/keep.txt": b"333",
                               "sub/deep/x.txt": b"55555", "also.log": b"excluded, kept"}

    only_sub = tmp_path / "only-sub"
    aws("s3", "cp", "--no-progress", "--recursive", url, str(only_sub), "--exclude", "*",
        "--include", "sub/*")
    assert read_tree(only_sub) == {"sub/keep.txt": b"333", "sub/deep/x.txt": b"55555"}

    s3.put_object(Bucket=bucket, Key="f/sub/note.log", Body=b"log")
    removed = aws("s3", "rm", "--recursive", url, "--exclude", "*", "--include", "sub/*",
                  "--exclude", "sub/deep/*").stdout
    assert _lines(removed) == [f"delete: {url}/sub/keep.txt", f"delete: {url}/sub/note.log"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "f/keep.txt", "f/sub/deep/x.txt"]


def test_cli_mv_recursive_up_and_down(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    """aws s3 mv --recursive moves a tree up (local files gone) and back down (objects gone)"""
    files = {k: v for k, v in TREE.items() if k != "big.bin"}
    src, back = tmp_path / "src", tmp_path / "back"
    _write_tree(src, files)
    up = aws("s3", "mv", "--no-progress", "--recursive", str(src), f"s3://{bucket}/m").stdout
    assert _lines(up) == sorted(f"move: {_shown(src / k)} to s3://{bucket}/m/{k}" for k in files)
    assert read_tree(src) == {}
    assert _listed(s3, bucket) == _in_s3_order({f"m/{k}": len(v) for k, v in files.items()})
    down = aws("s3", "mv", "--no-progress", "--recursive", f"s3://{bucket}/m", str(back)).stdout
    assert _lines(down) == sorted(f"move: s3://{bucket}/m/{k} to {_shown(back / k)}" for k in files)
    assert read_tree(back) == files
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_cli_rb_refuses_non_empty_then_force(aws: AwsCli, s3: Any) -> None:
    """aws s3 rb refuses a bucket with objects (BucketNotEmpty); rb --force empties it first"""
    name = unique_name("cli-rb")
    try:
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="dir/one", Body=b"1")
        s3.put_object(Bucket=name, Key="two", Body=b"2")
        refused = aws("s3", "rb", f"s3://{name}", check=False)
        assert refused.returncode != 0
        assert "BucketNotEmpty" in refused.stderr, refused.stderr
        assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 2
        forced = aws("s3", "rb", "--force", f"s3://{name}").stdout
        assert _lines(forced) == [f"delete: s3://{name}/dir/one", f"delete: s3://{name}/two",
                                  f"remove_bucket: {name}"]
        expect_error(404, "404", s3.head_bucket, Bucket=name)
        missing = aws("s3", "ls", f"s3://{name}", check=False)
        assert missing.returncode != 0
        assert "NoSuchBucket" in missing.stderr, missing.stderr
    finally:
        empty_and_delete_bucket(s3, name)


def test_cli_sse_aes256_refused_cleanly(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path,
                                        plenilune_differs: Any) -> None:
    """aws s3 cp --sse AES256 (one PUT and multipart): stored encrypted, or refused whole"""
    files = {"small.txt": b"secret\n", "big.bin": TREE["big.bin"]}  # big: multipart
    src = tmp_path / "src"
    _write_tree(src, files)
    done = aws("s3", "cp", "--no-progress", "--recursive", "--sse", "AES256", str(src),
               f"s3://{bucket}/enc/", check=False)
    put = aws("s3api", "put-object", "--bucket", bucket, "--key", "api.txt",
              "--server-side-encryption", "AES256", check=False)
    if plenilune_differs("Plenilune does not encrypt at rest: a request for server-side "
                         "encryption is refused with 501 NotImplemented, nothing stored"):
        assert done.returncode == 1, done
        failed = sorted(line for line in done.stderr.splitlines() if line.startswith("upload"))
        assert [line.split(" to ")[0] for line in failed] == [
            f"upload failed: {_shown(src / name)}" for name in sorted(files)], done.stderr
        assert all("(NotImplemented)" in line for line in failed), done.stderr
        assert "Server-side encryption is not supported" in done.stderr
        assert put.returncode == 255 and "(NotImplemented)" in put.stderr, put
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
        return
    assert done.returncode == 0 and put.returncode == 0, (done, put)
    for key in ("enc/small.txt", "enc/big.bin", "api.txt"):
        assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
