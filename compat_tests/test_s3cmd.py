"""s3cmd: mb, put, get, ls, del, sync and info, every size and the hostile keys.

The Debian package's ``s3cmd`` is driven for real against the target, with its own config
file passed by ``-c`` (path style: ``host_bucket`` equals ``host_base``; signature v4) and
HOME in the test's temporary directory, so the user's ``~/.s3cfg`` and ``~/.aws`` are never
read. Every run has a timeout. s3cmd retries a 5xx answer five times, 45 s in all, so a
check that moto answers 500 is made first with boto3 (no retries) and s3cmd runs only where
that check passed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compat_tests.clients import (
    CLIENT_KEYS,
    TREE,
    read_tree,
    require_binary,
    stored_objects,
    write_payloads,
    write_tree,
)
from compat_tests.helpers import MiB, client, expect_error, md5_hex, multipart_etag, quoted
from compat_tests.keys import byte_order
from compat_tests.targets import Target

S3CMD_TIMEOUT_S = 120.0
PART = 15 * MiB  # s3cmd's multipart_chunk_size_mb: the 40 MiB payload goes up in 3 parts

# s3cmd's exit codes (S3/ExitCodes.py)
EX_NOTFOUND = 12
EX_CONFLICT = 13
EX_USAGE = 64

NEW_YEAR_2020 = 1577836800  # 2020-01-01T00:00:00Z

MOTO_MULTIPART_ACL = ("moto answers 500 to GetObjectAcl on an object completed by a "
                      "multipart upload (s3cmd info reads the ACL)")


class S3cmd:
    """``s3cmd -c <config>`` with a config naming only the target."""

    def __init__(self, binary: str, target: Target, home: Path) -> None:
        self.binary = binary
        home.mkdir(parents=True, exist_ok=True)
        host = target.endpoint_url.removeprefix("http://")
        self.config = home / "s3cfg"
        self.config.write_text(
            "[default]\n"
            f"access_key = {target.access_key}\n"
            f"secret_key = {target.secret_key}\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            f"bucket_location = {target.region}\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "progress_meter = False\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # s3cmd prints key names in the locale's encoding: make that UTF-8 everywhere.
        self.env.update({"HOME": str(home), "LC_ALL": "C.UTF-8"})

    def __call__(self, *args: str, check: bool = True,
                 stdin: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, "-c", str(self.config), *args]
        with open(stdin or os.devnull, "rb") as source:
            done = subprocess.run(argv, env=self.env, capture_output=True, encoding="utf-8",
                                  timeout=S3CMD_TIMEOUT_S, stdin=source)
        if check and done.returncode != 0:
            raise AssertionError(f"s3cmd {' '.join(args)} exited {done.returncode}:\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def info(self, url: str) -> dict[str, str]:
        """`s3cmd info` lines "   Name:  value" as {name: value} (ACL lines joined)."""
        fields: dict[str, str] = {}
        for line in self("info", url).stdout.splitlines()[1:]:
            name, _, value = line.strip().partition(":")
            fields[name] = f"{fields[name]}; {value.strip()}" if name in fields else value.strip()
        return fields

    def ls(self, *args: str) -> list[tuple[str, str]]:
        """`s3cmd ls` lines as (size or "DIR", url), in the order printed."""
        listed = []
        for line in self("ls", *args).stdout.splitlines():
            if line.lstrip().startswith("DIR"):
                listed.append(("DIR", line.split("DIR", 1)[1].strip()))
            else:
                _date, _time, size, url = line.split(maxsplit=3)
                listed.append((size, url))
        return listed


@pytest.fixture
def s3cmd(target: Target, tmp_path: Path) -> S3cmd:
    binary = require_binary("s3cmd", "apt-get install s3cmd")
    return S3cmd(binary, target, tmp_path / "s3cmd-home")




def _date_tree(root: Path, files: dict[str, bytes]) -> None:
    """Give each file its own whole-second mtime in 2020, so a restored mtime is visible."""
    for i, rel in enumerate(sorted(files)):
        os.utime(root / rel, (NEW_YEAR_2020 + 60 * i, NEW_YEAR_2020 + 60 * i))






def _listing(url: str, files: dict[str, bytes]) -> list[tuple[str, str]]:
    """What `s3cmd ls --recursive` prints for ``files`` under ``url``, in S3 order."""
    return [(str(len(files[rel])), url + rel) for rel in byte_order(list(files))]


def test_s3cmd_mb_ls_info_rb(s3cmd: S3cmd, s3: Any, make_bucket: Any) -> None:
    """s3cmd makes a bucket, lists and describes it, refuses to remove it while it holds an
    object, then removes it."""
    name = make_bucket()
    s3.delete_bucket(Bucket=name)  # a fresh name that the fixture still cleans up
    url = f"s3://{name}/"
    assert s3cmd("mb", f"s3://{name}").stdout.strip() == f"Bucket '{url}' created"
    assert f"s3://{name}" in [line.split()[-1] for line in s3cmd("ls").stdout.splitlines()]
    assert s3cmd.ls(url) == []
    info = s3cmd.info(url)
    assert info["Location"] == "us-east-1", info

    s3.put_object(Bucket=name, Key="only", Body=b"x")
    refused = s3cmd("rb", url, check=False)
    assert refused.returncode == EX_CONFLICT, refused
    assert "BucketNotEmpty" in refused.stderr, refused.stderr

    assert s3cmd("del", f"{url}only").stdout.strip() == f"delete: '{url}only'"
    assert s3cmd("rb", url).stdout.strip() == f"Bucket '{url}' removed"
    expect_error(404, "404", s3.head_bucket, Bucket=name)
    missing = s3cmd("ls", url, check=False)
    assert missing.returncode == EX_NOTFOUND, missing
    assert "NoSuchBucket" in missing.stderr, missing.stderr


def test_s3cmd_put_get_every_size(s3cmd: S3cmd, s3: Any, bucket: str, tmp_path: Path,
                                  target: Target, reference_diverges: Any) -> None:
    """s3cmd put uploads every size (40 MiB as a multipart upload), ls lists them, get brings
    them back, info describes them."""
    src = tmp_path / "src"
    files = write_payloads(src)
    url = f"s3://{bucket}/sizes/"
    put = s3cmd("put", *[str(src / rel) for rel in files], url).stdout
    assert sorted(line.split(" -> ")[1].split("'")[1] for line in put.splitlines()) == sorted(
        url + rel for rel in files)

    assert s3cmd.ls("--recursive", url) == _listing(url, files)
    assert stored_objects(s3, bucket, "sizes/") == files
    for rel, data in files.items():
        etag = s3.head_object(Bucket=bucket, Key=f"sizes/{rel}")["ETag"]
        if len(data) > PART:
            parts = [data[i:i + PART] for i in range(0, len(data), PART)]
            assert len(parts) == 3
            assert etag == multipart_etag(parts), rel
        else:
            assert etag == quoted(md5_hex(data)), rel

    back = tmp_path / "back"
    back.mkdir()
    got = s3cmd("get", "--recursive", url, f"{back}/").stdout
    assert len([line for line in got.splitlines() if line.startswith("download:")]) == len(files)
    assert read_tree(back) == files

    small = s3cmd.info(f"{url}1B.bin")
    assert small["File size"] == "1", small
    assert small["MD5 sum"] == md5_hex(files["1B.bin"]), small
    # s3cmd keeps the MD5 of a multipart upload in its own metadata and shows that.
    no_retries = client(target, retries={"total_max_attempts": 1})
    with reference_diverges(MOTO_MULTIPART_ACL):
        no_retries.get_object_acl(Bucket=bucket, Key="sizes/40MiB.bin")
        big = s3cmd.info(f"{url}40MiB.bin")
        assert big["File size"] == str(len(files["40MiB.bin"])), big
        assert big["MD5 sum"] == md5_hex(files["40MiB.bin"]), big


def test_s3cmd_put_streams_stdin_as_a_multipart_upload(s3cmd: S3cmd, s3: Any, bucket: str,
                                                       tmp_path: Path) -> None:
    """s3cmd put - streams stdin as a multipart upload; an empty stream completes with no
    parts, which S3 refuses as MalformedXML, storing nothing."""
    sizes = {k: v for k, v in write_payloads(tmp_path / "src").items() if k != "40MiB.bin"}
    for rel, data in sizes.items():
        if not data:
            continue
        s3cmd("put", "-", f"s3://{bucket}/stdin/{rel}", stdin=tmp_path / "src" / rel)
        assert s3.head_object(Bucket=bucket, Key=f"stdin/{rel}")["ETag"] == multipart_etag(
            [data]), rel
    assert stored_objects(s3, bucket, "stdin/") == {k: v for k, v in sizes.items() if v}

    empty = s3cmd("put", "-", f"s3://{bucket}/stdin/0B.bin", check=False,
                  stdin=tmp_path / "src" / "0B.bin")
    assert empty.returncode != 0 and "MalformedXML" in empty.stderr, empty
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="stdin/0B.bin")
    # s3cmd leaves the refused upload open and S3 keeps it (the bucket's cleanup aborts it).
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in uploads] == ["stdin/0B.bin"], uploads


def test_s3cmd_hostile_keys_round_trip(s3cmd: S3cmd, s3: Any, bucket: str,
                                       tmp_path: Path) -> None:
    """s3cmd puts, lists, gets, copies and deletes keys with spaces, unicode, +, %, # and `a`
    beside `a/b`, listing them complete and in order."""
    files = {key: f"<{key}>".encode() for key in CLIENT_KEYS}
    url = f"s3://{bucket}/keys/"
    # `a` and `a/b` cannot both be local files: the tree holds `a/b`, `a` goes up alone.
    src = tmp_path / "src"
    write_tree(src, {k: v for k, v in files.items() if k != "a"})
    (tmp_path / "lone-a").write_bytes(files["a"])
    s3cmd("put", "--recursive", f"{src}/", url)
    s3cmd("put", str(tmp_path / "lone-a"), f"{url}a")

    assert stored_objects(s3, bucket, "keys/") == files
    assert s3cmd.ls("--recursive", url) == _listing(url, files)
    assert s3cmd.ls("--recursive", "--limit", "5", url) == _listing(url, files)[:5]
    # One level: the common prefixes first (as s3cmd prints them), then the objects.
    top_dirs = byte_order(list({k.split("/")[0] + "/" for k in CLIENT_KEYS if "/" in k}))
    top_files = byte_order([k for k in CLIENT_KEYS if "/" not in k])
    assert s3cmd.ls(url) == ([("DIR", url + d) for d in top_dirs]
                             + [(str(len(files[k])), url + k) for k in top_files])
    for key in ("100%", "#frag", "sp ace/file name.txt", "日本語/キー"):
        assert s3cmd.info(url + key)["MD5 sum"] == md5_hex(files[key]), key

    back = tmp_path / "back"
    back.mkdir()
    s3cmd("get", "--recursive", "--exclude", "a", url, f"{back}/")
    assert read_tree(back) == {k: v for k, v in files.items() if k != "a"}
    s3cmd("get", f"{url}a", str(tmp_path / "a-back"))
    assert (tmp_path / "a-back").read_bytes() == files["a"]

    # A remote-to-remote sync names each hostile key as a CopySource.
    copied = s3cmd("sync", url, f"s3://{bucket}/copied/").stdout
    assert f"Copied {len(files)} files" in copied, copied
    assert stored_objects(s3, bucket, "copied/") == files

    gone = ["#frag", "100%", "a"]
    out = s3cmd("del", *[url + k for k in gone]).stdout
    assert out.splitlines() == [f"delete: '{url}{k}'" for k in gone]
    left = {k: v for k, v in files.items() if k not in gone}
    assert s3cmd.ls("--recursive", url) == _listing(url, left)
    s3cmd("del", "--recursive", "--force", url)
    assert s3cmd.ls("--recursive", url) == []
    assert stored_objects(s3, bucket) == {f"copied/{k}": v for k, v in files.items()}


def test_s3cmd_sync_mirrors_a_tree_both_ways(s3cmd: S3cmd, s3: Any, bucket: str,
                                             tmp_path: Path) -> None:
    """s3cmd sync uploads a tree, then mirrors edits, additions and (--delete-removed)
    deletions, and syncs it back down over a stale local copy."""
    src = tmp_path / "src"
    write_tree(src, TREE)
    _date_tree(src, TREE)
    url = f"s3://{bucket}/mirror/"
    s3cmd("sync", f"{src}/", url)
    assert stored_objects(s3, bucket, "mirror/") == TREE

    changed = {"a.txt": b"alpha, longer now\n", "sub/new.txt": b"new\n"}
    write_tree(src, changed)
    _date_tree(src, changed)
    (src / "with space.txt").unlink()
    expected = {**{k: v for k, v in TREE.items() if k != "with space.txt"}, **changed}
    second = s3cmd("sync", "--delete-removed", f"{src}/", url).stdout
    uploaded = sorted(line.split(" -> ")[1].split("'")[1] for line in second.splitlines()
                      if line.startswith("upload:"))
    assert uploaded == [f"{url}a.txt", f"{url}sub/new.txt"], second
    assert f"delete: '{url}with space.txt'" in second.splitlines(), second
    assert stored_objects(s3, bucket, "mirror/") == expected
    assert s3cmd.ls("--recursive", url) == _listing(url, expected)

    dst = tmp_path / "dst"
    write_tree(dst, {"stale.txt": b"only here\n", "sub/b.txt": b"old bravo\n"})
    s3cmd("sync", "--delete-removed", url, f"{dst}/")
    assert read_tree(dst) == expected
    # s3cmd keeps each file's attributes in x-amz-meta-s3cmd-attrs and restores them.
    for rel in expected:
        assert (dst / rel).stat().st_mtime == (src / rel).stat().st_mtime, rel
    nothing = s3cmd("sync", "--delete-removed", f"{src}/", url).stdout
    assert not [line for line in nothing.splitlines()
                if line.startswith(("upload:", "delete:"))], nothing


def test_s3cmd_get_of_a_missing_key_fails(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    """s3cmd get and info of a key that does not exist fail with s3cmd's not-found codes."""
    url = f"s3://{bucket}/absent"
    got = s3cmd("get", url, str(tmp_path / "absent"), check=False)
    assert got.returncode == EX_USAGE, got  # s3cmd: "Source object ... does not exist"
    assert "does not exist" in got.stderr, got.stderr
    assert not (tmp_path / "absent").exists()
    info = s3cmd("info", url, check=False)
    assert info.returncode == EX_NOTFOUND, info
    assert "404" in info.stderr, info.stderr
