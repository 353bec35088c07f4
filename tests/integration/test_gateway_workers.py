"""The gateway's worker processes (plen/prefork.py): several processes serve one port, they
share the work, and they never outlive their parent."""

from __future__ import annotations

import concurrent.futures
import signal
import time

import psutil
import pytest

from tests.integration.harness import Cluster, wait_until

WORKERS = 3


def _workers(cluster: Cluster) -> list[psutil.Process]:
    pid = cluster.pid(Cluster.GATEWAY)
    assert pid is not None
    return psutil.Process(pid).children()


def _gone(procs: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)


@pytest.fixture
def cluster(tmp_path):
    with Cluster(tmp_path, gateway=True, gateway_args=["--workers", str(WORKERS)]) as made:
        yield made


def test_workers_share_one_port_and_each_serves_requests(cluster: Cluster) -> None:
    workers = _workers(cluster)
    assert len(workers) == WORKERS
    s3 = cluster.s3_client(max_pool_connections=32)
    s3.create_bucket(Bucket="shared")
    before = {w.pid: w.cpu_times().user + w.cpu_times().system for w in workers}

    def put_and_get(i: int) -> bytes:
        s3.put_object(Bucket="shared", Key=f"k{i}", Body=b"%d" % i)
        return s3.get_object(Bucket="shared", Key=f"k{i}")["Body"].read()

    # Enough concurrent connections and work that every worker takes some of it.
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        assert list(pool.map(put_and_get, range(600))) == [b"%d" % i for i in range(600)]
    busy = {w.pid: w.cpu_times().user + w.cpu_times().system - before[w.pid] for w in workers}
    assert all(spent > 0.05 for spent in busy.values()), busy
    listed = s3.list_objects_v2(Bucket="shared")["KeyCount"]
    assert listed == 600


def test_sigkill_of_the_parent_takes_every_worker_with_it(cluster: Cluster) -> None:
    workers = _workers(cluster)
    cluster.process(Cluster.GATEWAY).signal_and_wait(signal.SIGKILL, timeout=10)
    wait_until(lambda: _gone(workers), timeout=10, message="workers outlived their parent")
    s3 = cluster.s3_client(retries={"max_attempts": 1}, connect_timeout=2)
    with pytest.raises(Exception, match="(?i)connect"):
        s3.list_buckets()


def test_sigterm_stops_every_worker_and_the_parent_exits_0(cluster: Cluster) -> None:
    workers = _workers(cluster)
    assert cluster.process(Cluster.GATEWAY).signal_and_wait(signal.SIGTERM, timeout=20) == 0
    assert _gone(workers)


def test_a_worker_that_dies_stops_the_gateway_so_its_supervisor_restarts_it(
        cluster: Cluster) -> None:
    workers = _workers(cluster)
    workers[0].kill()
    proc = cluster.process(Cluster.GATEWAY)
    proc.expect_exit = True
    deadline = time.monotonic() + 20
    while proc.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.signal_and_wait(signal.SIGTERM, timeout=5) == 1
    wait_until(lambda: _gone(workers), timeout=10, message="the other workers kept serving")
    assert "stopping the others" in cluster.log(Cluster.GATEWAY)
