"""The real `plen` command against a real cluster: round trips, placement on disk,
server-side copy, moves, removal, hostile names."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from plen.client.fs import FileSystem
from tests.integration.harness import Cluster, wait_until

BS = 1024 * 1024  # the harness's block size
CLUSTER_OPTIONS = {"blockstores": 3, "replication": 3, "block_size": BS}
SIZES = [0, 1, 4096, 4097, BS, BS + 1, 100 * BS + 12345]


def blocks_of(cluster: Cluster, path: str) -> list[str]:
    st = cluster.ns_post("stat", {"path": path, "with_blocks": True})
    return [b["block_id"] for b in st["file"]["blocks"]]


@pytest.fixture(scope="module")
def bucket(shared_cluster: Cluster) -> str:
    shared_cluster.plen("mkdir", "/files")
    return "/files"


@pytest.mark.parametrize("size", SIZES)
def test_put_get_round_trip_byte_for_byte(shared_cluster: Cluster, bucket: str, tmp_path: Path,
                                          size: int) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    data = os.urandom(size)
    src.write_bytes(data)
    shared_cluster.plen("put", src, f"{bucket}/f{size}")
    shared_cluster.plen("get", f"{bucket}/f{size}", dst)
    assert dst.read_bytes() == data
    out = shared_cluster.plen("stat", f"{bucket}/f{size}").stdout.decode()
    assert hashlib.md5(data).hexdigest() in out and str(size) in out


@pytest.mark.parametrize("size", [BS, BS + 1, 3 * BS])
def test_each_block_lands_on_rf_distinct_blockstores(shared_cluster: Cluster, bucket: str,
                                                     size: int) -> None:
    shared_cluster.plen("put", "-", f"{bucket}/placed{size}", input=os.urandom(size))
    on_disk = shared_cluster.block_files()
    ids = blocks_of(shared_cluster, f"{bucket}/placed{size}")
    assert len(ids) == -(-size // BS)
    for bid in ids:
        holders = on_disk.get(bid, [])
        assert len(holders) == len(set(holders)) == 3, (bid, holders)


def test_small_files_stay_inline_and_touch_no_blockstore(shared_cluster: Cluster,
                                                         bucket: str) -> None:
    before = set(shared_cluster.block_files())
    shared_cluster.plen("put", "-", f"{bucket}/tiny", input=b"x" * 4096)
    assert set(shared_cluster.block_files()) == before
    assert blocks_of(shared_cluster, f"{bucket}/tiny") == []


def test_stdin_to_stdout_round_trip(shared_cluster: Cluster, bucket: str) -> None:
    data = os.urandom(3 * BS + 7)
    shared_cluster.plen("put", "-", f"{bucket}/piped", input=data)
    assert shared_cluster.plen("get", f"{bucket}/piped", "-").stdout == data


def test_cp_shares_blocks_and_copies_no_bytes(shared_cluster: Cluster, bucket: str) -> None:
    data = os.urandom(2 * BS + 5)
    shared_cluster.plen("put", "-", f"{bucket}/orig", input=data)
    files_before = shared_cluster.block_files()
    shared_cluster.plen("cp", f"{bucket}/orig", f"{bucket}/copy")
    assert shared_cluster.block_files() == files_before
    assert blocks_of(shared_cluster, f"{bucket}/copy") == blocks_of(shared_cluster,
                                                                    f"{bucket}/orig")
    shared_cluster.plen("rm", f"{bucket}/orig")
    assert shared_cluster.plen("get", f"{bucket}/copy", "-").stdout == data


def test_mv_of_directory_with_1000_files_is_one_step(shared_cluster: Cluster,
                                                     bucket: str) -> None:
    async def fill() -> None:
        sem = asyncio.Semaphore(32)
        async with FileSystem(shared_cluster.nameserver_url,
                              credentials=shared_cluster.credentials) as fs:
            async def one(i: int) -> None:
                async with sem:
                    await fs.write_file(f"{bucket}/many/sub{i % 10}/f{i:04d}", str(i).encode(),
                                        parents=True)
            await asyncio.gather(*(one(i) for i in range(1000)))

    asyncio.run(fill())
    shared_cluster.plen("mv", f"{bucket}/many", f"{bucket}/moved")
    listing = shared_cluster.plen("ls", f"{bucket}/moved/sub3").stdout.decode().split()
    assert len(listing) == 100 and "f0003" in listing
    gone = shared_cluster.plen("ls", f"{bucket}/many", check=False)
    assert gone.returncode == 3
    assert shared_cluster.plen("get", f"{bucket}/moved/sub7/f0997", "-").stdout == b"997"


def test_mv_file_into_existing_directory(shared_cluster: Cluster, bucket: str) -> None:
    shared_cluster.plen("put", "-", f"{bucket}/loose", input=b"L")
    shared_cluster.plen("mkdir", f"{bucket}/into")
    shared_cluster.plen("mv", f"{bucket}/loose", f"{bucket}/into")
    assert shared_cluster.plen("get", f"{bucket}/into/loose", "-").stdout == b"L"


def test_rmdir_refuses_non_empty_and_recursive_removal_works(shared_cluster: Cluster,
                                                             bucket: str) -> None:
    shared_cluster.plen("mkdir", "-p", f"{bucket}/tree/a/b")
    shared_cluster.plen("put", "-", f"{bucket}/tree/a/b/f", input=os.urandom(BS + 1))
    refused = shared_cluster.plen("rmdir", f"{bucket}/tree", check=False)
    assert refused.returncode == 4 and b"not empty" in refused.stderr
    not_rm = shared_cluster.plen("rm", f"{bucket}/tree", check=False)
    assert not_rm.returncode != 0 and b"directory" in not_rm.stderr
    shared_cluster.plen("rm", "-r", f"{bucket}/tree/a")
    shared_cluster.plen("rmdir", f"{bucket}/tree")
    names = shared_cluster.plen("ls", bucket).stdout.decode().split()
    assert "tree/" not in names and "tree" not in names


def test_rm_r_releases_blocks_to_gc(shared_cluster: Cluster, bucket: str) -> None:
    shared_cluster.plen("mkdir", f"{bucket}/gcdir")
    shared_cluster.plen("put", "-", f"{bucket}/gcdir/f", input=os.urandom(BS + 1))
    ids = blocks_of(shared_cluster, f"{bucket}/gcdir/f")
    shared_cluster.plen("rm", "-r", f"{bucket}/gcdir")
    shared_cluster.admin("gc/run-once")
    wait_until(lambda: not set(ids) & set(shared_cluster.block_files()), timeout=30,
               message="block files of removed tree were not deleted")


HOSTILE = ["with space", "ünïcødé-名前", "100%", "a+b", "#hash", "emoji😀", "x" * 1024]


def test_hostile_names_round_trip(shared_cluster: Cluster, bucket: str) -> None:
    shared_cluster.plen("mkdir", f"{bucket}/hostile")
    for name in HOSTILE:
        shared_cluster.plen("put", "-", f"{bucket}/hostile/{name}", input=name.encode())
    listing = shared_cluster.plen("ls", f"{bucket}/hostile").stdout.decode().splitlines()
    for name in HOSTILE:
        assert name in listing
        assert shared_cluster.plen("get", f"{bucket}/hostile/{name}", "-").stdout == name.encode()


def test_file_beside_directory_of_same_name(shared_cluster: Cluster, bucket: str) -> None:
    async def write() -> None:
        async with FileSystem(shared_cluster.nameserver_url,
                              credentials=shared_cluster.credentials) as fs:
            await fs.write_file(f"{bucket}/both/a", b"file a", parents=True)
            await fs.write_file(f"{bucket}/both/a/b", b"file a/b", parents=True)

    asyncio.run(write())
    assert shared_cluster.plen("get", f"{bucket}/both/a", "-").stdout == b"file a"
    assert shared_cluster.plen("get", f"{bucket}/both/a/b", "-").stdout == b"file a/b"
    listing = shared_cluster.plen("ls", f"{bucket}/both").stdout.decode().split()
    assert listing == ["a", "a/"]


def test_cd_pwd_and_relative_paths(shared_cluster: Cluster, bucket: str) -> None:
    shared_cluster.plen("mkdir", f"{bucket}/cwd")
    shared_cluster.plen("cd", f"{bucket}/cwd")
    assert shared_cluster.plen("pwd").stdout.decode().strip() == f"{bucket}/cwd"
    shared_cluster.plen("put", "-", "rel.txt", input=b"relative")
    shared_cluster.plen("touch", "empty")
    assert shared_cluster.plen("get", f"{bucket}/cwd/rel.txt", "-").stdout == b"relative"
    assert shared_cluster.plen("get", "../cwd/empty", "-").stdout == b""
    shared_cluster.plen("cd", "/")
    assert shared_cluster.plen("pwd").stdout.decode().strip() == "/"
