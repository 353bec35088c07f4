"""S3Request: one routed, authenticated request and what its handler needs.

Rule: routing and authentication happen once per request, before any byte of the body is
read (so ``Expect: 100-continue`` can be refused with the real error); handlers get the
result and never look at the raw Authorization data again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDictProxy

from gateway.s3.errors import S3Error, from_wire
from gateway.s3.payload import Payload
from gateway.s3.router import Endpoint, resolve
from gateway.s3.sigv4 import AuthResult, authenticate
from gateway.s3.xml import Owner
from gateway.settings import Settings
from plen.client.fs import FileSystem
from plen.wire.errors import WireError

MAX_KEY_BYTES = 1024


def owner_of(access_key: str) -> Owner:
    """One stable canonical id per user, used in every listing and ACL."""
    return Owner(id=hashlib.sha256(access_key.encode()).hexdigest(), display_name=access_key)


def split_target(request: web.Request) -> tuple[str, str]:
    """(raw path, raw query) exactly as on the request line: nothing decoded or normalised."""
    path, _, query = request.message.path.partition("?")
    return path, query


@dataclass(slots=True)
class S3Request:
    request: web.Request
    endpoint: Endpoint
    auth: AuthResult
    fs: FileSystem
    settings: Settings
    request_id: str
    owner: Owner
    _payload: Payload | None = field(default=None)

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.request.headers

    @property
    def query(self) -> MultiDictProxy[str]:
        return self.request.query

    @property
    def bucket(self) -> str:
        assert self.endpoint.bucket is not None
        return self.endpoint.bucket

    @property
    def key(self) -> str:
        assert self.endpoint.key is not None
        return self.endpoint.key

    @property
    def bucket_path(self) -> str:
        return f"/{self.bucket}"

    @property
    def object_path(self) -> str:
        return f"/{self.bucket}/{self.key}"

    def check_key(self) -> None:
        if len(self.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise S3Error("KeyTooLongError")

    def payload(self, *, max_bytes: int | None = None) -> Payload:
        if self._payload is None:
            self._payload = Payload(self.request, self.auth, max_bytes=max_bytes)
        return self._payload

    async def read_xml(self) -> bytes:
        return await self.payload().read_all(self.settings.max_xml_bytes)

    async def require_bucket(self, bucket: str | None = None) -> None:
        """NoSuchBucket unless the bucket (by default the request's) exists."""
        bucket = bucket or self.bucket
        try:
            st = await self.fs.stat(f"/{bucket}/")
        except WireError as err:
            raise from_wire(err, "bucket") from err
        if st.dir is None:
            raise S3Error("NoSuchBucket", BucketName=bucket)

    def response_headers(self) -> dict[str, str]:
        return {"x-amz-request-id": self.request_id, "x-amz-id-2": self.request_id}


def route_and_authenticate(request: web.Request, settings: Settings, fs: FileSystem,
                           request_id: str) -> S3Request:
    raw_path, raw_query = split_target(request)
    endpoint = resolve(request.method, request.host, raw_path, request.query, request.headers,
                       domain=settings.domain or None)
    secrets_by_key = {settings.root_user: settings.root_password}
    auth = authenticate(request.method, raw_path, raw_query, request.headers,
                        secrets_by_key.get, now=time.time(), region=settings.region,
                        host_bucket=endpoint.bucket if endpoint.style == "virtual" else None)
    if auth.access_key is None:
        raise S3Error("AccessDenied")
    return S3Request(request=request, endpoint=endpoint, auth=auth, fs=fs, settings=settings,
                     request_id=request_id, owner=owner_of(auth.access_key))
