"""One namespace, two doors: what goes in through S3 (boto3) comes out through `plen` and the
other way round, at once and byte for byte; copies and multipart uploads through S3 share
blocks instead of writing new ones, and a shared block outlives the object it came from."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.integration.harness import Cluster, wait_until

MiB = 1024 * 1024
BS = MiB  # the harness's block size
CLUSTER_OPTIONS = {"gateway": True, "block_size": BS}


@pytest.fixture(scope="module")
def s3(shared_cluster: Cluster) -> Any:
    return shared_cluster.s3_client()


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="doors")
    return "doors"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def etag_of(response: dict[str, Any]) -> str:
    return response["ETag"].strip('"')


def stat_fields(cluster: Cluster, path: str) -> dict[str, str]:
    """`plen stat` output as {field: value} (first occurrence of each field)."""
    fields: dict[str, str] = {}
    for line in cluster.plen("stat", path).stdout.decode().splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith(" "):
            fields.setdefault(name.strip(), value.strip())
    return fields


def listed(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    """Every key below ``prefix`` -> its size, through the paginator (all pages)."""
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            assert obj["Key"] not in out, f"{obj['Key']!r} listed twice"
            out[obj["Key"]] = obj["Size"]
    return out


def blocks_of(cluster: Cluster, path: str) -> list[str]:
    st = cluster.ns_post("stat", {"path": path, "with_blocks": True})
    return [b["block_id"] for b in st["file"]["blocks"]]


def replica_files(cluster: Cluster) -> set[tuple[str, str]]:
    """Every (block id, blockstore) pair with a block file on disk."""
    return {(bid, name) for bid, names in cluster.block_files().items() for name in names}


def assert_no_new_block_files(before: set[tuple[str, str]], cluster: Cluster) -> None:
    added = replica_files(cluster) - before
    assert not added, f"{len(added)} new block files on disk, e.g. {sorted(added)[:3]}"


def get_bytes(s3: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    body = s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"]
    with body:
        return body.read()


def test_stat_with_a_range_returns_only_the_blocks_it_overlaps(shared_cluster: Cluster,
                                                               s3: Any, bucket: str) -> None:
    data = os.urandom(5 * BS + 123)
    s3.put_object(Bucket=bucket, Key="ranged/five-blocks", Body=data)
    path = f"/{bucket}/ranged/five-blocks"
    every = shared_cluster.ns_post("stat", {"path": path, "with_blocks": True})["file"]
    assert [b["offset"] for b in every["blocks"]] == [0, BS, 2 * BS, 3 * BS, 4 * BS, 5 * BS]

    def offsets(offset: int, length: int | None) -> list[int]:
        st = shared_cluster.ns_post("stat", {"path": path, "with_blocks": True,
                                             "offset": offset, "length": length})
        assert st["file"]["block_count"] == 6
        return [b["offset"] for b in st["file"]["blocks"]]

    assert offsets(BS - 1, 2) == [0, BS]  # one byte either side of a boundary
    assert offsets(2 * BS, BS) == [2 * BS]
    assert offsets(4 * BS + 5, None) == [4 * BS, 5 * BS]
    assert offsets(0, 0) == []
    # Ranged GETs through the gateway (which asks for the blocks of the range only) read
    # the right bytes across block boundaries, and so do the forms it cannot narrow.
    for header, lo, hi in (("bytes=1048570-3145740", 1048570, 3145741),
                           (f"bytes={5 * BS}-", 5 * BS, len(data)),
                           ("bytes=-200", len(data) - 200, len(data))):
        assert get_bytes(s3, bucket, "ranged/five-blocks", Range=header) == data[lo:hi]


# -- S3 in, plen out ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 3 * BS + 17])
def test_object_put_through_s3_is_a_file_for_plen(shared_cluster: Cluster, s3: Any,
                                                  bucket: str, tmp_path: Path,
                                                  size: int) -> None:
    data = os.urandom(size)
    key = f"from-s3/{size}/object.bin"
    put = s3.put_object(Bucket=bucket, Key=key, Body=data)
    path = f"/{bucket}/{key}"
    assert shared_cluster.plen("ls", f"/{bucket}/from-s3/{size}").stdout.decode().split() \
        == ["object.bin"]
    long = shared_cluster.plen("ls", "-l", path).stdout.decode().split()
    assert (long[0], long[3], long[-1]) == (str(size), md5_hex(data), "object.bin"), long
    dst = tmp_path / "got"
    shared_cluster.plen("get", path, dst)
    assert dst.read_bytes() == data
    fields = stat_fields(shared_cluster, path)
    assert fields["type"] == "file"
    assert fields["size"].split()[0] == str(size)
    assert fields["md5"] == etag_of(put) == md5_hex(data)


# -- plen in, S3 out ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 4096, 2 * BS + 1])
def test_file_put_with_plen_is_an_object_for_s3(shared_cluster: Cluster, s3: Any,
                                                tmp_path: Path, size: int) -> None:
    name = f"plen-in-{size}"
    s3.create_bucket(Bucket=name)
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    shared_cluster.plen("put", src, f"/{name}/file.bin")
    head = s3.head_object(Bucket=name, Key="file.bin")
    assert head["ContentLength"] == size
    assert etag_of(head) == md5_hex(data)
    got = s3.get_object(Bucket=name, Key="file.bin")
    with got["Body"] as body:
        assert body.read() == data
    assert etag_of(got) == md5_hex(data)
    page = s3.list_objects_v2(Bucket=name)
    assert [(o["Key"], o["Size"], o["ETag"].strip('"')) for o in page["Contents"]] \
        == [("file.bin", size, md5_hex(data))]


def test_plen_mkdir_at_the_top_is_a_bucket(shared_cluster: Cluster, s3: Any) -> None:
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket="made-by-plen")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    shared_cluster.plen("mkdir", "/made-by-plen")
    s3.head_bucket(Bucket="made-by-plen")
    assert "made-by-plen" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.list_objects_v2(Bucket="made-by-plen")["KeyCount"] == 0
    s3.put_object(Bucket="made-by-plen", Key="k", Body=b"v")
    assert shared_cluster.plen("get", "/made-by-plen/k", "-").stdout == b"v"


def test_plen_mkdir_below_a_bucket_is_a_directory_marker(shared_cluster: Cluster,
                                                        s3: Any) -> None:
    s3.create_bucket(Bucket="markers")
    shared_cluster.plen("mkdir", "/markers/photos")
    assert list(listed(s3, "markers")) == ["photos/"]
    assert get_bytes(s3, "markers", "photos/") == b""


def test_plen_mv_of_a_directory_is_seen_by_s3_at_once(shared_cluster: Cluster, s3: Any,
                                                      bucket: str) -> None:
    contents = {f"old/f{i}": os.urandom(i * 100) for i in range(6)}
    contents["old/sub/deeper/x"] = os.urandom(2 * BS + 3)
    contents["old/sub/y"] = b"y"
    contents["old-sibling"] = b"stays"  # shares the prefix "old" but not the directory
    for key, data in contents.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert set(listed(s3, bucket, "old/")) == {k for k in contents if k.startswith("old/")}

    shared_cluster.plen("mv", f"/{bucket}/old", f"/{bucket}/new")

    # No waiting: the first listings after the rename already show all of it.
    assert listed(s3, bucket, "old/") == {}
    moved = {"new/" + k.removeprefix("old/"): v for k, v in contents.items()
             if k.startswith("old/")}
    assert listed(s3, bucket, "new/") == {k: len(v) for k, v in moved.items()}
    assert listed(s3, bucket, "old") == {"old-sibling": 5}
    for key, data in moved.items():
        assert get_bytes(s3, bucket, key) == data, key
    with pytest.raises(ClientError) as gone:
        s3.get_object(Bucket=bucket, Key="old/f1")
    assert gone.value.response["Error"]["Code"] == "NoSuchKey"


def test_plen_rm_makes_s3_answer_no_such_key(shared_cluster: Cluster, s3: Any,
                                             bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doomed/file", Body=os.urandom(BS + 1))
    assert s3.head_object(Bucket=bucket, Key="doomed/file")["ContentLength"] == BS + 1
    shared_cluster.plen("rm", f"/{bucket}/doomed/file")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="doomed/file")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="doomed/file")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert listed(s3, bucket, "doomed/") == {}


# -- multipart and copies -------------------------------------------------------------------


def multipart_etag(data: bytes, part_size: int) -> str:
    """S3's ETag of a multipart object: MD5 of the parts' binary MD5s, dash, part count."""
    digests = [hashlib.md5(data[i:i + part_size]).digest()
               for i in range(0, len(data), part_size)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def test_multipart_upload_through_s3_reads_back_through_plen(shared_cluster: Cluster, s3: Any,
                                                             bucket: str,
                                                             tmp_path: Path) -> None:
    part = 5 * MiB
    data = os.urandom(17 * MiB + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part,
                            max_concurrency=4)
    s3.upload_file(str(src), bucket, "multi/big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="multi/big.bin")
    assert head["ContentLength"] == len(data)
    assert etag_of(head) == multipart_etag(data, part)
    dst = tmp_path / "back.bin"
    shared_cluster.plen("get", f"/{bucket}/multi/big.bin", dst)
    assert dst.stat().st_size == len(data)
    assert dst.read_bytes() == data


def test_copy_object_of_a_large_object_writes_no_block(shared_cluster: Cluster, s3: Any,
                                                       bucket: str) -> None:
    data = os.urandom(6 * BS + 3)
    put = s3.put_object(Bucket=bucket, Key="copy/src", Body=data)
    src_blocks = set(blocks_of(shared_cluster, f"/{bucket}/copy/src"))
    assert len(src_blocks) == 7
    before = replica_files(shared_cluster)
    assert {bid for bid, _ in before} >= src_blocks

    result = s3.copy_object(Bucket=bucket, Key="copy/dst",
                            CopySource={"Bucket": bucket, "Key": "copy/src"})

    assert_no_new_block_files(before, shared_cluster)
    assert result["CopyObjectResult"]["ETag"] == put["ETag"]
    assert get_bytes(s3, bucket, "copy/dst") == data
    assert shared_cluster.plen("get", f"/{bucket}/copy/dst", "-").stdout == data


@pytest.mark.parametrize("ranges", [
    # (first byte, last byte) per part, inclusive as in x-amz-copy-source-range; every part but
    # the last is at least 5 MiB, none starts or ends on a block boundary.
    [(BS // 3, BS // 3 + 5 * MiB + 333), (7, 2 * BS + 12)],
    [(0, 5 * MiB - 1), (5 * MiB + 1, 10 * MiB + 1), (3 * BS - 1, 3 * BS + 1)],
    [(BS + 1, 7 * BS + 5), (9 * BS + 17, 12 * BS + 100)],
])
def test_upload_part_copy_ranges_read_back_exactly_and_write_no_block(
        shared_cluster: Cluster, s3: Any, bucket: str, ranges: list[tuple[int, int]]) -> None:
    key_src = f"upc/src-{ranges[0][0]}"
    data = os.urandom(12 * BS + 4321)
    s3.put_object(Bucket=bucket, Key=key_src, Body=data)
    dest = f"upc/dst-{ranges[0][0]}"
    before = replica_files(shared_cluster)

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=dest)["UploadId"]
    parts = []
    for number, (first, last) in enumerate(ranges, start=1):
        copied = s3.upload_part_copy(Bucket=bucket, Key=dest, UploadId=upload_id,
                                     PartNumber=number,
                                     CopySource={"Bucket": bucket, "Key": key_src},
                                     CopySourceRange=f"bytes={first}-{last}")
        # Not MD5(range): the copy reads no byte, so plen names (source version, range)
        # instead (plen.client.fs.copy_part); AWS computes it from the data.
        etag = copied["CopyPartResult"]["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag), etag
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id,
                                 MultipartUpload={"Parts": parts})

    assert_no_new_block_files(before, shared_cluster)
    expected = b"".join(data[first:last + 1] for first, last in ranges)
    assert s3.head_object(Bucket=bucket, Key=dest)["ContentLength"] == len(expected)
    assert get_bytes(s3, bucket, dest) == expected
    assert shared_cluster.plen("get", f"/{bucket}/{dest}", "-").stdout == expected
    # A ranged read across the seam of the first two parts.
    seam = ranges[0][1] - ranges[0][0] + 1
    assert get_bytes(s3, bucket, dest, Range=f"bytes={seam - 10}-{seam + 9}") \
        == expected[seam - 10:seam + 10]


def test_deleting_the_source_of_a_copy_keeps_the_copy_readable_after_gc(
        shared_cluster: Cluster, s3: Any, bucket: str) -> None:
    data = os.urandom(3 * BS + 5)
    s3.put_object(Bucket=bucket, Key="gc/src", Body=data)
    s3.copy_object(Bucket=bucket, Key="gc/copy", CopySource={"Bucket": bucket, "Key": "gc/src"})
    shared = set(blocks_of(shared_cluster, f"/{bucket}/gc/copy"))
    # A control object with nothing sharing its blocks: proves the GC pass really collects.
    s3.put_object(Bucket=bucket, Key="gc/control", Body=os.urandom(2 * BS + 1))
    control = set(blocks_of(shared_cluster, f"/{bucket}/gc/control"))

    s3.delete_object(Bucket=bucket, Key="gc/src")
    s3.delete_object(Bucket=bucket, Key="gc/control")
    shared_cluster.admin("gc/run-once")
    wait_until(lambda: not control & set(shared_cluster.block_files()), timeout=30,
               message="the control object's block files to be deleted")

    on_disk = shared_cluster.block_files()
    for bid in shared:
        assert len(on_disk.get(bid, [])) == shared_cluster.replication, (bid, on_disk.get(bid))
    assert get_bytes(s3, bucket, "gc/copy") == data
    assert shared_cluster.plen("get", f"/{bucket}/gc/copy", "-").stdout == data
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="gc/src")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

