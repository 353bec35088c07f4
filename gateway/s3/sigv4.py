"""Request authentication for the S3 gateway: SigV4 (header, presigned query, chunk and trailer
signatures) and SigV2 (header, presigned query). No I/O of its own (keys come from a
``Keys``), and the clock is an argument.

Rules:
1. A request carries at most one credential: the Authorization header, the SigV4 query
   (X-Amz-Algorithm...) or the SigV2 query (AWSAccessKeyId/Signature/Expires). More than one is
   refused, as S3 does. None at all is anonymous; whether that is allowed is the caller's call.
2. Canonical forms are rebuilt from the bytes the server received (the still-encoded path and
   query), never from the router's decoded values, and never normalised: S3 does not collapse
   "a//b" or "../", so neither does the signature.
3. Every signature is compared with hmac.compare_digest.
4. Secrets are not this module's: a ``Keys`` gives the SigV4 signing key of an access key for
   a (date, region, service) scope, and computes SigV2 signatures, so the gateway can verify
   users' requests without ever holding their secrets (nameserver/access.py Rule 2).
   ``StaticKeys`` serves known secrets (the root user's), with the derived keys in an LRU
   because the derivation is four HMACs and a handful of keys sign everything.
5. A hex x-amz-content-sha256 is only syntax-checked here: the body has not been read yet, so
   the caller hashes it and answers XAmzContentSHA256Mismatch itself.
6. Errors are S3's codes with S3's messages, including the StringToSign / CanonicalRequest
   fields a client's debug log needs (no secret is in them).
"""

from __future__ import annotations

import calendar
import email.utils
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, unquote, unquote_to_bytes

from gateway.s3.errors import S3Error
from plen.auth import sigv2_signature, sigv4_signing_key

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
# Bodies framed with aws-chunked (gateway/s3/chunked.py), and those ending with trailers.
STREAMING_PAYLOADS = frozenset(
    {STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER})
TRAILER_PAYLOADS = frozenset({STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER})
_SIGNED_STREAMING = frozenset({STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER})
# SigV4a (ECDSA) is recognised so that it gets a precise refusal rather than a syntax error.
_ECDSA_PAYLOADS = frozenset({
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"})

MAX_SKEW_S = 15 * 60
MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600  # 604800, S3's limit for SigV4 presigned URLs

# SigV2 CanonicalizedResource sub-resources: the S3 documentation's list plus the ones botocore's
# HmacV1Auth also signs (accelerate, analytics, ...). Only the client's choice matters, and
# botocore is the client we must agree with; these never collide with ordinary parameters.
V2_SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "restore", "select", "select-type", "storageClass",
    "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires",
})

# Lower-case only: it is what SHA-256 hex is compared with, so an upper-case value could never
# verify and would only leave the body unchecked by a caller matching lower-case hex.
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified")
_NEEDS_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_V4_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                    "X-Amz-SignedHeaders", "X-Amz-Expires")


@dataclass(frozen=True, slots=True)
class AuthResult:
    access_key: str | None  # None: anonymous (no credentials at all)
    method: str  # "v4-header", "v4-query", "v2-header", "v2-query", "anonymous"
    payload: str | None  # x-amz-content-sha256 as sent (or UNSIGNED-PAYLOAD for presigned URLs)
    chunk_signer: ChunkSigner | None  # for the STREAMING-AWS4-HMAC-SHA256-* payloads


# --------------------------------------------------------------------------- small helpers


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """plen.auth.sigv4_signing_key, cached (Rule 4)."""
    return sigv4_signing_key(secret, date, region, service)


def _same(expected: str, provided: str) -> bool:
    # compare_digest refuses non-ASCII str; "replace" keeps a hostile value comparable (and wrong).
    return hmac.compare_digest(expected.encode("utf-8"), provided.encode("utf-8", "replace"))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _parse_amz_date(value: str) -> float | None:
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        return None


def _parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC with no zone information
        return float(calendar.timegm(parsed.timetuple()))
    return parsed.timestamp()


def _header_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Lower-cased name -> every value, in order (a multidict's items() repeats names)."""
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


def _first(hdrs: dict[str, list[str]], name: str) -> str | None:
    values = hdrs.get(name)
    return values[0] if values else None


def parse_raw_query(raw_query: str, *, plus_is_space: bool = True) -> list[tuple[str, str | None]]:
    """("k", "v") pairs in order, percent-decoded; a key with no '=' has value None (SigV2 tells
    "?acl" from "?acl="). '+' is a space, as in the router's decoded query, unless SigV2 asks."""
    dec = _decode_plus if plus_is_space else unquote
    pairs: list[tuple[str, str | None]] = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        key, eq, value = part.partition("=")
        pairs.append((dec(key), dec(value) if eq else None))
    return pairs


def _decode_plus(text: str) -> str:
    return unquote(text.replace("+", " "))


def _query_dict(pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value or "")
    return out


# --------------------------------------------------------------------------- SigV4 canonical form


def _aws_encode(data: bytes, *, keep_slash: bool) -> str:
    # quote() always keeps A-Za-z0-9 and "-._~", exactly AWS's unreserved set.
    return quote(data, safe="/" if keep_slash else "")


def canonical_uri(raw_path: str) -> str:
    """Decode the received path, then re-encode it the AWS way, once (S3 signs the path as-is:
    no dot-segment removal, no slash merging). Bytes, not text, so invalid UTF-8 survives."""
    return _aws_encode(unquote_to_bytes(raw_path or "/"), keep_slash=True)


def canonical_query(raw_query: str, *, exclude: Iterable[str] = ()) -> str:
    """Every key and value decoded then AWS-encoded, sorted by encoded key, then value."""
    skip = set(exclude)
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        key, _, value = part.partition("=")
        dkey = unquote_to_bytes(key.replace("+", " "))
        if dkey.decode("utf-8", "replace") in skip:
            continue
        dvalue = unquote_to_bytes(value.replace("+", " "))
        pairs.append((_aws_encode(dkey, keep_slash=False), _aws_encode(dvalue, keep_slash=False)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(hdrs: dict[str, list[str]], signed: list[str]) -> str:
    """"name:value\\n" per signed header; repeated headers joined with ',', each value trimmed and
    its inner runs of spaces collapsed."""
    lines = []
    for name in signed:
        values = hdrs.get(name, [])
        lines.append(name + ":" + ",".join(" ".join(v.split()) for v in values) + "\n")
    return "".join(lines)


def string_to_sign_v4(amz_date: str, scope: str, canonical_request: str) -> str:
    return "\n".join(
        (ALGORITHM, amz_date, scope, sha256_hex(canonical_request.encode("utf-8"))))


# --------------------------------------------------------------------------- chunk signatures


class ChunkSigner:
    """Verifies the signature chain of an aws-chunked body: each chunk's signature covers the
    previous one, so chunks cannot be dropped, reordered or replayed from another upload. The
    seed is the request's own signature."""

    __slots__ = ("_key", "_amz_date", "_scope", "_previous")

    def __init__(self, key: bytes, amz_date: str, scope: str, seed_signature: str) -> None:
        self._key = key
        self._amz_date = amz_date
        self._scope = scope
        self._previous = seed_signature

    @property
    def previous_signature(self) -> str:
        return self._previous

    def next_chunk(self, chunk_sha256_hex: str, signature: str) -> None:
        sts = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", self._amz_date, self._scope, self._previous,
                         EMPTY_SHA256, chunk_sha256_hex))
        self._check(sts, signature)

    def trailer(self, trailer_bytes: bytes, signature: str) -> None:
        """trailer_bytes: the trailing headers in canonical form, "name:value\\n" each, without
        the x-amz-trailer-signature line (chunked.py builds it)."""
        sts = "\n".join(("AWS4-HMAC-SHA256-TRAILER", self._amz_date, self._scope, self._previous,
                         sha256_hex(trailer_bytes)))
        self._check(sts, signature)

    def _check(self, sts: str, signature: str) -> None:
        expected = hmac.new(self._key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        if not _same(expected, signature):
            raise S3Error("SignatureDoesNotMatch", StringToSign=sts, SignatureProvided=signature)
        self._previous = expected


# --------------------------------------------------------------------------- entry point


class Keys(Protocol):
    """Where signatures are checked against: None for an unknown access key."""

    async def v4(self, access_key: str, date: str, region: str, service: str) -> bytes | None:
        """The SigV4 signing key of ``access_key`` for this scope."""

    async def v2(self, access_key: str, string_to_sign: str) -> str | None:
        """The base64 HMAC-SHA1 of ``string_to_sign`` with ``access_key``'s secret."""


class StaticKeys:
    """Keys from secrets held here: ``{access_key: secret}``."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = dict(secrets)

    def __contains__(self, access_key: str) -> bool:
        return access_key in self._secrets

    async def v4(self, access_key: str, date: str, region: str, service: str) -> bytes | None:
        secret = self._secrets.get(access_key)
        return None if secret is None else signing_key(secret, date, region, service)

    async def v2(self, access_key: str, string_to_sign: str) -> str | None:
        secret = self._secrets.get(access_key)
        return None if secret is None else sigv2_signature(secret, string_to_sign)


async def authenticate(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
                       keys: Keys, *, now: float, region: str,
                       host_bucket: str | None = None) -> AuthResult:
    """Authenticate one request or raise S3Error.

    raw_path and raw_query are still percent-encoded (aiohttp: request.rel_url.raw_path and
    request.rel_url.raw_query_string; a "?query" left on raw_path is ignored). headers may be a
    multidict. host_bucket is the bucket named by the Host header of a virtual-hosted request
    (Endpoint.bucket when Endpoint.style == "virtual"): only SigV2's string to sign needs it.
    """
    raw_path = raw_path.partition("?")[0] or "/"
    hdrs = _header_lists(headers)
    pairs = parse_raw_query(raw_query)
    query = _query_dict(pairs)
    authorization = _first(hdrs, "authorization")
    v4_query = any(k in query for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
    v2_query = "AWSAccessKeyId" in query or "Signature" in query
    if (authorization is not None) + v4_query + v2_query > 1:
        raise S3Error("InvalidArgument", _ONE_MECHANISM)
    if authorization is not None:
        if authorization.startswith(ALGORITHM + " "):
            return await _v4_header(method, raw_path, raw_query, hdrs, authorization, keys,
                                    now=now, region=region)
        if authorization.startswith("AWS "):
            return await _v2(method, raw_path, raw_query, hdrs, authorization[4:], keys,
                             now=now, host_bucket=host_bucket)
        raise S3Error("InvalidArgument", "Unsupported Authorization Type",
                      ArgumentName="Authorization", ArgumentValue=authorization[:256])
    if v4_query:
        return await _v4_query(method, raw_path, raw_query, hdrs, query, keys,
                               now=now, region=region)
    if v2_query:
        return await _v2(method, raw_path, raw_query, hdrs, None, keys,
                         now=now, host_bucket=host_bucket)
    return AuthResult(None, "anonymous", _unsigned_payload(hdrs), None)


# --------------------------------------------------------------------------- SigV4


def _payload_mode(value: str) -> str:
    if value == UNSIGNED_PAYLOAD or value in STREAMING_PAYLOADS or _HEX64.fullmatch(value):
        return value
    if value in _ECDSA_PAYLOADS:
        raise S3Error("NotImplemented", "SigV4a (ECDSA) signed payloads are not supported.")
    raise S3Error(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a "
        "valid sha256 value.",
        ArgumentName="x-amz-content-sha256", ArgumentValue=value[:256])


def _unsigned_payload(hdrs: dict[str, list[str]]) -> str | None:
    """x-amz-content-sha256 of a request with no SigV4 signature: hashes and the unsigned modes
    are fine; a signed streaming body cannot be verified without a SigV4 seed signature."""
    value = _first(hdrs, "x-amz-content-sha256")
    if value is None:
        return None
    mode = _payload_mode(value)
    if mode in _SIGNED_STREAMING:
        raise S3Error("InvalidRequest", f"{mode} requires AWS Signature Version 4.")
    return mode


@dataclass(frozen=True, slots=True)
class _Credential:
    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _parse_credential(value: str, *, region: str, where: str, code: str) -> _Credential:
    """where/code: "The authorization header is malformed" + AuthorizationHeaderMalformed, or
    "Error parsing the X-Amz-Credential parameter" + AuthorizationQueryParametersError."""
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not parts[0] or not re.fullmatch(r"\d{8}", parts[1]):
        raise S3Error(code, f'{where}; the Credential is mal-formed; expecting '
                            f'"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    access_key, date, cred_region, service, terminal = parts
    if cred_region != region:
        raise S3Error(code, f"{where}; the region '{cred_region}' is wrong; "
                            f"expecting '{region}'", Region=region)
    if service != "s3":
        raise S3Error(code, f'{where}; incorrect service "{service}". '
                            f'This endpoint belongs to "s3".')
    if terminal != "aws4_request":
        raise S3Error(code, f'{where}; incorrect terminal "{terminal}". '
                            f'This endpoint uses "aws4_request".')
    return _Credential(access_key, date, cred_region, service)


async def _v4_key(keys: Keys, cred: _Credential) -> bytes:
    key = await keys.v4(cred.access_key, cred.date, cred.region, cred.service)
    if key is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=cred.access_key)
    return key


def _signed_header_list(value: str, hdrs: dict[str, list[str]], *, time_header: str | None,
                        malformed: S3Error) -> list[str]:
    names = value.split(";")
    if not value or any(not n or n != n.lower() or n.strip() != n for n in names):
        raise malformed
    # Everything that steers the request must be covered by the signature: Host, the clock it
    # was signed with, and every x-amz-* header (S3 refuses unsigned x-amz-* headers).
    signed = set(names)
    required = {"host"} | ({time_header} if time_header else set())
    missing = sorted(n for n in hdrs if n.startswith("x-amz-") and n not in signed)
    missing += sorted(n for n in required if n not in signed)
    if missing:
        raise S3Error("AccessDenied", "There were headers present in the request which were not "
                      "signed", HeadersNotSigned=", ".join(missing))
    return sorted(signed)


async def _v4_header(method: str, raw_path: str, raw_query: str, hdrs: dict[str, list[str]],
                     authorization: str, keys: Keys, *, now: float, region: str) -> AuthResult:
    where = "The authorization header is malformed"
    malformed = S3Error(
        "AuthorizationHeaderMalformed",
        f"{where}; the authorization header requires three components: Credential, "
        f"SignedHeaders, and Signature.")
    fields: dict[str, str] = {}
    for component in authorization[len(ALGORITHM) + 1:].split(","):
        name, eq, value = component.strip().partition("=")
        if not eq or name in fields:
            raise malformed
        fields[name] = value
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise malformed
    cred = _parse_credential(fields["Credential"], region=region, where=where,
                             code="AuthorizationHeaderMalformed")
    key = await _v4_key(keys, cred)

    amz_date = _first(hdrs, "x-amz-date")
    if amz_date is not None:
        request_time, time_header = _parse_amz_date(amz_date), "x-amz-date"
    else:
        date = _first(hdrs, "date")
        request_time, time_header = (_parse_http_date(date) if date else None), "date"
        if request_time is not None:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(request_time))
    if request_time is None or amz_date is None:
        raise S3Error("AccessDenied", _NEEDS_DATE)
    if amz_date[:8] != cred.date:
        raise S3Error("AuthorizationHeaderMalformed", f"{where}; Invalid credential date. "
                      f"Date is not the same as X-Amz-Date.")
    if abs(now - request_time) > MAX_SKEW_S:
        raise S3Error("RequestTimeTooSkewed", RequestTime=amz_date, ServerTime=_iso(now),
                      MaxAllowedSkewMilliseconds=str(MAX_SKEW_S * 1000))

    content_sha256 = _first(hdrs, "x-amz-content-sha256")
    if content_sha256 is None:
        raise S3Error("InvalidRequest",
                      "Missing required header for this request: x-amz-content-sha256")
    payload = _payload_mode(content_sha256)
    signed = _signed_header_list(fields["SignedHeaders"], hdrs, time_header=time_header,
                                 malformed=malformed)
    signature = _verify_v4(method, raw_path, canonical_query(raw_query), hdrs, signed, payload,
                           amz_date, cred, key, fields["Signature"])
    signer = None
    if payload in _SIGNED_STREAMING:
        signer = ChunkSigner(key, amz_date, cred.scope, signature)
    return AuthResult(cred.access_key, "v4-header", payload, signer)


def _verify_v4(method: str, raw_path: str, cquery: str, hdrs: dict[str, list[str]],
               signed: list[str], payload: str, amz_date: str, cred: _Credential, key: bytes,
               provided: str) -> str:
    canonical_request = "\n".join((
        method.upper(), canonical_uri(raw_path), cquery, canonical_headers(hdrs, signed),
        ";".join(signed), payload))
    sts = string_to_sign_v4(amz_date, cred.scope, canonical_request)
    expected = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
    if not _same(expected, provided):
        raise S3Error("SignatureDoesNotMatch", AWSAccessKeyId=cred.access_key, StringToSign=sts,
                      SignatureProvided=provided, CanonicalRequest=canonical_request)
    return expected


async def _v4_query(method: str, raw_path: str, raw_query: str, hdrs: dict[str, list[str]],
                    query: dict[str, str], keys: Keys, *, now: float,
                    region: str) -> AuthResult:
    code = "AuthorizationQueryParametersError"
    if any(p not in query for p in _V4_QUERY_PARAMS):
        raise S3Error(code, "Query-string authentication version 4 requires the "
                      "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                      "X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error(code, f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    cred = _parse_credential(query["X-Amz-Credential"], region=region, code=code,
                             where="Error parsing the X-Amz-Credential parameter")
    amz_date = query["X-Amz-Date"]
    signed_at = _parse_amz_date(amz_date)
    if signed_at is None:
        raise S3Error(code, "X-Amz-Date must be in the ISO8601 Long Format "
                            "\"yyyyMMdd'T'HHmmss'Z'\"")
    expires = query["X-Amz-Expires"]
    if not expires.isdigit() or not expires.isascii():
        raise S3Error(code, "X-Amz-Expires should be a number")
    # Length first: int() of thousands of digits is a ValueError, not a number.
    if len(expires) > 7 or int(expires) > MAX_PRESIGN_EXPIRES_S:
        raise S3Error(code, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
    if amz_date[:8] != cred.date:
        raise S3Error(code, "Error parsing the X-Amz-Credential parameter; Invalid credential "
                            "date. Date is not the same as X-Amz-Date.")
    key = await _v4_key(keys, cred)
    if now > signed_at + int(expires):
        raise S3Error("AccessDenied", "Request has expired", **{
            "X-Amz-Expires": expires, "Expires": _iso(signed_at + int(expires)),
            "ServerTime": _iso(now)})
    if signed_at > now + MAX_SKEW_S:
        raise S3Error("AccessDenied", "Request is not valid yet")
    # A presigned URL does not know its body: UNSIGNED-PAYLOAD unless the client signed a hash.
    payload = _payload_mode(query.get("X-Amz-Content-Sha256")
                            or _first(hdrs, "x-amz-content-sha256") or UNSIGNED_PAYLOAD)
    malformed = S3Error(code, "X-Amz-SignedHeaders must be a ';'-separated list of lower-case "
                              "header names")
    signed = _signed_header_list(query["X-Amz-SignedHeaders"], hdrs, time_header=None,
                                 malformed=malformed)
    signature = _verify_v4(method, raw_path, canonical_query(raw_query, exclude=("X-Amz-Signature",)),
                           hdrs, signed, payload, amz_date, cred, key, query["X-Amz-Signature"])
    signer = None
    if payload in _SIGNED_STREAMING:
        signer = ChunkSigner(key, amz_date, cred.scope, signature)
    return AuthResult(cred.access_key, "v4-query", payload, signer)


# --------------------------------------------------------------------------- SigV2


def _canonical_resource_v2(raw_path: str, pairs: list[tuple[str, str | None]],
                           host_bucket: str | None) -> str:
    """[/bucket] + the path exactly as received + the signed sub-resources sorted by name, their
    values decoded ("?acl" stays "?acl" and "?acl=" stays "?acl=", as botocore signs them)."""
    resource = (f"/{host_bucket}" if host_bucket else "") + raw_path
    subs = sorted((p for p in pairs if p[0] in V2_SUBRESOURCES), key=lambda p: p[0])
    if subs:
        resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in subs)
    return resource


def _string_to_sign_v2(method: str, raw_path: str, pairs: list[tuple[str, str | None]],
                       hdrs: dict[str, list[str]], expires: str | None,
                       host_bucket: str | None) -> str:
    query = _query_dict(pairs)
    amz: dict[str, list[str]] = {n: list(v) for n, v in hdrs.items() if n.startswith("x-amz-")}
    if expires is not None:
        # A presigned URL carries the x-amz-* headers, Content-Type and Content-MD5 it was
        # signed with in its query (botocore's HmacV1QueryAuth), for a browser to replay.
        for key, value in pairs:
            lkey = key.lower()
            if lkey.startswith("x-amz-") and lkey not in hdrs:
                amz.setdefault(lkey, []).append(value or "")
        date = expires
    else:
        # x-amz-date replaces Date: it is signed among the x-amz-* headers, Date is left empty.
        date = "" if "x-amz-date" in hdrs else (_first(hdrs, "date") or "").strip()

    def positional(name: str) -> str:
        value = _first(hdrs, name)
        if value is None and expires is not None:
            value = query.get(name)
        return (value or "").strip()

    lines = [method.upper(), positional("content-md5"), positional("content-type"), date]
    lines += [f"{name}:{','.join(v.strip() for v in amz[name])}" for name in sorted(amz)]
    return "\n".join(lines) + "\n" + _canonical_resource_v2(raw_path, pairs, host_bucket)


async def _v2(method: str, raw_path: str, raw_query: str, hdrs: dict[str, list[str]],
              credential: str | None, keys: Keys, *, now: float,
              host_bucket: str | None) -> AuthResult:
    # SigV2 signs sub-resource values decoded with plain unquote: '+' stays '+' (botocore).
    pairs = parse_raw_query(raw_query, plus_is_space=False)
    if credential is not None:
        access_key, colon, provided = credential.rpartition(":")
        if not colon or not access_key or not provided:
            raise S3Error("InvalidArgument", "AWS authorization header is invalid.  Expected "
                          "AwsAccessKeyId:signature", ArgumentName="Authorization",
                          ArgumentValue=("AWS " + credential)[:256])
        expires = None
        amz_date = _first(hdrs, "x-amz-date")
        stamp = amz_date if amz_date is not None else _first(hdrs, "date")
        request_time = _parse_http_date(stamp) if stamp else None
        if request_time is None:
            raise S3Error("AccessDenied", _NEEDS_DATE)
        if abs(now - request_time) > MAX_SKEW_S:
            raise S3Error("RequestTimeTooSkewed", RequestTime=stamp or "", ServerTime=_iso(now),
                          MaxAllowedSkewMilliseconds=str(MAX_SKEW_S * 1000))
        how = "v2-header"
    else:
        query = _query_dict(pairs)
        expires = query.get("Expires", "")
        if (any(p not in query for p in ("AWSAccessKeyId", "Signature", "Expires"))
                or not expires.isdigit() or not expires.isascii() or len(expires) > 15):
            raise S3Error("AccessDenied", "Query-string authentication requires the Signature, "
                          "Expires and AWSAccessKeyId parameters")
        access_key, provided = query["AWSAccessKeyId"], query["Signature"]
        if now > int(expires):
            raise S3Error("AccessDenied", "Request has expired", Expires=_iso(int(expires)),
                          ServerTime=_iso(now))
        how = "v2-query"
    sts = _string_to_sign_v2(method, raw_path, pairs, hdrs, expires, host_bucket)
    expected = await keys.v2(access_key, sts)
    if expected is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    if not _same(expected, provided):
        raise S3Error("SignatureDoesNotMatch", AWSAccessKeyId=access_key, StringToSign=sts,
                      SignatureProvided=provided)
    return AuthResult(access_key, how, _unsigned_payload(hdrs), None)
