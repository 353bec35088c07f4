"""rclone (s3 remote, provider Other): copy, sync, check, lsf, delete, purge and multipart.

The Debian package's ``rclone`` is driven for real against the target. Its remote is set up
only by ``RCLONE_CONFIG_COMPAT_*`` variables; RCLONE_CONFIG names an empty file in the test's
temporary directory and HOME points there too, so the user's ``~/.config/rclone`` (and any
``AWS_*`` setting) is never read. Every run has a timeout and one try (``--retries 1
--low-level-retries 1``), so a flaky answer fails the test instead of being retried away.
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
from compat_tests.helpers import MiB, md5_hex, multipart_etag, quoted
from compat_tests.keys import byte_order
from compat_tests.targets import Target

RCLONE_TIMEOUT_S = 120.0
REMOTE = "compat"
# Multipart forced on the 40 MiB payload: 5 MiB is S3's smallest part, so 9 parts.
PART = 5 * MiB
# rclone then also checks the completed upload's ETag against the one it computed.
MULTIPART_FLAGS = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
                   "--s3-use-multipart-etag", "true")

MOTO_VERSION_NULL = ("moto names version `null` in CompleteMultipartUpload on an unversioned "
                     "bucket, then answers 400 to HeadObject ?versionId=null (rclone's check "
                     "after a multipart upload)")

# The same words as test_multipart.py, so the summary counts them as one difference.
UPLOAD_PART_COPY_ETAG = (
    "UploadPartCopy shares the source's blocks without reading them, so a ranged part's "
    "ETag is an MD5 naming the source version and the range, not the MD5 of its bytes")
# rclone's own bug, not the server's: with ListObjects v1 and encoding-type=url, when a page
# has no NextMarker (AWS sends none without a delimiter) rclone URL-decodes the last key a
# second time, in place, and so loses `100%` and lists `a+b` as `a b`.
LIST_MODES = (("2", "true"), ("2", "false"), ("1", "false"))
MOTO_V1_PREFIX_AGAIN = "moto lists a common prefix again after a v1 marker equal to it"

NEW_YEAR_2020 = 1577836800  # 2020-01-01T00:00:00Z


class Rclone:
    """``rclone`` with one remote, ``compat:``, pointed at the target."""

    def __init__(self, binary: str, target: Target, home: Path) -> None:
        self.binary = binary
        home.mkdir(parents=True, exist_ok=True)
        config = home / "rclone.conf"
        config.write_text("")
        prefix = f"RCLONE_CONFIG_{REMOTE.upper()}_"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "RCLONE_"))}
        self.env.update({
            "HOME": str(home),
            "RCLONE_CONFIG": str(config),
            "RCLONE_CACHE_DIR": str(home / "cache"),
            prefix + "TYPE": "s3",
            prefix + "PROVIDER": "Other",
            prefix + "ENV_AUTH": "false",
            prefix + "ACCESS_KEY_ID": target.access_key,
            prefix + "SECRET_ACCESS_KEY": target.secret_key,
            prefix + "REGION": target.region,
            prefix + "ENDPOINT": target.endpoint_url,
            prefix + "FORCE_PATH_STYLE": "true",
        })

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, "--retries", "1", "--low-level-retries", "1", *args]
        done = subprocess.run(argv, env=self.env, capture_output=True, encoding="utf-8",
                              timeout=RCLONE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"rclone {' '.join(args)} exited {done.returncode}:\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def lines(self, *args: str) -> list[str]:
        return self(*args).stdout.splitlines()


def remote(bucket: str, path: str = "") -> str:
    return f"{REMOTE}:{bucket}/{path}" if path else f"{REMOTE}:{bucket}"


@pytest.fixture
def rclone(target: Target, tmp_path: Path) -> Rclone:
    binary = require_binary("rclone", "apt-get install rclone")
    return Rclone(binary, target, tmp_path / "rclone-home")








def _files_listing(files: dict[str, bytes]) -> list[str]:
    """`rclone lsf -R --files-only --format ps`: "path;size", in S3 (UTF-8 byte) order."""
    return [f"{rel};{len(files[rel])}" for rel in byte_order(list(files))]


def _top_level(files: dict[str, bytes]) -> list[str]:
    """`rclone lsf` of one level: names and "dir/"s in byte order, a directory before a file
    of the same name (rclone's rule)."""
    top = {(rel.split("/")[0] + "/" if "/" in rel else rel) for rel in files}
    return sorted(top, key=lambda name: (name.rstrip("/").encode(), not name.endswith("/")))


def test_rclone_copy_check_every_size_with_multipart(rclone: Rclone, s3: Any, bucket: str,
                                                    tmp_path: Path, reference_diverges: Any,
                                                    plenilune_differs: Any) -> None:
    """rclone copy uploads every size (40 MiB in forced multipart), check verifies MD5s, copy
    brings them back and copies them server side."""
    src = tmp_path / "src"
    files = write_payloads(src)
    with reference_diverges(MOTO_VERSION_NULL):
        rclone("copy", *MULTIPART_FLAGS, str(src), remote(bucket, "sizes"))
    # Everything arrived (on moto too: its 400 comes after the upload completed), so a
    # second copy finds each object the same size and modification time and copies nothing.
    again = rclone("copy", "-v", *MULTIPART_FLAGS, str(src), remote(bucket, "sizes"))
    assert "Copied" not in again.stderr, again.stderr
    assert "There was nothing to transfer" in again.stderr, again.stderr

    assert rclone.lines("lsf", "-R", "--files-only", "--format", "psh", "--hash", "MD5",
                        remote(bucket, "sizes")) == [
        f"{rel};{len(files[rel])};{md5_hex(files[rel])}" for rel in byte_order(list(files))]
    assert stored_objects(s3, bucket, "sizes/") == files
    for rel, data in files.items():
        etag = s3.head_object(Bucket=bucket, Key=f"sizes/{rel}")["ETag"]
        if len(data) <= PART:
            assert etag == quoted(md5_hex(data)), rel
    big = files["40MiB.bin"]
    big_etag = multipart_etag([big[i:i + PART] for i in range(0, len(big), PART)])
    assert big_etag.endswith('-9"')
    assert s3.head_object(Bucket=bucket, Key="sizes/40MiB.bin")["ETag"] == big_etag

    checked = rclone("check", str(src), remote(bucket, "sizes"))
    assert "0 differences found" in checked.stderr, checked.stderr
    assert f"{len(files)} matching files" in checked.stderr, checked.stderr

    back = tmp_path / "back"
    rclone("copy", remote(bucket, "sizes"), str(back))
    assert read_tree(back) == files

    # Server side: the 40 MiB object is copied as 9 ranged UploadPartCopy parts.
    rclone("copy", "--s3-copy-cutoff", "5M", remote(bucket, "sizes"), remote(bucket, "copied"))
    assert stored_objects(s3, bucket, "copied/") == files
    copied_etag = s3.head_object(Bucket=bucket, Key="copied/40MiB.bin")["ETag"]
    if plenilune_differs(UPLOAD_PART_COPY_ETAG):
        assert copied_etag.endswith('-9"') and copied_etag != big_etag, copied_etag
    else:
        assert copied_etag == big_etag
    checked = rclone("check", remote(bucket, "sizes"), remote(bucket, "copied"))
    assert f"{len(files)} matching files" in checked.stderr, checked.stderr

    # Same size, other bytes, written behind rclone's back: check must see it by MD5.
    s3.put_object(Bucket=bucket, Key="sizes/1MiB.bin", Body=bytes(len(files["1MiB.bin"])))
    mismatch = rclone("check", str(src), remote(bucket, "sizes"), check=False)
    assert mismatch.returncode == 1, mismatch.stderr
    assert "1 differences found" in mismatch.stderr, mismatch.stderr
    assert "1MiB.bin" in mismatch.stderr, mismatch.stderr


def test_rclone_hostile_keys_round_trip(rclone: Rclone, s3: Any, bucket: str,
                                        tmp_path: Path) -> None:
    """rclone copies keys with spaces, unicode, +, %, # and `a` beside `a/b` up and back,
    listing them complete and in order."""
    files = {key: f"<{key}>".encode() for key in CLIENT_KEYS}
    # `a` and `a/b` cannot both be local files: the tree holds `a/b`, `a` goes up alone.
    src = tmp_path / "src"
    write_tree(src, {k: v for k, v in files.items() if k != "a"})
    (tmp_path / "lone-a").write_bytes(files["a"])
    rclone("copy", str(src), remote(bucket, "keys"))
    rclone("copyto", str(tmp_path / "lone-a"), remote(bucket, "keys/a"))

    assert stored_objects(s3, bucket, "keys/") == files
    for fast_list in ((), ("--fast-list",)):
        assert rclone.lines("lsf", "-R", "--files-only", "--format", "ps", *fast_list,
                            remote(bucket, "keys")) == _files_listing(files)
    assert rclone.lines("lsf", remote(bucket, "keys")) == _top_level(files)

    checked = rclone("check", "--exclude", "/a", str(src), remote(bucket, "keys"))
    assert f"{len(files) - 1} matching files" in checked.stderr, checked.stderr

    back = tmp_path / "back"
    rclone("copy", "--exclude", "/a", remote(bucket, "keys"), str(back))
    assert read_tree(back) == {k: v for k, v in files.items() if k != "a"}
    assert rclone("cat", remote(bucket, "keys/a")).stdout == files["a"].decode()

    # Server-side copies name each hostile key as a CopySource.
    rclone("copy", remote(bucket, "keys"), remote(bucket, "copied"))
    assert stored_objects(s3, bucket, "copied/") == files
    rclone("purge", remote(bucket, "keys"))
    assert stored_objects(s3, bucket) == {f"copied/{k}": v for k, v in files.items()}


def test_rclone_lists_hostile_keys_page_by_page(rclone: Rclone, s3: Any, bucket: str,
                                                reference_diverges: Any) -> None:
    """rclone lists hostile keys a few per page, with ListObjects v1 and v2, URL-encoded or
    not, complete and in order."""
    files = {key: f"<{key}>".encode() for key in CLIENT_KEYS}
    for key, data in files.items():
        s3.put_object(Bucket=bucket, Key=f"keys/{key}", Body=data)
    expected_top = _top_level(files)
    for version, url_encode in LIST_MODES:
        for chunk in ("1", "3"):
            flags = ("--s3-list-version", version, "--s3-list-url-encode", url_encode,
                     "--s3-list-chunk", chunk)
            assert rclone.lines("lsf", "-R", "--fast-list", "--files-only", "--format", "ps",
                                *flags, remote(bucket, "keys")) == _files_listing(files), flags
            if version == "1":
                with reference_diverges(MOTO_V1_PREFIX_AGAIN):
                    assert rclone.lines("lsf", *flags, remote(bucket, "keys")) == expected_top
            else:
                assert rclone.lines("lsf", *flags, remote(bucket, "keys")) == expected_top


def test_rclone_sync_mirrors_a_tree_both_ways(rclone: Rclone, s3: Any, bucket: str,
                                              tmp_path: Path) -> None:
    """rclone sync uploads a tree, then mirrors edits, additions, deletions and a new
    modification time, and syncs it back down over a stale local copy."""
    src = tmp_path / "src"
    write_tree(src, TREE)
    rclone("sync", str(src), remote(bucket, "mirror"))
    assert stored_objects(s3, bucket, "mirror/") == TREE

    changed = {"a.txt": b"alpha, longer now\n", "sub/new.txt": b"new\n"}
    write_tree(src, changed)
    (src / "with space.txt").unlink()
    expected = {**{k: v for k, v in TREE.items() if k != "with space.txt"}, **changed}
    second = rclone("sync", "-v", str(src), remote(bucket, "mirror"))
    assert "a.txt: Copied (replaced existing)" in second.stderr, second.stderr
    assert "sub/new.txt: Copied (new)" in second.stderr, second.stderr
    assert "with space.txt: Deleted" in second.stderr, second.stderr
    assert "sub/b.txt" not in second.stderr, second.stderr  # unchanged: not copied again
    assert stored_objects(s3, bucket, "mirror/") == expected
    assert rclone.lines("lsf", "-R", "--files-only", "--format", "ps",
                        remote(bucket, "mirror")) == _files_listing(expected)

    # Only the modification time changed: rclone compares MD5s, then rewrites the object's
    # metadata in place (a CopyObject onto itself, REPLACE) instead of uploading it again.
    etag = s3.head_object(Bucket=bucket, Key="mirror/sub/b.txt")["ETag"]
    os.utime(src / "sub" / "b.txt", (NEW_YEAR_2020, NEW_YEAR_2020))
    third = rclone("sync", "-v", str(src), remote(bucket, "mirror"))
    assert "sub/b.txt: Updated modification time in destination" in third.stderr, third.stderr
    assert "There was nothing to transfer" in third.stderr, third.stderr
    head = s3.head_object(Bucket=bucket, Key="mirror/sub/b.txt")
    assert float(head["Metadata"]["mtime"]) == NEW_YEAR_2020, head["Metadata"]
    assert head["ETag"] == etag
    assert stored_objects(s3, bucket, "mirror/") == expected

    dst = tmp_path / "dst"
    write_tree(dst, {"stale.txt": b"only here\n", "sub/b.txt": b"old bravo\n"})
    rclone("sync", remote(bucket, "mirror"), str(dst))
    assert read_tree(dst) == expected
    rclone("check", str(dst), remote(bucket, "mirror"))


def test_rclone_mkdir_delete_purge_rmdir(rclone: Rclone, s3: Any, make_bucket: Any,
                                         tmp_path: Path) -> None:
    """rclone delete removes only the filtered files, purge removes a prefix or a whole
    bucket, rmdir refuses a bucket that holds objects, mkdir and rmdir make and remove one."""
    bucket = make_bucket()
    src = tmp_path / "src"
    write_tree(src, {"logs/a.txt": b"a", "logs/b.log": b"bb", "logs/sub/c.txt": b"ccc",
                      "keep/d.txt": b"dddd"})
    rclone("copy", str(src), remote(bucket))

    rclone("delete", "--include", "*.txt", remote(bucket, "logs"))
    assert stored_objects(s3, bucket) == {"keep/d.txt": b"dddd", "logs/b.log": b"bb"}

    rclone("purge", remote(bucket, "logs"))
    assert stored_objects(s3, bucket) == {"keep/d.txt": b"dddd"}
    assert rclone.lines("lsf", "-R", "--files-only", "--format", "ps",
                        remote(bucket)) == ["keep/d.txt;4"]

    refused = rclone("rmdir", remote(bucket), check=False)
    assert refused.returncode == 1 and "BucketNotEmpty" in refused.stderr, refused
    assert stored_objects(s3, bucket) == {"keep/d.txt": b"dddd"}

    rclone("purge", remote(bucket))
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    missing = rclone("lsf", remote(bucket), check=False)
    assert missing.returncode == 3, missing  # rclone: directory not found

    made = make_bucket()
    s3.delete_bucket(Bucket=made)  # a name the cleanup still owns, now free
    rclone("mkdir", remote(made))
    assert s3.head_bucket(Bucket=made)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert rclone.lines("lsf", remote(made)) == []
    rclone("rmdir", remote(made))
    assert made not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
