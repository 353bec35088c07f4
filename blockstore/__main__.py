"""python -m blockstore (also `plen blockstore`, `plen-blockstore`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from blockstore.settings import MiB, Settings
from plen.settings import option
from plen.wire.errors import WireError


@click.command(name="blockstore", context_settings={"help_option_names": ["-h", "--help"]})
@option("--data", "data_dir", envvar="PLEN_BLOCKSTORE_DATA", required=True,
        type=click.Path(path_type=Path, file_okay=False), help="Data directory (made if missing).")
@option("--nameserver", "nameserver_url", envvar="PLEN_NAMESERVER", required=True,
        metavar="URL[,URL...]",
        help="Base URL of the nameserver, e.g. http://127.0.0.1:7070, or of several that "
        "share one Redis (comma-separated): the agent fails over between them.")
@option("--host", envvar="PLEN_BLOCKSTORE_HOST", default="127.0.0.1", help="Address to bind.")
@option("--port", envvar="PLEN_BLOCKSTORE_PORT", default=7100, type=int,
        help="0 = any free port.")
@option("--public-url", envvar="PLEN_BLOCKSTORE_PUBLIC_URL", default=None,
        help="URL for clients.  [default: http://<host>:<bound port>]")
@option("--private-url", envvar="PLEN_BLOCKSTORE_PRIVATE_URL", default=None,
        help="URL for other blockstores.  [default: the public URL]")
@option("--zone", envvar="PLEN_BLOCKSTORE_ZONE", default="", help="Failure zone, for placement.")
@option("--capacity", "capacity_bytes", envvar="PLEN_BLOCKSTORE_CAPACITY", default=0, type=int,
        help="Most bytes to hold; 0 = no cap beyond the disk's free space.")
@option("--cluster-secret", envvar="PLEN_CLUSTER_SECRET", required=True, show_default=False,
        help="Shared by the nameserver and every blockstore.")
@option("--scrub-interval", "scrub_interval_s", envvar="PLEN_BLOCKSTORE_SCRUB_INTERVAL_S",
        default=3600.0, type=float,
        help="Seconds from the end of a scrub pass to the next; 0 = no scrubbing.")
@option("--scrub-rate", "scrub_rate_bytes_per_s",
        envvar="PLEN_BLOCKSTORE_SCRUB_RATE_BYTES_PER_S", default=32 * MiB, type=int,
        help="Bytes per second the scrubber reads, at most.")
@option("--copy-rate", "copy_rate_bytes_per_s", envvar="PLEN_BLOCKSTORE_COPY_RATE_BYTES_PER_S",
        default=128 * MiB, type=int,
        help="Bytes per second received by repair and rebalance copies, all together; "
        "0 = unlimited.")
@option("--copy-concurrency", "copy_concurrency", envvar="PLEN_BLOCKSTORE_COPY_CONCURRENCY",
        default=4, type=int, help="Nameserver commands (copies, deletes) run at once.")
@option("--block-report-interval", "block_report_interval_s",
        envvar="PLEN_BLOCKSTORE_BLOCK_REPORT_INTERVAL_S", default=600.0, type=float,
        help="Seconds between full block reports; 0 = the inventory goes only with "
        "registration.")
@option("--ready-file", envvar="PLEN_READY_FILE", default=None,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write {service, url, pid, server_id} once listening.")
@option("--log-level", envvar="PLEN_LOG_LEVEL", default="INFO")
def main(**options: object) -> None:
    """Run a blockstore: block files, the replication pipeline, the nameserver agent."""
    from blockstore.app import announce, disk_key, make_app
    from blockstore.disk import DataDirError
    from plen import service

    try:
        settings = Settings(**options).validate()  # type: ignore[arg-type]
    except WireError as err:
        raise click.UsageError(err.message)
    service.setup_logging(settings.log_level, service="blockstore")
    app = make_app(settings)

    def on_bound(url: str) -> None:
        announce(app, url)
        if settings.ready_file is not None:
            service.write_ready_file(settings.ready_file, {
                "service": "blockstore", "url": url, "pid": os.getpid(),
                "server_id": app[disk_key].server_id})

    try:
        # Our own ready file (in on_bound) carries server_id; run()'s would replace it.
        service.run(app, service="blockstore", host=settings.host, port=settings.port,
                    ready_file=None, on_bound=on_bound)
    except (DataDirError, OSError) as err:  # cannot start: one line, not a traceback
        raise click.ClickException(str(err))


if __name__ == "__main__":
    main()
