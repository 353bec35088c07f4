"""python -m nameserver (also `plen nameserver`, `plen-nameserver`)."""

from __future__ import annotations

from pathlib import Path

import click

from nameserver.settings import Settings
from nameserver.store.connect import StoreURLError, check_url
from plen.settings import option
from plen.wire.errors import WireError


@click.command(name="nameserver", context_settings={"help_option_names": ["-h", "--help"]})
@option("--host", envvar="PLEN_NAMESERVER_HOST", default="127.0.0.1", help="Address to bind.")
@option("--port", envvar="PLEN_NAMESERVER_PORT", default=7070, type=int, help="0 = any free port.")
@option("--redis", "redis_url", envvar="PLEN_REDIS_URL", required=True,
        help="redis://host:port/db, or through Sentinel: "
             "redis+sentinel://host:port[,host:port...]/service[/db]")
@option("--cluster-secret", envvar="PLEN_CLUSTER_SECRET", required=True, show_default=False,
        help="Shared by the nameserver and every blockstore.")
@option("--root-user", envvar="PLEN_ROOT_USER", required=True, show_default=False,
        help="The root user's access key: may do everything (the gateway's root too).")
@option("--root-password", envvar="PLEN_ROOT_PASSWORD", required=True, show_default=False,
        help="The root user's secret key.")
@option("--replication", envvar="PLEN_REPLICATION", default=3, type=int)
@option("--block-size", envvar="PLEN_BLOCK_SIZE", default=8 * 1024 * 1024, type=int,
        help="Bytes per block.")
@option("--inline-max", envvar="PLEN_INLINE_MAX", default=4096, type=int,
        help="Files up to this size live in the metadata.")
@option("--heartbeat-interval", envvar="PLEN_HEARTBEAT_INTERVAL_S", default=3.0, type=float)
@option("--dead-after", envvar="PLEN_DEAD_AFTER_S", default=15.0, type=float)
@option("--allocation-ttl", envvar="PLEN_ALLOCATION_TTL_S", default=3600.0, type=float,
        help="Seconds before an uncommitted block is collected.")
@option("--gc-interval", envvar="PLEN_GC_INTERVAL_S", default=5.0, type=float)
@option("--lease-ttl", envvar="PLEN_LEASE_TTL_S", default=10.0, type=float,
        help="Seconds before another nameserver takes over the background duties.")
@option("--repair-interval", envvar="PLEN_REPAIR_INTERVAL_S", default=2.0, type=float)
@option("--repair-concurrency", envvar="PLEN_REPAIR_CONCURRENCY", default=16, type=int,
        help="Block copies queued per target server (repair and rebalance); the "
        "blockstore runs --copy-concurrency of them at a time.")
@option("--rebalance-interval", envvar="PLEN_REBALANCE_INTERVAL_S", default=3.0, type=float,
        help="Seconds between rebalance passes; 0 = no rebalancing.")
@option("--rebalance-spread", envvar="PLEN_REBALANCE_SPREAD", default=0.10, type=float,
        help="Largest allowed difference in utilisation (0.10 = 10 points) between servers.")
@option("--ready-file", envvar="PLEN_READY_FILE", type=click.Path(path_type=Path), default=None)
@option("--log-level", envvar="PLEN_LOG_LEVEL", default="INFO")
def main(host: str, port: int, redis_url: str, cluster_secret: str, root_user: str,
         root_password: str, replication: int,
         block_size: int, inline_max: int, heartbeat_interval: float, dead_after: float,
         allocation_ttl: float, gc_interval: float, lease_ttl: float, repair_interval: float,
         repair_concurrency: int, rebalance_interval: float, rebalance_spread: float,
         ready_file: Path | None, log_level: str) -> None:
    """Run the nameserver: namespace, placement and membership, all state in Redis."""
    from nameserver.app import make_app
    from plen import service

    try:
        settings = Settings(
            host=host, port=port, redis_url=redis_url, cluster_secret=cluster_secret,
            root_user=root_user, root_password=root_password,
            replication_factor=replication, block_size_bytes=block_size,
            inline_max_bytes=inline_max, heartbeat_interval_s=heartbeat_interval,
            dead_after_s=dead_after, allocation_ttl_s=allocation_ttl, gc_interval_s=gc_interval,
            lease_ttl_s=lease_ttl, repair_interval_s=repair_interval,
            repair_concurrency=repair_concurrency, rebalance_interval_s=rebalance_interval,
            rebalance_spread=rebalance_spread, ready_file=ready_file,
            log_level=log_level).validate()
        check_url(redis_url)
    except WireError as err:
        raise click.UsageError(err.message)
    except StoreURLError as err:
        raise click.UsageError(str(err))
    service.setup_logging(log_level, service="nameserver")
    service.run(make_app(settings), service="nameserver", host=host, port=port,
                ready_file=ready_file)


if __name__ == "__main__":
    main()
