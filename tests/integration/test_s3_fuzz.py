"""A short run of bench/fuzz_gateway.py against a live cluster, with a fixed seed: 2,000
generated hostile requests (garbage, forged and mutated SigV4, broken aws-chunked bodies,
hostile XML, Range/If-* headers, stalls) end with no 5xx but S3's deliberate 501s, no hang,
every process of the cluster (the gateway's workers too) alive and a normal PUT and GET
still working. No timings are asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration.harness import Cluster

FUZZER = Path(__file__).resolve().parents[2] / "bench" / "fuzz_gateway.py"
REQUESTS = 2000
SEED = 20261125


def load_fuzzer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_gateway", FUZZER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fuzz_gateway = load_fuzzer()
CLUSTER_OPTIONS = {"gateway": True, "gateway_args": fuzz_gateway.GATEWAY_DEADLINES}


@pytest.mark.timeout(600)
def test_generated_hostile_requests_end_without_5xx_hangs_or_dead_processes(
        shared_cluster: Cluster) -> None:
    result = fuzz_gateway.run(
        shared_cluster.gateway_url, shared_cluster.s3_access_key, shared_cluster.s3_secret_key,
        requests=REQUESTS, seed=SEED, concurrency=16, timeout=60.0, stalls=True,
        census=lambda: fuzz_gateway.process_census(shared_cluster))
    report = result.report()
    counts = result.stats.by_class
    assert sum(counts.values()) == REQUESTS, report
    assert result.stats.fives == [], report
    assert result.stats.hangs == [], report
    assert not counts.get("bad-response") and not counts.get("connect-error"), report
    assert result.dead == [], report
    assert result.final_error is None, report
    # The run reached the gateway's handlers, not only its parser: signed requests succeeded
    # and hostile ones were refused with S3 errors.
    assert counts["2xx"] > 0 and counts["4xx"] > REQUESTS // 4, report
    assert result.ok, report


def test_the_fuzzer_is_reproducible_from_its_seed() -> None:
    def requests(seed: int) -> list[bytes]:
        gen = fuzz_gateway.Generator(fuzz_gateway.random.Random(seed), "127.0.0.1:9",
                                     "AKIDEXAMPLE", "secret", stalls=True)
        # Signatures carry the time: compare everything but the Authorization/date lines.
        return [b"\n".join(line for line in gen.next().data.split(b"\n")
                           if b"X-Amz-Date" not in line and b"Authorization" not in line
                           and b"X-Amz-" not in line) for _ in range(200)]

    assert requests(1) == requests(1)
    assert requests(1) != requests(2)
