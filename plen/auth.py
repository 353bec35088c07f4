"""Signed requests to the nameserver's client API (``/v1/*``): who is calling, proven.

Every client (the ``plen`` CLI as a user, the gateway as root) signs each request with the
secret of one of its user's access keys; the nameserver recomputes the signature.

    X-Plen-Access-Key:  the access key
    X-Plen-Date:        seconds since the epoch when the request was signed
    X-Plen-Signature:   hex HMAC-SHA256(secret, "PLEN1\\n" method "\\n" path "\\n" date
                        "\\n" hex SHA-256(body))

Rule 1: the body's hash is signed, so a captured signature cannot carry another request.
Rule 2: a request older or newer than ``MAX_SKEW_S`` is refused, which bounds how long a
captured request can be replayed (as S3 does with its 15 minutes).
Rule 3: the secret never travels; signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

ACCESS_KEY_HEADER = "X-Plen-Access-Key"
DATE_HEADER = "X-Plen-Date"
SIGNATURE_HEADER = "X-Plen-Signature"
MAX_SKEW_S = 15 * 60


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret: str

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"Credentials(access_key={self.access_key!r})"


def _string_to_sign(method: str, path: str, date: str, body: bytes) -> bytes:
    return f"PLEN1\n{method.upper()}\n{path}\n{date}\n{hashlib.sha256(body).hexdigest()}".encode()


def signature(secret: str, method: str, path: str, date: str, body: bytes) -> str:
    return hmac.new(secret.encode(), _string_to_sign(method, path, date, body),
                    hashlib.sha256).hexdigest()


def sign(creds: Credentials, method: str, path: str, body: bytes, *,
         now: float | None = None) -> dict[str, str]:
    """The headers that authenticate one request."""
    date = str(int(time.time() if now is None else now))
    return {ACCESS_KEY_HEADER: creds.access_key, DATE_HEADER: date,
            SIGNATURE_HEADER: signature(creds.secret, method, path, date, body)}


def sigv4_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """S3's SigV4 key: HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
    "aws4_request"). Here because the nameserver derives it for the gateway (which checks
    users' signatures with it, never holding their secrets) and the gateway for root."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sigv2_signature(secret: str, string_to_sign: str) -> str:
    """S3's SigV2 signature: base64 HMAC-SHA1 of the string to sign with the secret."""
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class AuthError(Exception):
    """Why a request's signature was refused (a message for the caller, never a secret)."""


def claimed_key(headers) -> str:
    """The access key a request claims, before anything is checked."""
    access_key = headers.get(ACCESS_KEY_HEADER, "")
    if not access_key:
        raise AuthError("the request is not signed: credentials are required "
                        "(set PLEN_ACCESS_KEY and PLEN_SECRET_KEY, or run 'plen up')")
    return access_key


def verify(secret: str, method: str, path: str, headers, body: bytes, *,
           now: float | None = None) -> None:
    """Raise AuthError unless ``headers`` carry a fresh, correct signature by ``secret``."""
    date = headers.get(DATE_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not date.isascii() or not date.isdigit() or len(date) > 12 or not given:
        raise AuthError("the request's signature or date is missing or malformed")
    skew = abs((time.time() if now is None else now) - int(date))
    if skew > MAX_SKEW_S:
        raise AuthError(f"the request was signed {int(skew)} s away from the server's clock "
                        f"(at most {MAX_SKEW_S} s allowed)")
    expected = signature(secret, method, path, date, body)
    if not hmac.compare_digest(expected.encode(), given.encode(errors="replace")):
        raise AuthError("the request's signature does not match: wrong secret key")
