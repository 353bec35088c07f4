"""pytest plugin: a real Plenilune cluster for any project's tests.

Installed with plenilune and loaded by pytest through the ``pytest11`` entry point (or
``-p plen.pytest_plugin`` where plugin autoloading is off). It gives two fixtures:

- ``plenilune`` (session): embedded Redis, a nameserver, three blockstores and the S3
  gateway, started by ``plen up``'s own machinery (``plen.cli.up.start_local_cluster``) on
  free loopback ports in a temporary directory; yields a ``Plenilune`` with the endpoint,
  credentials, region and a ready boto3 client.
- ``plenilune_bucket`` (function): a fresh, empty bucket's name; emptied and deleted after.

Rule 1: loading the plugin starts nothing. Only a test that asks for a fixture starts the
cluster, once per session, and its imports (``plen.cli.up``, boto3) happen then too, so
projects that merely have plenilune installed pay nothing.
Rule 2: the session's end stops exactly the processes started here, by PID (SIGTERM, a
grace period, then SIGKILL), in ``plen up``'s order; the gateway takes its workers with it.
Rule 3: boto3 is the tests' dependency, not plenilune's: a missing boto3 fails the test that
asked for the fixture with one line saying so, before anything starts.
Rule 4: the fixture names carry the ``plenilune`` prefix, because this plugin is loaded into
every pytest session where plenilune is installed and must not shadow a project's own
``bucket`` or ``s3`` fixtures.

The data and the services' logs stay in pytest's temporary directory
(``plenilune.data_dir / "logs"``), kept for the last few runs as pytest keeps them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
BLOCKSTORES = 3
STARTUP_TIMEOUT_S = 90.0


@dataclass
class Plenilune:
    """A running cluster as a test sees it: where S3 is and how to sign for it."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    nameserver_url: str
    data_dir: Path
    pids: dict[str, int]
    client: Any = field(repr=False)  # a boto3 S3 client, path-style, ready to use

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", **...)`` and the like."""
        return {"endpoint_url": self.endpoint_url, "region_name": self.region,
                "aws_access_key_id": self.access_key,
                "aws_secret_access_key": self.secret_key}

    def plen_env(self) -> dict[str, str]:
        """Environment variables for the ``plen`` command to work on this cluster as root
        (``subprocess.run(["plen", ...], env={**os.environ, **plenilune.plen_env()})``)."""
        return {"PLEN_NAMESERVER": self.nameserver_url, "PLEN_ACCESS_KEY": self.access_key,
                "PLEN_SECRET_KEY": self.secret_key}

    def s3_client(self, **config: Any) -> Any:
        """Another boto3 S3 client; ``config`` goes to ``botocore.config.Config``."""
        boto3, config_class = _boto3()
        config.setdefault("s3", {"addressing_style": "path"})
        return boto3.client("s3", config=config_class(**config), **self.client_kwargs())

    def create_bucket(self, prefix: str = "pytest") -> str:
        """A new bucket with a unique name starting with ``prefix``; its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def remove_bucket(self, name: str) -> None:
        """Abort its multipart uploads, delete every object, then the bucket; a bucket
        that is already gone is fine (the test may have deleted it)."""
        from botocore.exceptions import ClientError

        try:
            self._empty_and_delete(name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise

    def _empty_and_delete(self, name: str) -> None:
        s3 = self.client
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=name, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [o["Key"] for o in page.get("Contents", [])]
            batch = [{"Key": k} for k in keys if _xml_safe(k)]
            if batch:  # a page holds at most 1,000 keys, DeleteObjects' limit
                s3.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
            for key in keys:
                if not _xml_safe(key):
                    s3.delete_object(Bucket=name, Key=key)
        s3.delete_bucket(Bucket=name)


def _xml_safe(key: str) -> bool:
    """Whether ``key`` survives DeleteObjects' XML body. XML 1.0 cannot carry most control
    characters, and a parser turns a carriage return into a line feed, so such keys (legal
    in S3) must go one DeleteObject at a time."""
    return all(ch in "\t\n" or "\x20" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
               or ch >= "\U00010000" for ch in key)


def _boto3() -> tuple[Any, Any]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        pytest.fail("the plenilune fixture needs boto3, which plenilune does not install: "
                    "pip install boto3", pytrace=False)
    return boto3, Config


@pytest.fixture(scope="session")
def plenilune(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plenilune]:
    """A real Plenilune cluster for the whole session: embedded Redis, a nameserver, three
    blockstores and the S3 gateway on loopback, with root credentials made for it."""
    _boto3()  # fail before starting anything
    from plen.cli.up import UpError, log_tail, start_local_cluster

    data = tmp_path_factory.mktemp("plenilune")
    # One gateway worker: a test cluster serves one client, and workers cost memory and CPU.
    try:
        cluster = start_local_cluster(data, blockstores=BLOCKSTORES, timeout_s=STARTUP_TIMEOUT_S,
                                      extra_env={"PLEN_GATEWAY_WORKERS": "1",
                                                 "PLEN_REGION": REGION})
    except UpError as exc:
        tail = "\n".join(log_tail(exc.log)) if exc.log is not None else ""
        pytest.fail(f"plenilune did not start: {exc}\n{tail}".rstrip(), pytrace=False)
    try:
        assert cluster.gateway_url and cluster.access_key and cluster.secret_key
        handle = Plenilune(endpoint_url=cluster.gateway_url, access_key=cluster.access_key,
                           secret_key=cluster.secret_key, region=REGION,
                           nameserver_url=cluster.nameserver_url, data_dir=cluster.data,
                           pids=cluster.pids, client=None)
        handle.client = handle.s3_client()
        yield handle
    finally:
        cluster.stop()


@pytest.fixture
def plenilune_bucket(plenilune: Plenilune) -> Iterator[str]:
    """The name of a new, empty bucket on the session's cluster; emptied and deleted after
    the test."""
    name = plenilune.create_bucket()
    yield name
    plenilune.remove_bucket(name)
