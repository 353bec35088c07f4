"""S3Request: one routed, authenticated request and what its handler needs.

Rule 1: routing, authentication and authorization happen once per request, before any byte
of the body is read (so ``Expect: 100-continue`` can be refused with the real error);
handlers get the result and never look at the raw Authorization data again.
Rule 2: what a request may do is decided by plen/access.py from the bucket's rules, which
the gateway asks the nameserver for (as root) only for users other than root
(gateway/s3/authorize.py); a handler that touches a second bucket or many keys (a copy's
source, DeleteObjects) asks ``require`` for each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDictProxy

from gateway.keys import GatewayKeys
from gateway.s3.errors import S3Error, from_wire
from gateway.s3.payload import Payload
from gateway.s3.router import Endpoint, resolve
from gateway.s3.sigv4 import AuthResult, authenticate
from gateway.s3.xml import Owner
from gateway.settings import Settings
from plen.access import GET_OBJECT, Principal, allowed, owner_id
from plen.client.fs import FileSystem
from plen.wire.access import BucketAccess
from plen.wire.errors import WireError
from plen.wire.namespace import FileEntry

MAX_KEY_BYTES = 1024
ACL_META = "x-amz-acl"


def owner_of(user: str) -> Owner:
    """One stable canonical id per user, used in every listing and ACL (plen/access.py)."""
    return Owner(id=owner_id(user), display_name=user)


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
    principal: Principal
    _payload: Payload | None = field(default=None)
    _rules: dict[str, BucketAccess] = field(default_factory=dict)

    @property
    def owner(self) -> Owner:
        """The bucket's owner once its rules are known (``bucket_rules``), else the caller:
        the owner a listing or an ACL shows."""
        rules = self._rules.get(self.endpoint.bucket or "")
        return owner_of(rules.owner if rules else self.principal.user or "anonymous")

    async def bucket_owner(self) -> Owner:
        """The owner of the request's bucket (one nameserver call for root, who skips the
        rules otherwise)."""
        await self.bucket_rules()
        return self.owner

    async def bucket_rules(self, bucket: str | None = None) -> BucketAccess:
        bucket = bucket or self.bucket
        if bucket not in self._rules:
            try:
                self._rules[bucket] = await self.fs.nameserver.bucket_access(bucket)
            except WireError as err:
                raise from_wire(err, "bucket") from err
        return self._rules[bucket]

    async def may(self, action: str, bucket: str | None = None, key: str | None = None,
                  entry: FileEntry | None = None) -> bool:
        """May the caller do ``action`` on the bucket (or ``key`` in it)? ``entry``: the
        object, when the caller already has it (its ACL may let a reader in)."""
        if self.principal.root:
            return True
        bucket = bucket or self.bucket
        rules = await self.bucket_rules(bucket)
        if allowed(self.principal, action, rules, key=key):
            return True
        if action != GET_OBJECT or key is None:
            return False
        if entry is None:
            try:
                entry = (await self.fs.stat(f"/{bucket}/{key}")).file
            except WireError:
                entry = None
        acl = entry.meta.get(ACL_META) if entry is not None else None
        return acl is not None and allowed(self.principal, action, rules, key=key,
                                           object_acl=acl)

    async def require(self, action: str, bucket: str | None = None, key: str | None = None,
                      entry: FileEntry | None = None) -> None:
        """AccessDenied unless ``may``; NoSuchBucket first when the bucket is not there."""
        if await self.may(action, bucket, key, entry):
            return
        await self.require_bucket(bucket)
        raise S3Error("AccessDenied")

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


async def route_and_authenticate(request: web.Request, settings: Settings, fs: FileSystem,
                                 keys: GatewayKeys, request_id: str) -> S3Request:
    """Route, authenticate (anonymous is allowed here) and authorize one request."""
    from gateway.s3.authorize import authorize  # it needs S3Request, defined here

    raw_path, raw_query = split_target(request)
    endpoint = resolve(request.method, request.host, raw_path, request.query, request.headers,
                       domain=settings.domain or None)
    auth = await authenticate(request.method, raw_path, raw_query, request.headers, keys,
                              now=time.time(), region=settings.region,
                              host_bucket=endpoint.bucket if endpoint.style == "virtual"
                              else None)
    s3 = S3Request(request=request, endpoint=endpoint, auth=auth, fs=fs, settings=settings,
                   request_id=request_id, principal=keys.principal(auth.access_key))
    await authorize(s3)
    return s3
