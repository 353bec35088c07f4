"""Short-lived block tokens: the nameserver signs, blockstores verify.

A token grants one access (``r`` read, ``w`` write) to one block until it expires:
``<access>.<expires_at>.<hex HMAC-SHA256(key, "block_id|access|expires_at")>``. The key is
derived from the cluster secret, so blockstores need no other shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

Access = Literal["r", "w"]


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
    try:
        tok_access, expires_s, mac = token.split(".")
        expires_at = int(expires_s)
    except ValueError:
        return False
    if tok_access != access:
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    expected = _mac(_token_key(cluster_secret), block_id, access, expires_at)
    return hmac.compare_digest(expected, mac)
