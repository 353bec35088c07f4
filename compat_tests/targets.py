"""The servers the compat suite runs against: a moto server (the reference) and Plenilune.

Rules:

1. Both are real processes on loopback, started once per session and stopped at its end.
   Moto runs as ``python -m moto.server`` under the harness's ``ManagedProcess`` (port
   collisions retried, log kept, nothing orphaned); Plenilune is ``Cluster(gateway=True)``.
2. Every wait is bounded; a target that does not come up fails the session loudly (its log
   tail in the error), it is never skipped.
3. Clients are built only here, at boto3's default settings except path-style addressing,
   region us-east-1 and the target's credentials.
4. Moto checks no signatures unless its IAM authentication is on, and with it on it cannot
   serve presigned URLs (500). So moto's credentials are a real IAM user with an allow-all
   policy, and ``Target.auth_enforced()`` turns moto's checking on for one block only.
   Plenilune always checks.
5. Each target also comes over HTTPS (``tls=True``): a second server of the same kind with a
   certificate from a local authority (``gateway.tls.local_certificate``, what
   `plen up --tls` makes); its clients verify against ``Target.ca_bundle``.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

MOTO = "moto"
PLENILUNE = "plenilune"
ALL_TARGETS = (MOTO, PLENILUNE)
REGION = "us-east-1"
STARTUP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 10.0

_ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@dataclass(frozen=True)
class Target:
    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = REGION
    ca_bundle: Path | None = None  # the authority to trust, when served over HTTPS
    # Switches server-side signature checking on (True) or back off (False); None when the
    # target always checks.
    set_auth_checking: Callable[[bool], None] | None = field(default=None, repr=False)

    @property
    def is_reference(self) -> bool:
        return self.name == MOTO

    def client(self, service: str = "s3", *, access_key: str | None = None,
               secret_key: str | None = None, **config: Any) -> Any:
        s3_config = {"addressing_style": "path"} if service == "s3" else None
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            verify=str(self.ca_bundle) if self.ca_bundle else None,
            config=Config(s3=s3_config, **config))

    @contextlib.contextmanager
    def auth_enforced(self) -> Iterator[None]:
        if self.set_auth_checking is None:
            yield
            return
        self.set_auth_checking(True)
        try:
            yield
        finally:
            self.set_auth_checking(False)


# --------------------------------------------------------------------------------------------
# moto


def _local_certificate(tmp: Path) -> Any:
    from gateway.tls import local_certificate

    return local_certificate(tmp / "tls", ["127.0.0.1", "localhost"])


def _http(method: str, url: str, body: bytes | None = None, ca: Path | None = None) -> int:
    # text/plain: under urllib's default form type, moto's Flask would swallow the body.
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "text/plain"})
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S, context=context) as resp:
        resp.read()
        return resp.status


@contextlib.contextmanager
def moto_target(tmp: Path, tls: bool = False) -> Iterator[Target]:
    from tests.integration.harness import ManagedProcess, child_env, free_port, start_process

    proc: ManagedProcess
    tls_args: list[str] = []
    ca = None
    if tls:
        made = _local_certificate(tmp)
        tls_args, ca = ["--ssl-cert", str(made.cert), "--ssl-key", str(made.key)], made.ca
    scheme = "https" if tls else "http"

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port),
                *tls_args]

    def probe() -> bool:  # ListBuckets answers once the server serves S3
        return _http("GET", f"{scheme}://127.0.0.1:{proc.port}/", ca=ca) == 200

    proc = ManagedProcess(MOTO, command=command, cwd=tmp, log_path=tmp / "moto.log",
                          env=child_env(), probe=probe, port=free_port("127.0.0.1"))
    try:
        start_process(proc, timeout=STARTUP_TIMEOUT_S, retry_port=lambda: free_port("127.0.0.1"))
        url = f"{scheme}://127.0.0.1:{proc.port}"

        def set_auth_checking(on: bool) -> None:
            # moto's switch: the number of requests it lets through unauthenticated.
            status = _http("POST", f"{url}/moto-api/reset-auth", b"0" if on else b"inf", ca)
            assert status == 200, f"moto reset-auth answered {status}"

        # Made while moto checks nothing, so no credentials are needed yet.
        iam = Target(MOTO, url, "bootstrap", "bootstrap", ca_bundle=ca).client("iam")
        iam.create_user(UserName="compat")
        iam.put_user_policy(UserName="compat", PolicyName="all", PolicyDocument=_ALLOW_ALL)
        key = iam.create_access_key(UserName="compat")["AccessKey"]
        yield Target(MOTO, url, key["AccessKeyId"], key["SecretAccessKey"], ca_bundle=ca,
                     set_auth_checking=set_auth_checking)
    finally:
        proc.terminate()


# --------------------------------------------------------------------------------------------
# Plenilune


@contextlib.contextmanager
def plenilune_target(tmp: Path, tls: bool = False) -> Iterator[Target]:
    from tests.integration.harness import Cluster

    cluster = Cluster(tmp, gateway=True, tls=tls)
    try:
        cluster.start()
        yield Target(PLENILUNE, cluster.gateway_url, cluster.s3_access_key,
                     cluster.s3_secret_key, ca_bundle=cluster.tls_ca)
    finally:
        cluster.stop()


STARTERS: dict[str, Callable[..., contextlib.AbstractContextManager[Target]]] = {
    MOTO: moto_target,
    PLENILUNE: plenilune_target,
}
