"""Short-lived block tokens: the nameserver signs, blockstores verify.

A token grants one access (``r`` read, ``w`` write) to one block until it expires:
``<access>.<expires_at>.<hex HMAC-SHA256(key, "block_id|access|expires_at[|scope]")>``. The
key is derived from the cluster secret, so blockstores need no other shared state.

A write token also carries a scope (``write_scope``): the block's exact size and the hops
of the pipeline the nameserver chose. A writer can then neither store more than it was
allocated nor make a blockstore forward its bytes anywhere but to those servers.

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
from collections.abc import Sequence
from typing import Literal

Access = Literal["r", "w"]

_TOKEN = re.compile(r"([rw])\.(0|[1-9][0-9]{0,14})\.([0-9a-f]{64})")


def _token_key(cluster_secret: str) -> bytes:
    return hmac.new(cluster_secret.encode(), b"plen block tokens v1", hashlib.sha256).digest()


def write_scope(size: int, hops: Sequence[str]) -> str:
    """A write's scope: exactly ``size`` bytes, forwarded along ``hops`` (the private URLs
    of the pipeline after its first server, in order)."""
    return f"{size}|{','.join(hops)}"


def _mac(key: bytes, block_id: str, access: str, expires_at: int, scope: str) -> str:
    msg = f"{block_id}|{access}|{expires_at}" + (f"|{scope}" if scope else "")
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def sign(cluster_secret: str, block_id: str, access: Access, ttl_s: float,
         now: float | None = None, *, scope: str = "") -> str:
    expires_at = int((time.time() if now is None else now) + ttl_s)
    mac = _mac(_token_key(cluster_secret), block_id, access, expires_at, scope)
    return f"{access}.{expires_at}.{mac}"


def verify(cluster_secret: str, token: str, block_id: str, access: Access,
           now: float | None = None, *, scope: str = "") -> bool:
    match = _TOKEN.fullmatch(token)
    if match is None:
        return False
    tok_access, expires_s, mac = match.groups()
    expires_at = int(expires_s)
    if tok_access != access:
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    expected = _mac(_token_key(cluster_secret), block_id, access, expires_at, scope)
    return hmac.compare_digest(expected, mac)
