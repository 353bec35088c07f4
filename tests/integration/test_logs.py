"""Structured logs of a real cluster: every line is one JSON object, and the request id an S3
client gets back (x-amz-request-id) is on the gateway's, the nameserver's and the
blockstores' lines for that request. No line holds a secret, a signature or a block token.

The cluster logs at DEBUG because the nameserver's and blockstores' access lines are DEBUG.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from tests.integration.harness import Cluster

BODY = b"structured logs " * 16 * 1024  # 256 KiB: stored in blocks, not inline
# plen/tokens.py: <access>.<expires_at>.<hex HMAC-SHA256>
TOKEN = re.compile(r"\b[rw]\.\d{9,}\.[0-9a-f]{64}\b")


def service_lines(cluster: Cluster, name: str) -> list[str]:
    """What the process wrote, without the harness's start lines (whose argv holds secrets)."""
    return [line for line in cluster.log(name).splitlines()
            if not line.startswith("--- harness:")]


def events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    out = []
    for line in service_lines(cluster, name):
        event = json.loads(line)  # fails the test on any line that is not one JSON object
        assert isinstance(event, dict), line
        out.append(event)
    return out


def with_id(cluster: Cluster, name: str, request_id: str) -> list[dict[str, Any]]:
    return [e for e in events(cluster, name) if e.get("request_id") == request_id]


@pytest.mark.cluster(gateway=True, log_level="DEBUG")
def test_request_id_is_on_every_services_log_lines_and_no_secret_is_logged(
        cluster: Cluster) -> None:
    s3 = cluster.s3_client(signature_version="s3v4")  # so the presigned URL is SigV4 too
    s3.create_bucket(Bucket="logs")
    put_id = s3.put_object(Bucket="logs", Key="k", Body=BODY)["ResponseMetadata"]["RequestId"]
    got = s3.get_object(Bucket="logs", Key="k")
    assert got["Body"].read() == BODY
    get_id = got["ResponseMetadata"]["RequestId"]
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "logs", "Key": "k"})
    with urllib.request.urlopen(presigned, timeout=30) as resp:
        assert resp.read() == BODY
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", presigned)
    assert signature is not None

    # The gateway's access line for each request, under its S3 request id.
    for request_id, operation in ((put_id, "PutObject"), (get_id, "GetObject")):
        access = [e for e in with_id(cluster, Cluster.GATEWAY, request_id)
                  if e["logger"] == "gateway.access"]
        assert [(e["operation"], e["status"], e["path"]) for e in access] == \
            [(operation, 200, "/logs/k")]
        assert access[0]["service"] == "gateway" and access[0]["duration_ms"] >= 0
        # The nameserver served its calls (allocate and commit, or lookup) under the same id.
        assert with_id(cluster, Cluster.NAMESERVER, request_id), request_id
    get_line = with_id(cluster, Cluster.GATEWAY, get_id)[-1]
    assert len(BODY) <= get_line["bytes_out"] < len(BODY) + 4096  # the body, plus headers
    put_line = with_id(cluster, Cluster.GATEWAY, put_id)[-1]
    assert len(BODY) <= put_line["bytes_in"] < len(BODY) + 4096  # plus aws-chunked framing

    # The write went through the pipeline of all three blockstores (RF 3): each hop passed
    # the id on. The read was served by at least one of them.
    stores = cluster.blockstore_names
    assert all(any(e["path"].startswith("/blocks/") and e["method"] == "PUT"
                   for e in with_id(cluster, name, put_id)) for name in stores)
    assert any(any(e.get("method") == "GET" for e in with_id(cluster, name, get_id))
               for name in stores)

    secrets = {"the S3 secret key": cluster.s3_secret_key,
               "the cluster secret": cluster.cluster_secret,
               "the presigned URL's signature": signature.group(1),
               "a SigV4 credential": "X-Amz-Credential", "a SigV4 signature": "Signature="}
    for name in (Cluster.GATEWAY, *cluster.nameserver_names, *stores):
        text = "\n".join(service_lines(cluster, name))
        for what, value in secrets.items():
            assert value not in text, f"{name}'s log holds {what}"
        assert not TOKEN.search(text), f"{name}'s log holds a block token"
