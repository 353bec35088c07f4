"""The whole cluster comes up from real processes: every server answers /healthz, the
nameserver sees every blockstore live, and the real ``plen status`` reports them."""

from __future__ import annotations

import psutil

from tests.integration.harness import Cluster, healthz, redis_ping


def test_every_process_answers_healthz(cluster: Cluster) -> None:
    assert redis_ping(cluster.redis_url)
    assert healthz(cluster.nameserver_url), f"nameserver {cluster.nameserver_url}/healthz"
    for name, url in cluster.blockstore_urls.items():
        assert healthz(url), f"{name} {url}/healthz"
    # Every process runs from the cluster's tmp dir, so it imports the installed packages.
    for name in cluster.names:
        assert cluster.is_running(name), name
        if name != "redis":  # redis-server changes into its own --dir
            assert psutil.Process(cluster.pid(name)).cwd() == str(cluster.tmp_path), name


def test_cluster_status_lists_three_live_servers(cluster: Cluster) -> None:
    servers = cluster.cluster_status()["servers"]
    assert len(servers) == 3, servers
    assert {s["state"] for s in servers} == {"live"}, servers
    assert {s["server_id"] for s in servers} == {cluster.server_id(n)
                                                 for n in cluster.blockstore_names}


def test_plen_status_lists_three_servers(cluster: Cluster) -> None:
    result = cluster.plen("status")
    out = result.stdout.decode()
    for name in cluster.blockstore_names:
        sid, url = cluster.server_id(name), cluster.url(name)
        host_port = url.split("://", 1)[-1]
        assert sid in out or host_port in out, f"{name} ({sid}, {url}) missing from:\n{out}"
