"""Client <-> nameserver: users, access keys and bucket access (JSON over HTTP, ``/v1/``).

Every request is signed (plen/auth.py). User and key management, the signing-key and
SigV2 doors (the gateway's), and setting a bucket's access are for the root user; a
bucket's owner changes its ACL and policy through the gateway, which checks ownership
first (plen/access.py Rule 2). A secret key appears in exactly one message:
``NewKeyResponse``, the answer to the request that created it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAddRequest:
    ENDPOINT: ClassVar[str] = "user-add"
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKeyResponse:
    user: str
    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"NewKeyResponse(user={self.user!r}, access_key={self.access_key!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    user: str
    id: str  # canonical id: the owner id in every listing and ACL
    access_keys: list[str]
    created: float
    root: bool = False
    buckets: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UserListRequest:
    ENDPOINT: ClassVar[str] = "user-list"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserListResponse:
    users: list[UserInfo]


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRemoveRequest:
    """Refused while the user owns buckets: their data would be left without an owner."""

    ENDPOINT: ClassVar[str] = "user-remove"
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyAddRequest:
    ENDPOINT: ClassVar[str] = "user-key-add"
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRemoveRequest:
    ENDPOINT: ClassVar[str] = "user-key-remove"
    user: str
    access_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmIRequest:
    ENDPOINT: ClassVar[str] = "whoami"


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmIResponse:
    user: str
    id: str
    root: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKeyRequest:
    """SigV4's derived key for one access key and scope, so the gateway checks signatures
    without ever holding a user's secret. Root only."""

    ENDPOINT: ClassVar[str] = "signing-key"
    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKeyResponse:
    user: str
    key: str  # hex


@dataclass(frozen=True, slots=True, kw_only=True)
class SignV2Request:
    """SigV2 signs with the secret itself, so the nameserver computes the signature.
    Root only."""

    ENDPOINT: ClassVar[str] = "sign-v2"
    access_key: str
    string_to_sign: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignV2Response:
    user: str
    signature: str  # base64 HMAC-SHA1


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketAccess:
    """Who owns a bucket and what its canned ACL and policy let others do."""

    bucket: str
    owner: str
    acl: str = "private"
    policy: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketAccessRequest:
    ENDPOINT: ClassVar[str] = "bucket-access"
    bucket: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetBucketAccessRequest:
    """Change what is given; ``delete_policy`` removes the policy."""

    ENDPOINT: ClassVar[str] = "bucket-access-set"
    bucket: str
    acl: str | None = None
    policy: str | None = None
    delete_policy: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketInfo:
    name: str
    mtime: float
    owner: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListBucketsRequest:
    """The buckets a user owns (every bucket for ``owner`` None). Root only; a user sees
    their own through ``list-dir`` of ``/``."""

    ENDPOINT: ClassVar[str] = "list-buckets"
    owner: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListBucketsResponse:
    buckets: list[BucketInfo] = field(default_factory=list)
