"""Request line -> S3 operation. Pure: no aiohttp, no I/O.

Rule 1: resolution is exhaustive and table-driven, never order-of-registration dependent.
A request is at one of three levels (service, bucket, object); at the bucket and object levels
the first subresource of the level's table present in the query decides, and each subresource
lists the methods AWS defines for it. A method AWS does not define there is MethodNotAllowed
(405); one AWS defines but we do not serve is NotImplemented (501). Query parameters that are
not subresources (presign fields, list parameters, response-* overrides) never route.

Rule 2: keys are percent-decoded with ``urllib.parse.unquote`` (not ``unquote_plus``: a '+' in a
path is a literal '+') and never normalised: "a//b", "../x" and a trailing '/' stay as sent.
An empty key is no key (the request is at the bucket level).

Rule 3: routing refuses only bucket names that no S3 bucket could have (``_ROUTABLE``:
the legacy us-east-1 alphabet, 1-255 characters), with InvalidBucketName. The full naming
rules apply to new buckets only, through ``valid_bucket_name`` which CreateBucket calls.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote

from gateway.s3.errors import S3Error


@dataclass(frozen=True, slots=True)
class Endpoint:
    operation: str        # AWS PascalCase name: "ListObjectsV2", "PutObject", ...
    bucket: str | None
    key: str | None       # decoded, never normalised; "" is not a key (None instead)
    style: str            # "path" | "virtual"


# None = AWS defines the operation but Plenilune does not serve it (501 NotImplemented).
_Methods = Mapping[str, str | None]


def _table(rows: dict[str, dict[str, str | None]]) -> Mapping[str, _Methods]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in rows.items()})


_BUCKET_SUBRESOURCES: Final = _table({
    "delete": {"POST": "DeleteObjects"},
    "uploads": {"GET": "ListMultipartUploads"},
    "versions": {"GET": "ListObjectVersions"},
    "location": {"GET": "GetBucketLocation"},
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "tagging": {"GET": "GetBucketTagging", "PUT": "PutBucketTagging",
                "DELETE": "DeleteBucketTagging"},
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "cors": {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
    "lifecycle": {"GET": "GetBucketLifecycleConfiguration",
                  "PUT": "PutBucketLifecycleConfiguration", "DELETE": "DeleteBucketLifecycle"},
    "encryption": {"GET": "GetBucketEncryption", "PUT": "PutBucketEncryption",
                   "DELETE": "DeleteBucketEncryption"},
    "requestPayment": {"GET": "GetBucketRequestPayment", "PUT": None},
    "website": {"GET": "GetBucketWebsite", "PUT": None, "DELETE": None},
    "logging": {"GET": "GetBucketLogging", "PUT": None},
    "notification": {"GET": "GetBucketNotificationConfiguration", "PUT": None},
    "object-lock": {"GET": "GetObjectLockConfiguration", "PUT": None},
    "policyStatus": {"GET": "GetBucketPolicyStatus"},
    "ownershipControls": {"GET": "GetBucketOwnershipControls", "PUT": None, "DELETE": None},
    "publicAccessBlock": {"GET": "GetPublicAccessBlock", "PUT": None, "DELETE": None},
    "accelerate": {"GET": "GetBucketAccelerateConfiguration", "PUT": None},
    "replication": {"GET": None, "PUT": None, "DELETE": None},
    "analytics": {"GET": None, "PUT": None, "DELETE": None},
    "inventory": {"GET": None, "PUT": None, "DELETE": None},
    "metrics": {"GET": None, "PUT": None, "DELETE": None},
    "intelligent-tiering": {"GET": None, "PUT": None, "DELETE": None},
    "metadataTable": {"GET": None, "POST": None, "DELETE": None},
    "session": {"GET": None},
})

_OBJECT_SUBRESOURCES: Final = _table({
    # PUT ?uploadId is UploadPart / UploadPartCopy, decided in _object_put.
    "uploadId": {"GET": "ListParts", "PUT": "UploadPart", "POST": "CompleteMultipartUpload",
                 "DELETE": "AbortMultipartUpload"},
    "uploads": {"POST": "CreateMultipartUpload"},
    "tagging": {"GET": "GetObjectTagging", "PUT": "PutObjectTagging",
                "DELETE": "DeleteObjectTagging"},
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
    "attributes": {"GET": "GetObjectAttributes"},
    "restore": {"POST": None},
    "select": {"POST": None},
    "retention": {"GET": None, "PUT": None},
    "legal-hold": {"GET": None, "PUT": None},
    "torrent": {"GET": None},
    "renameObject": {"PUT": None},
})

_BUCKET_DEFAULT: Final[_Methods] = MappingProxyType({
    "GET": "ListObjects",           # ListObjectsV2 with list-type=2
    "HEAD": "HeadBucket",
    "PUT": "CreateBucket",
    "DELETE": "DeleteBucket",
    "POST": None,                   # browser-form PostObject
})

_OBJECT_DEFAULT: Final[_Methods] = MappingProxyType({
    "GET": "GetObject",
    "HEAD": "HeadObject",
    "PUT": "PutObject",             # CopyObject with x-amz-copy-source
    "DELETE": "DeleteObject",
})

# Any bucket that ever existed fits this (us-east-1 once allowed upper case and '_').
_ROUTABLE = re.compile(r"[A-Za-z0-9._-]{1,255}", re.ASCII)
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def valid_bucket_name(name: str) -> bool:
    """S3's rules for general purpose bucket names (checked by CreateBucket)."""
    if not _BUCKET_NAME.fullmatch(name) or ".." in name:
        return False
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return False
    # Also "IP-address-shaped" ones ipaddress refuses, such as 192.168.05.300.
    return re.fullmatch(r"[0-9]+(\.[0-9]+){3}", name) is None


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    return name in headers or any(k.lower() == name for k in headers)


def _split_host(host: str) -> str:
    """Lowercase host without port or trailing dot ("[::1]:9000" -> "[::1]")."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[:end + 1] if end != -1 else host
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        host = name
    return host.rstrip(".")


def _decode(raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None


def _operation(level: str, table: Mapping[str, _Methods], default: _Methods, method: str,
               query: Mapping[str, str]) -> str:
    methods = next((m for sub, m in table.items() if sub in query), default)
    if method not in methods:
        raise S3Error("MethodNotAllowed", Method=method, ResourceType=level)
    op = methods[method]
    if op is None:
        raise S3Error("NotImplemented")
    return op


def _bucket_operation(method: str, query: Mapping[str, str],
                      headers: Mapping[str, str]) -> str:
    if method == "POST" and not any(sub in query for sub in _BUCKET_SUBRESOURCES):
        # PostObject (a browser form) is not served; anything but a form is S3's 412.
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise S3Error("PreconditionFailed", Condition="Bucket POST must be of the "
                          "enclosure-type multipart/form-data")
    op = _operation("BUCKET", _BUCKET_SUBRESOURCES, _BUCKET_DEFAULT, method, query)
    if op == "ListObjects" and query.get("list-type") == "2":
        return "ListObjectsV2"
    return op


def _object_operation(method: str, query: Mapping[str, str],
                      headers: Mapping[str, str]) -> str:
    op = _operation("OBJECT", _OBJECT_SUBRESOURCES, _OBJECT_DEFAULT, method, query)
    copy = _has_header(headers, "x-amz-copy-source")
    if op == "UploadPart":
        if "partNumber" not in query:
            # Without a part number this is neither a part nor a whole-object PUT; writing the
            # object would silently replace it, so refuse like a bad part number.
            raise S3Error("InvalidArgument", "Part number must be an integer between 1 and "
                          "10000, inclusive", ArgumentName="partNumber", ArgumentValue="")
        return "UploadPartCopy" if copy else "UploadPart"
    if op == "PutObject" and copy:
        return "CopyObject"
    return op


def resolve(method: str, host: str, raw_path: str, query: Mapping[str, str],
            headers: Mapping[str, str], *, domain: str | None = None) -> Endpoint:
    """Route one request. ``raw_path`` is still percent-encoded and has no query string."""
    if method == "OPTIONS":
        # A CORS preflight. No bucket has a CORS configuration here (PutBucketCors is not
        # served), so these are S3's answers for a bucket without one.
        if not _has_header(headers, "origin"):
            raise S3Error("BadRequest", "Insufficient information. Origin request header "
                          "needed.")
        raise S3Error("AccessForbidden")
    if not raw_path.startswith("/"):
        raise S3Error("InvalidURI")
    hostname = _split_host(host)
    suffix = "." + domain.lower().rstrip(".") if domain else None
    if suffix and hostname.endswith(suffix):
        bucket = hostname[:-len(suffix)]
        style = "virtual"
        key = _decode(raw_path[1:]) or None
    elif raw_path == "/":
        if method != "GET":
            raise S3Error("MethodNotAllowed", Method=method, ResourceType="SERVICE")
        return Endpoint("ListBuckets", None, None, "path")
    else:
        style = "path"
        raw_bucket, _, raw_key = raw_path[1:].partition("/")
        bucket = _decode(raw_bucket)
        key = _decode(raw_key) or None
    if not _ROUTABLE.fullmatch(bucket):
        raise S3Error("InvalidBucketName", BucketName=bucket)
    if key is None:
        return Endpoint(_bucket_operation(method, query, headers), bucket, None, style)
    return Endpoint(_object_operation(method, query, headers), bucket, key, style)
