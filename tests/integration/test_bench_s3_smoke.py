"""bench/bench_s3.py's workloads, with tiny counts against one real Plenilune target: they run
end to end, and their read-back checks catch a wrong byte and a missing key. No timings are
asserted."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_s3.py"
MiB = 1024 * 1024


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_s3", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench()


@pytest.fixture(scope="module")
def target(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with bench.plenilune_target(tmp_path_factory.mktemp("bench-s3")) as target:
        yield target


def test_small_object_get_fails_when_an_object_was_overwritten(bench: ModuleType,
                                                               target: Any) -> None:
    client = target.client(4)
    client.create_bucket(Bucket="smoke-small")
    put = bench.small_put(client, "smoke-small", "c4", 12, 4)
    get = bench.small_get(client, "smoke-small", "c4", 12, 4)
    assert len(put.latencies_s) == len(get.latencies_s) == 12

    client.put_object(Bucket="smoke-small", Key=bench.small_key("c4", 5), Body=bench.small_body(6))
    with pytest.raises(bench.VerifyError):
        bench.small_get(client, "smoke-small", "c4", 12, 4)


def test_small_delete_fails_when_a_key_is_left(bench: ModuleType, target: Any) -> None:
    client = target.client(4)
    client.create_bucket(Bucket="smoke-delete")
    bench.small_put(client, "smoke-delete", "d", 8, 4)
    delete = bench.small_delete(client, "smoke-delete", "d", 8, 4)
    assert len(delete.latencies_s) == 8

    bench.small_put(client, "smoke-delete", "d", 9, 4)  # key 8 is not deleted below
    with pytest.raises(bench.VerifyError):
        bench.small_delete(client, "smoke-delete", "d", 8, 4)


def test_copy_is_read_back_and_checked(bench: ModuleType, target: Any, tmp_path: Path) -> None:
    client = target.client(2)
    client.create_bucket(Bucket="smoke-copy")
    src = tmp_path / "copy-src.bin"
    md5 = bench.make_file(src, 3 * MiB)
    bench.large_put_stream(client, "smoke-copy", "src", src)
    assert bench.timed_copy(client, "smoke-copy", "src", "dst", md5) > 0

    with pytest.raises(bench.VerifyError):
        bench.timed_copy(client, "smoke-copy", "src", "dst2", "0" * 32)


def test_complete_is_read_back_and_checked(bench: ModuleType, target: Any,
                                           tmp_path: Path) -> None:
    client = target.client(2)
    client.create_bucket(Bucket="smoke-complete")
    src = tmp_path / "complete-src.bin"
    md5 = bench.make_file(src, bench.COMPLETE_SMALL + 7)
    assert bench.timed_complete(client, "smoke-complete", "ok", src, md5, check=True) > 0
    head = client.head_object(Bucket="smoke-complete", Key="ok")
    assert head["ETag"].endswith(f'-{bench.COMPLETE_PARTS}"')

    with pytest.raises(bench.VerifyError):
        bench.timed_complete(client, "smoke-complete", "bad", src, "0" * 32, check=True)


def test_pattern_file_is_its_base_repeated_and_seekable(bench: ModuleType) -> None:
    base = bench.PatternFile._BASE
    size = 2 * len(base) + 12345
    pattern = bench.PatternFile(size)
    whole = pattern.read()
    assert len(whole) == size and whole == (base * 3)[:size]
    assert pattern.seek(-100, 2) == size - 100 and pattern.read(1000) == whole[-100:]
    pattern.seek(len(base) - 3)
    assert pattern.read(10) == whole[len(base) - 3:len(base) + 7]
    assert pattern.md5() == hashlib.md5(whole).hexdigest() and pattern.tell() == 0


def test_stream_workload_reads_back_what_it_put(bench: ModuleType, target: Any) -> None:
    client = target.client(1)
    client.create_bucket(Bucket="bench-large")
    table = bench.Table()
    for label in bench.STREAM_ROWS.values():
        table.declare(label, "{:.0f}", True)
    bench.run_stream(table, target, size=9 * MiB + 3)
    assert not table.failures
    for label in bench.STREAM_ROWS.values():
        value = table.rows[label].number(bench.PLENILUNE)
        assert value is not None and value > 0, label


def test_list_pages_fail_when_a_key_is_missing(bench: ModuleType, target: Any) -> None:
    client = target.client(4)
    client.create_bucket(Bucket="smoke-list")
    bench.fill(client, "smoke-list", 0, 25, 4)
    times = bench.list_pages(client, "smoke-list", 25, places=3, page=10)
    assert len(times) == 6

    client.delete_object(Bucket="smoke-list", Key=bench.list_key(17))
    with pytest.raises(bench.VerifyError):
        bench.list_pages(client, "smoke-list", 25, places=3, page=10)


def test_large_object_round_trips_single_stream_and_multipart(bench: ModuleType, target: Any,
                                                              tmp_path: Path) -> None:
    client = target.client(4)
    client.create_bucket(Bucket="smoke-large")
    src = tmp_path / "src.bin"
    md5 = bench.make_file(src, 11 * MiB)
    transfer = bench.TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                                    max_concurrency=3, preferred_transfer_client="classic")
    result = bench.large_object(target, "smoke-large", src, md5, tmp_path, transfer)
    assert result.errors == {}
    assert all(math.isfinite(s) for s in (result.put_stream_s, result.get_stream_s,
                                          result.upload_file_s, result.download_file_s))
    assert result.peak_rss_bytes > 0
    assert bench.tree_rss(target.pids) > 0


def test_null_endpoint_takes_puts_and_serves_its_file(bench: ModuleType, tmp_path: Path) -> None:
    # large_get_stream checks the MD5 of what comes back: a null endpoint serving anything
    # but its file fails here, and both probes must have moved every byte.
    from bench.null_s3 import client_mbps

    put, get = client_mbps(tmp_path, 4 * MiB, bench.large_put_stream, bench.large_get_stream)
    assert put > 0 and get > 0
    assert list(tmp_path.iterdir()) == []
