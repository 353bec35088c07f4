"""The AWS CLI (v1) against each target: `aws s3` high-level commands and a few `aws s3api`
calls, checking their output and the bytes that arrive."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from compat_tests.cli import AwsCli
from compat_tests.helpers import (
    MiB,
    empty_and_delete_bucket,
    expect_error,
    md5_hex,
    quoted,
    unique_name,
)

TREE = {
    "a.txt": b"alpha\n",
    "with space.txt": b"spaced out\n",
    "sub/b.txt": b"bravo bravo\n",
    "sub/deep/c.bin": bytes(range(256)) * 4,
    "big.bin": random.Random(9).randbytes(9 * MiB),  # above the CLI's 8 MiB threshold
}


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` under ``root``, dated an hour ago: `s3 sync` uploads a file whose mtime
    is newer than the object's whole-second LastModified, which a file written within the
    same second as its upload would be."""
    an_hour_ago = time.time() - 3600
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (an_hour_ago, an_hour_ago))


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file()}


def _ls_recursive(aws: AwsCli, url: str) -> dict[str, int]:
    """`aws s3 ls --recursive` lines are "DATE TIME SIZE KEY"; returns {key: size}."""
    listed: dict[str, int] = {}
    for line in aws("s3", "ls", url, "--recursive").stdout.splitlines():
        _date, _time, size, key = line.split(maxsplit=3)
        listed[key] = int(size)
    return listed


def _lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def test_cli_mb_ls_rb(aws: AwsCli, s3: Any) -> None:
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
    assert _read_tree(dst) == TREE


def test_cli_sync_and_sync_delete(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
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
    assert _read_tree(back) == expected


def test_cli_mv(aws: AwsCli, bucket: str, tmp_path: Path, s3: Any) -> None:
    local = tmp_path / "moving.txt"
    local.write_bytes(b"on the move")
    aws("s3", "mv", "--no-progress", str(local), f"s3://{bucket}/first.txt")
    assert not local.exists()
    out = aws("s3", "mv", "--no-progress", f"s3://{bucket}/first.txt", f"s3://{bucket}/second.txt").stdout
    assert out.strip() == f"move: s3://{bucket}/first.txt to s3://{bucket}/second.txt"
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="first.txt")
    assert s3.get_object(Bucket=bucket, Key="second.txt")["Body"].read() == b"on the move"


def test_cli_rm_recursive(aws: AwsCli, bucket: str, tmp_path: Path, s3: Any) -> None:
    src = tmp_path / "src"
    files = {k: v for k, v in TREE.items() if k != "big.bin"}
    _write_tree(src, files)
    aws("s3", "cp", "--no-progress", str(src), f"s3://{bucket}/gone", "--recursive")
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"stays")
    out = aws("s3", "rm", f"s3://{bucket}/gone", "--recursive").stdout
    assert _lines(out) == sorted(f"delete: s3://{bucket}/gone/{rel}" for rel in files)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept.txt"]


def test_cli_s3api_object_calls(aws: AwsCli, bucket: str, tmp_path: Path) -> None:
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
