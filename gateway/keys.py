"""GatewayKeys: the signing keys SigV4 and SigV2 are checked against (gateway/s3/sigv4.py Keys).

Rule 1: the root user's secret is the gateway's own (``--root-password``); every other
user's stays in the nameserver, which hands out day-scoped SigV4 signing keys and computes
SigV2 signatures (nameserver/access.py Rule 2).
Rule 2: a signing key is cached for ``CACHE_S``, an unknown access key too, so a client
signing every request costs the nameserver one call per key and scope every few seconds; a
removed key stops working within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.s3.sigv4 import StaticKeys
from plen.access import ANONYMOUS, Principal
from plen.client.nameserver import NameserverClient
from plen.wire.access import SigningKeyRequest, SignV2Request
from plen.wire.errors import ErrorCode, WireError

CACHE_S = 2.0
MAX_CACHED = 10_000


class GatewayKeys:
    def __init__(self, root_user: str, root_secret: str, nameserver: NameserverClient, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root_user = root_user
        self._root = StaticKeys({root_user: root_secret})
        self._ns = nameserver
        self._clock = clock
        # scope -> (when fetched, signing key or None for an unknown key, its user)
        self._v4: dict[tuple[str, str, str, str], tuple[float, bytes | None, str]] = {}
        self._users: dict[str, str] = {}  # access key -> user, learnt from the nameserver

    def principal(self, access_key: str | None) -> Principal:
        """Who signed with ``access_key`` (after a successful authentication)."""
        if access_key is None:
            return ANONYMOUS
        if access_key == self.root_user:
            return Principal(self.root_user, root=True)
        return Principal(self._users[access_key])

    def _remember(self, access_key: str, user: str) -> None:
        if len(self._users) > MAX_CACHED:
            self._users.clear()
        self._users[access_key] = user

    async def v4(self, access_key: str, date: str, region: str, service: str) -> bytes | None:
        if access_key in self._root:
            return await self._root.v4(access_key, date, region, service)
        scope = (access_key, date, region, service)
        now = self._clock()
        cached = self._v4.get(scope)
        if cached is None or now - cached[0] >= CACHE_S:
            try:
                found = await self._ns.signing_key(SigningKeyRequest(
                    access_key=access_key, date=date, region=region, service=service))
                cached = (now, bytes.fromhex(found.key), found.user)
            except WireError as err:
                if err.code is not ErrorCode.NOT_FOUND:
                    raise
                cached = (now, None, "")
            if len(self._v4) > MAX_CACHED:
                self._v4.clear()
            self._v4[scope] = cached
        if cached[1] is not None:
            self._remember(access_key, cached[2])
        return cached[1]

    async def v2(self, access_key: str, string_to_sign: str) -> str | None:
        if access_key in self._root:
            return await self._root.v2(access_key, string_to_sign)
        try:
            found = await self._ns.sign_v2(SignV2Request(access_key=access_key,
                                                         string_to_sign=string_to_sign))
        except WireError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise
            return None
        self._remember(access_key, found.user)
        return found.signature
