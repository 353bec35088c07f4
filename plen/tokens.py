"""Short-lived block tokens: the nameserver signs, blockstores verify.

A token grants one access (``r`` read, ``w`` write) to one block until it expires:
``<access>.<expires_at>.<hex HMAC-SHA256(key, "block_id|access|expires_at")>``. The key is
derived from the cluster secret, so blockstores need no other shared state.

A token is accepted only in exactly the form ``sign`` writes (``[rw].<ASCII digits, no
leading zero>.<64 lowercase hex>``): ``int()`` alone would also take ``+123``, ``0123``,
``1_23``, `` 123`` or non-ASCII digits, each a second spelling of a signed token that no
signer ever issued. Fifteen digits of expiry are ample and keep ``int()`` cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Literal

Access = Literal["r", "w"]

_TOKEN = re.compile(r"([rw])\.(0|[1-9][0-9]{0,14})\.([0-9a-f]{64})")


def _token_key(cluster_secret: str) -> bytes:
    return hmac.new(cluster_secret.encode(), b"plen block tokens v1", hashlib.sha256).digest()


def _mac(key: bytes, block_id: str, access: str, expires_at: int) -> str:
    msg = f"{block_id}|{access}|{expires_at}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def sign(cluster_secret: str, block_id: str, access: Access, ttl_s: float,
         now: float | None = None) -> str:
    expires_at = int((time.time() if now is None else now) + ttl_s)
    return f"{access}.{expires_at}.{_mac(_token_key(cluster_secret), block_id, access, expires_at)}"


def verify(cluster_secret: str, token: str, block_id: str, access: Access,
           now: float | None = None) -> bool:
    match = _TOKEN.fullmatch(token)
    if match is None:
        return False
    tok_access, expires_s, mac = match.groups()
    expires_at = int(expires_s)
    if tok_access != access:
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    expected = _mac(_token_key(cluster_secret), block_id, access, expires_at)
    return hmac.compare_digest(expected, mac)
