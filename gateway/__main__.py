"""python -m gateway (also `plen gateway`, `plen-gateway`)."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.settings import Settings
from plen.settings import option
from plen.wire.errors import WireError


@click.command(name="gateway", context_settings={"help_option_names": ["-h", "--help"]})
@option("--host", envvar="PLEN_GATEWAY_HOST", default="127.0.0.1", help="Address to bind.")
@option("--port", envvar="PLEN_GATEWAY_PORT", default=9000, type=int, help="0 = any free port.")
@option("--nameserver", "nameserver_url", envvar="PLEN_NAMESERVER", required=True,
        help="http://host:port of the nameserver.")
@option("--root-user", envvar="PLEN_ROOT_USER", required=True, show_default=False,
        help="Access key of the root user.")
@option("--root-password", envvar="PLEN_ROOT_PASSWORD", required=True, show_default=False,
        help="Secret key of the root user.")
@option("--region", envvar="PLEN_REGION", default="us-east-1",
        help="The region clients sign for.")
@option("--domain", envvar="PLEN_GATEWAY_DOMAIN", default="",
        help="Serve virtual-hosted-style requests for <bucket>.<domain>.")
@option("--tls-cert", envvar="PLEN_GATEWAY_TLS_CERT", default=None,
        type=click.Path(path_type=Path), help="Serve HTTPS: PEM certificate chain.")
@option("--tls-key", envvar="PLEN_GATEWAY_TLS_KEY", default=None,
        type=click.Path(path_type=Path), help="The PEM private key of --tls-cert.")
@option("--workers", envvar="PLEN_GATEWAY_WORKERS", default=0, type=click.IntRange(min=0),
        help="Worker processes sharing the port; 0 = one per core, at most 8.")
@option("--header-timeout", "header_timeout_s", envvar="PLEN_GATEWAY_HEADER_TIMEOUT",
        default=20.0, type=float, help="Seconds a request's headers may take to arrive.")
@option("--body-timeout", "body_timeout_s", envvar="PLEN_GATEWAY_BODY_TIMEOUT", default=20.0,
        type=float, help="Seconds a request body may send nothing (then RequestTimeout), "
             "and a client may read nothing of a response (then it is cut off).")
@option("--idle-timeout", "idle_timeout_s", envvar="PLEN_GATEWAY_IDLE_TIMEOUT", default=60.0,
        type=float, help="Seconds an idle keep-alive connection stays open.")
@option("--ready-file", envvar="PLEN_READY_FILE", type=click.Path(path_type=Path), default=None)
@option("--log-level", envvar="PLEN_LOG_LEVEL", default="INFO")
def main(host: str, port: int, nameserver_url: str, root_user: str, root_password: str,
         region: str, domain: str, tls_cert: Path | None, tls_key: Path | None,
         workers: int, header_timeout_s: float, body_timeout_s: float, idle_timeout_s: float,
         ready_file: Path | None, log_level: str) -> None:
    """Run the S3 gateway: the S3 REST API over the Plenilune namespace."""
    from gateway.app import make_app
    from gateway.protocol import runner_factory
    from gateway.tls import TLSConfigError, server_context
    from plen import prefork, service

    try:
        settings = Settings(host=host, port=port, nameserver_url=nameserver_url,
                            root_user=root_user, root_password=root_password, region=region,
                            domain=domain.strip(".").lower(), ready_file=ready_file,
                            header_timeout_s=header_timeout_s, body_timeout_s=body_timeout_s,
                            idle_timeout_s=idle_timeout_s, log_level=log_level).validate()
    except WireError as err:
        raise click.UsageError(err.message)
    ssl_context = None
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert is not None and tls_key is not None:
        try:
            ssl_context = server_context(tls_cert, tls_key)
        except TLSConfigError as err:
            raise click.UsageError(str(err))
    service.setup_logging(log_level, service="gateway")
    workers = workers or prefork.default_count()
    if workers == 1:
        service.run(make_app(settings), service="gateway", host=host, port=port,
                    ready_file=ready_file, ssl_context=ssl_context,
                    runner=runner_factory(settings))
        return
    from gateway.metrics import shared_across_workers

    with shared_across_workers() as metrics_dir:  # one /metrics for all workers
        service.run(make_app(settings, metrics_dir=metrics_dir), service="gateway", host=host,
                    port=port, ready_file=ready_file, ssl_context=ssl_context, workers=workers,
                    runner=runner_factory(settings))


if __name__ == "__main__":
    main()
