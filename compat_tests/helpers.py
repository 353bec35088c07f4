"""Helpers for compat tests: error assertions, raw HTTP, signing, names, cleanup.

Rules:

1. An error is asserted whole: HTTP status, error Code, and the request id, which must be the
   same in the XML body's <RequestId> and in the x-amz-request-id header (botocore drops the
   body's copy, so ``keep_error_bodies`` saves the raw <Error> fields as ``CompatError``).
2. Raw requests go through ``http.client`` so that nothing re-encodes or normalises the path;
   a signed raw request is signed by botocore's own SigV4 signer.
3. No helper sleeps or loops without a bound.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import re
import ssl
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from compat_tests.targets import Target

MiB = 1024 * 1024
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
HTTP_TIMEOUT_S = 30.0
# The user property a test's reports carry for each documented Plenilune difference it met
# (set by the ``plenilune_differs`` fixture, read by compat_tests/report.py).
DIFFERS_PROPERTY = "plenilune_differs"


# --------------------------------------------------------------------------------------------
# Digests


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def quoted(etag: str) -> str:
    return f'"{etag}"'


def multipart_etag(parts: Iterable[bytes]) -> str:
    """S3's ETag of a completed multipart upload: md5 of the parts' binary md5s, then -N."""
    digests = [hashlib.md5(p).digest() for p in parts]
    return quoted(f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}")


# --------------------------------------------------------------------------------------------
# Names


def unique_name(prefix: str = "compat") -> str:
    """A valid, unused bucket name (3-63 lowercase letters, digits and hyphens)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:40] or "compat"
    return f"{stem}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------------
# Errors through boto3


def keep_error_bodies(client: Any, *, require_request_id_header: bool) -> None:
    """Make ``client`` keep each error's raw <Error> fields in the parsed response."""

    def handler(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                **_: Any) -> None:
        if response_dict["status_code"] < 300:
            return
        fields: dict[str, str] = {}
        body = response_dict.get("body") or b""
        if body:
            try:
                root = ElementTree.fromstring(body)
            except ElementTree.ParseError:
                fields = {"<unparseable>": body[:200].decode(errors="replace")}
            else:
                if root.tag == "Error":
                    fields = {child.tag: child.text or "" for child in root}
        customized_response_dict["CompatError"] = {
            "fields": fields,
            "x-amz-request-id": response_dict["headers"].get("x-amz-request-id"),
            "require_request_id_header": require_request_id_header,
        }

    client.meta.events.register("before-parse.s3.*", handler)


def client(target: Target, **kwargs: Any) -> Any:
    """``target.client(**kwargs)`` that keeps error bodies for ``expect_error``."""
    made = target.client(**kwargs)
    keep_error_bodies(made, require_request_id_header=not target.is_reference)
    return made


def check_request_id(response: Mapping[str, Any]) -> None:
    """The body's RequestId (if any) is botocore's RequestId and the x-amz-request-id header."""
    compat = response.get("CompatError")
    assert compat is not None, "client lacks keep_error_bodies()"
    fields = compat["fields"]
    header_id = compat["x-amz-request-id"]
    if compat["require_request_id_header"]:
        assert header_id, f"no x-amz-request-id header: {response}"
    if fields:
        assert fields.get("RequestId"), f"error body without RequestId: {fields}"
        assert fields["RequestId"] == response["ResponseMetadata"]["RequestId"], response
        if header_id is not None:
            assert fields["RequestId"] == header_id, response


def expect_error(status: int, code: str, call: Callable[..., Any], /,
                 **kwargs: Any) -> dict[str, Any]:
    """Call ``call(**kwargs)``, expect a ClientError with exactly this status and Code;
    return the parsed error response (``Error`` holds the extra XML fields, e.g. ``Key``)."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    got = (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"])
    assert got == (status, code), f"expected {(status, code)}, got {got}: {response}"
    check_request_id(response)
    fields = response["CompatError"]["fields"]
    if fields:
        assert fields["Code"] == code, fields
    return response


# --------------------------------------------------------------------------------------------
# Raw HTTP


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lowercased names
    body: bytes

    @property
    def error(self) -> dict[str, str]:
        root = ElementTree.fromstring(self.body)
        assert root.tag == "Error", self.body
        return {child.tag: child.text or "" for child in root}


def key_path(bucket: str, key: str | None = None) -> str:
    """The path-style request path, encoded the way botocore encodes it."""
    path = "/" + quote(bucket, safe="")
    if key is not None:
        path += "/" + quote(key, safe="/~")
    return path


def raw_request(target: Target, method: str, path: str, *, query: str = "",
                headers: Mapping[str, str] | None = None, body: bytes = b"") -> RawResponse:
    """One HTTP request, exactly as given (``path`` and ``query`` already encoded)."""
    parts = urlsplit(target.endpoint_url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=target.ca_bundle)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context,
                                           timeout=HTTP_TIMEOUT_S)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request(method, path + (f"?{query}" if query else ""), body=body or None,
                     headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def signed_request(target: Target, method: str, path: str, *, query: str = "",
                   headers: Mapping[str, str] | None = None, body: bytes = b"",
                   access_key: str | None = None, secret_key: str | None = None,
                   trailer: bool = False) -> RawResponse:
    """A raw request signed with SigV4 by botocore: the payload hash signed, as over http,
    or with ``trailer`` the body unsigned and framed by the caller as aws-chunked with
    trailing checksums (STREAMING-UNSIGNED-PAYLOAD-TRAILER), as botocore sends over https."""
    url = target.endpoint_url + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if trailer:
        request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
    credentials = Credentials(access_key or target.access_key, secret_key or target.secret_key)
    S3SigV4Auth(credentials, "s3", target.region).add_auth(request)
    return raw_request(target, method, path, query=query, body=body,
                       headers={k: v for k, v in request.headers.items()})


def expect_raw_error(response: RawResponse, status: int, code: str) -> dict[str, str]:
    assert response.status == status, (response.status, response.body[:500])
    fields = response.error
    assert fields.get("Code") == code, fields
    assert fields.get("RequestId"), fields
    assert fields["RequestId"] == response.headers.get("x-amz-request-id"), (
        fields, response.headers)
    return fields


# --------------------------------------------------------------------------------------------
# Bulk work and cleanup


def put_many(client: Any, bucket: str, keys: Iterable[str], body: bytes = b"x",
             workers: int = 16) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=body), keys):
            pass


# Characters XML 1.0 cannot carry at all, escaped or not: a key holding one cannot travel in a
# DeleteObjects body, so cleanup deletes such keys one by one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@contextlib.contextmanager
def fresh_bucket(client: Any, prefix: str) -> Iterator[str]:
    """A new, uniquely named bucket made with ``client``; emptied and deleted afterwards."""
    name = unique_name(prefix)
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        empty_and_delete_bucket(client, name)


def empty_and_delete_bucket(client: Any, bucket: str) -> None:
    """Abort uploads, delete every object, delete the bucket; a missing bucket is fine."""
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                              UploadId=upload["UploadId"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [o["Key"] for o in page.get("Contents", [])]
            for key in [k for k in keys if _NOT_XML.search(k)]:
                client.delete_object(Bucket=bucket, Key=key)
            objects = [{"Key": k} for k in keys if not _NOT_XML.search(k)]
            if objects:
                result = client.delete_objects(Bucket=bucket,
                                               Delete={"Objects": objects, "Quiet": True})
                assert not result.get("Errors"), result["Errors"]
        client.delete_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchBucket":
            raise
