"""Users, access keys and bucket access records: who a caller is, and what a bucket allows.

Rule 1: the root user is configured (``--root-user``/``--root-password``, the same pair the
gateway has), never stored; every other user and key lives in Redis (store/keys.py).
Rule 2: a secret leaves the nameserver once, in the answer that created it. The gateway
checks SigV4 with a derived, day-scoped signing key and has SigV2 signatures computed here.
Rule 3: an access key's (user, secret) is cached for ``KEY_CACHE_S``: a removed key or user
stops working within that time on every nameserver.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping

from nameserver.namespace import MAX_PAGE, Namespace
from nameserver.settings import Settings
from nameserver.store.redis_store import RedisStore
from plen import auth
from plen.access import (
    USER_NAME,
    PolicyError,
    Principal,
    canned_acl,
    owner_id,
    parse_policy,
)
from plen.wire.access import (
    BucketAccess,
    BucketInfo,
    KeyAddRequest,
    KeyRemoveRequest,
    NewKeyResponse,
    SetBucketAccessRequest,
    SigningKeyRequest,
    SigningKeyResponse,
    SignV2Request,
    SignV2Response,
    UserInfo,
    UserListResponse,
    WhoAmIResponse,
)
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import DirEntry, ListDirRequest, sort_name

KEY_CACHE_S = 2.0
MAX_KEYS_PER_USER = 2  # as IAM: one in use and one being rotated in
_KEY_ALPHABET = string.ascii_uppercase + string.digits


def new_access_key() -> str:
    return "PL" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))


def new_secret() -> str:
    return secrets.token_urlsafe(30)  # 40 characters


class Access:
    def __init__(self, store: RedisStore, settings: Settings, namespace: Namespace, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.namespace = namespace
        self.root_user = settings.root_user
        self._root_secret = settings.root_password
        self.clock = clock
        self._keys: dict[str, tuple[float, tuple[str, str] | None]] = {}

    # -- who is calling -------------------------------------------------------------------

    def principal_of(self, user: str) -> Principal:
        return Principal(user, root=user == self.root_user)

    async def _key(self, access_key: str) -> tuple[str, str] | None:
        """(user, secret) of an access key, or None."""
        if access_key == self.root_user:
            return self.root_user, self._root_secret
        now = self.clock()
        cached = self._keys.get(access_key)
        if cached is not None and now - cached[0] < KEY_CACHE_S:
            return cached[1]
        found = await self.store.key_owner(access_key)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[access_key] = (now, found)
        return found

    async def authenticate(self, method: str, path: str, headers: Mapping[str, str],
                           body: bytes) -> Principal:
        try:
            access_key = auth.claimed_key(headers)
            found = await self._key(access_key)
            if found is None:
                raise auth.AuthError(f"unknown access key {access_key[:64]!r}")
            auth.verify(found[1], method, path, headers, body, now=self.clock())
        except auth.AuthError as exc:
            raise WireError(ErrorCode.UNAUTHORIZED, str(exc)) from None
        return self.principal_of(found[0])

    def whoami(self, principal: Principal) -> WhoAmIResponse:
        assert principal.user is not None
        return WhoAmIResponse(user=principal.user, id=owner_id(principal.user),
                              root=principal.root)

    # -- users and keys (root only: nameserver/authz.py) ------------------------------------

    def _check_name(self, user: str) -> None:
        if not USER_NAME.fullmatch(user):
            raise WireError(ErrorCode.INVALID, f"invalid user name {user[:80]!r}: 1-64 of "
                            "letters, digits and + = , . @ _ -")
        if user == self.root_user:
            raise WireError(ErrorCode.ALREADY_EXISTS, f"{user} is the root user")

    async def add_user(self, user: str) -> NewKeyResponse:
        self._check_name(user)
        access_key, secret = new_access_key(), new_secret()
        await self.store.add_user(user, access_key, secret, self.clock())
        return NewKeyResponse(user=user, access_key=access_key, secret_key=secret)

    async def add_key(self, req: KeyAddRequest) -> NewKeyResponse:
        self._check_name(req.user)
        access_key, secret = new_access_key(), new_secret()
        await self.store.add_key(req.user, access_key, secret, self.clock(), MAX_KEYS_PER_USER)
        return NewKeyResponse(user=req.user, access_key=access_key, secret_key=secret)

    async def remove_key(self, req: KeyRemoveRequest) -> None:
        await self.store.remove_key(req.user, req.access_key)
        self._keys.pop(req.access_key, None)

    async def remove_user(self, user: str) -> None:
        if user == self.root_user:
            raise WireError(ErrorCode.INVALID, "the root user cannot be removed")
        if not await self.store.user_exists(user):
            raise WireError(ErrorCode.NOT_FOUND, f"no such user: {user}")
        owned = [b.name for b in await self.buckets(owner=user)]
        if owned:
            shown = ", ".join(owned[:5]) + (" ..." if len(owned) > 5 else "")
            raise WireError(ErrorCode.CONFLICT, f"user {user} owns {len(owned)} bucket(s) "
                            f"({shown}): remove them first")
        await self.store.remove_user(user)
        self._keys.clear()

    async def list_users(self, req: object = None) -> UserListResponse:
        counts: dict[str, int] = {}
        for bucket in await self.buckets():
            counts[bucket.owner] = counts.get(bucket.owner, 0) + 1
        users = [UserInfo(user=self.root_user, id=owner_id(self.root_user),
                          access_keys=[self.root_user], created=0.0, root=True,
                          buckets=counts.get(self.root_user, 0))]
        users += [UserInfo(user=name, id=owner_id(name), access_keys=keys, created=created,
                           buckets=counts.get(name, 0))
                  for name, created, keys in await self.store.users()]
        return UserListResponse(users=users)

    async def signing_key(self, req: SigningKeyRequest) -> SigningKeyResponse:
        found = await self._key(req.access_key)
        if found is None:
            raise WireError(ErrorCode.NOT_FOUND, "unknown access key")
        key = auth.sigv4_signing_key(found[1], req.date, req.region, req.service)
        return SigningKeyResponse(user=found[0], key=key.hex())

    async def sign_v2(self, req: SignV2Request) -> SignV2Response:
        found = await self._key(req.access_key)
        if found is None:
            raise WireError(ErrorCode.NOT_FOUND, "unknown access key")
        return SignV2Response(user=found[0],
                              signature=auth.sigv2_signature(found[1], req.string_to_sign))

    # -- buckets ----------------------------------------------------------------------------

    async def bucket_access(self, bucket: str) -> BucketAccess:
        record = await self.store.bucket_access(bucket)
        return BucketAccess(bucket=bucket, owner=record.get("owner") or self.root_user,
                            acl=record.get("acl") or "private", policy=record.get("policy"))

    async def claim(self, bucket: str, owner: str, acl: str | None) -> None:
        stored = canned_acl(acl or "private")
        if stored is None:
            raise WireError(ErrorCode.INVALID, f"unknown canned ACL {acl!r}")
        await self.store.claim_bucket(bucket, owner, stored)

    async def set_bucket_access(self, req: SetBucketAccessRequest) -> BucketAccess:
        fields: dict[str, str] = {}
        if req.acl is not None:
            stored = canned_acl(req.acl)
            if stored is None:
                raise WireError(ErrorCode.INVALID, f"unknown canned ACL {req.acl!r}")
            fields["acl"] = stored
        if req.policy is not None:
            try:
                parse_policy(req.policy, req.bucket)
            except PolicyError as exc:
                raise WireError(ErrorCode.INVALID, str(exc), policy=True) from None
            fields["policy"] = req.policy
        fields.setdefault("owner", (await self.bucket_access(req.bucket)).owner)  # a bucket made before owners: root's
        await self.store.set_bucket_access(req.bucket, fields,
                                           ["policy"] if req.delete_policy else [])
        return await self.bucket_access(req.bucket)

    async def buckets(self, owner: str | None = None, *,
                      entries: list[tuple[str, float]] | None = None) -> list[BucketInfo]:
        """Top-level directories with their owners (only ``owner``'s when given)."""
        if entries is None:
            entries = await self._top_dirs()
        owners = await self.store.bucket_owners([name for name, _ in entries])
        found = [BucketInfo(name=name, mtime=mtime, owner=o or self.root_user)
                 for (name, mtime), o in zip(entries, owners)]
        return [b for b in found if owner is None or b.owner == owner]

    async def _top_dirs(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        after: str | None = None
        while True:
            page = await self.namespace.list_dir(ListDirRequest(path="/", start_after=after,
                                                                limit=MAX_PAGE))
            out += [(e.name, e.mtime) for e in page.entries if isinstance(e, DirEntry)]
            if not page.truncated or not page.entries:
                return out
            after = sort_name(page.entries[-1])
