"""Virtual-hosted-style addressing: with ``--domain``, ``<bucket>.<domain>`` names the bucket
and the path is the key; path-style requests keep working beside it."""

from __future__ import annotations

import http.client
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.harness import Cluster

DOMAIN = "s3.plenilune.test"
CLUSTER_OPTIONS = {"gateway": True, "gateway_args": ["--domain", DOMAIN]}


def _send(cluster: Cluster, method: str, host: str, path: str,
          body: bytes = b"") -> tuple[int, bytes]:
    """Sign for ``host`` as a client resolving it would, but connect to the gateway."""
    port = urlsplit(cluster.gateway_url).port
    request = AWSRequest(method=method, url=f"http://{host}:{port}{path}", data=body,
                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(cluster.s3_access_key, cluster.s3_secret_key), "s3",
                "us-east-1").add_auth(request)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": f"{host}:{port}", **dict(request.headers.items())}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_virtual_hosted_requests_reach_the_bucket_in_the_host(shared_cluster: Cluster) -> None:
    s3 = shared_cluster.s3_client()
    s3.create_bucket(Bucket="vhost")
    key = "dir/a b+c.txt"
    status, _ = _send(shared_cluster, "PUT", f"vhost.{DOMAIN}", "/" + quote(key), b"virtual")
    assert status == 200
    assert s3.get_object(Bucket="vhost", Key=key)["Body"].read() == b"virtual"
    status, body = _send(shared_cluster, "GET", f"vhost.{DOMAIN}", "/" + quote(key))
    assert (status, body) == (200, b"virtual")
    status, body = _send(shared_cluster, "GET", f"vhost.{DOMAIN}", "/?list-type=2")
    assert status == 200 and b"<Key>dir/a b+c.txt</Key>" in body
    status, body = _send(shared_cluster, "GET", f"nosuch.{DOMAIN}", "/?list-type=2")
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body
    # The bare domain is the service: path-style, as before.
    status, body = _send(shared_cluster, "GET", DOMAIN, "/vhost/" + quote(key))
    assert (status, body) == (200, b"virtual")
