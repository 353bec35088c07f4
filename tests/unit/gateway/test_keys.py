"""gateway/keys.py: signing keys from the nameserver, cached; root's from the gateway's own."""

from __future__ import annotations

import asyncio

from gateway.keys import CACHE_S, GatewayKeys
from gateway.s3.sigv4 import signing_key
from plen.wire.access import SigningKeyResponse, SignV2Response
from plen.wire.errors import ErrorCode, WireError


class FakeNameserver:
    def __init__(self) -> None:
        self.calls = 0
        self.known = {"AKALICE": ("alice", "alice-secret")}

    async def signing_key(self, req):
        self.calls += 1
        if req.access_key not in self.known:
            raise WireError(ErrorCode.NOT_FOUND, "unknown access key")
        user, secret = self.known[req.access_key]
        key = signing_key(secret, req.date, req.region, req.service)
        return SigningKeyResponse(user=user, key=key.hex())

    async def sign_v2(self, req):
        self.calls += 1
        if req.access_key not in self.known:
            raise WireError(ErrorCode.NOT_FOUND, "unknown access key")
        return SignV2Response(user=self.known[req.access_key][0], signature="sig")


def make() -> tuple[GatewayKeys, FakeNameserver, list[float]]:
    ns, now = FakeNameserver(), [100.0]
    return GatewayKeys("ROOT", "root-secret", ns, clock=lambda: now[0]), ns, now


def test_root_never_asks_the_nameserver():
    keys, ns, _ = make()
    key = asyncio.run(keys.v4("ROOT", "20260101", "us-east-1", "s3"))
    assert key == signing_key("root-secret", "20260101", "us-east-1", "s3")
    assert ns.calls == 0 and keys.principal("ROOT").root


def test_a_users_key_is_cached_for_a_while_and_names_the_user():
    keys, ns, now = make()
    scope = ("AKALICE", "20260101", "us-east-1", "s3")
    first = asyncio.run(keys.v4(*scope))
    assert first == signing_key("alice-secret", *scope[1:])
    assert asyncio.run(keys.v4(*scope)) == first and ns.calls == 1
    keys._users.clear()  # the user map may be dropped whatever the key cache holds
    asyncio.run(keys.v4(*scope))
    assert keys.principal("AKALICE").user == "alice" and not keys.principal("AKALICE").root
    now[0] += CACHE_S
    del ns.known["AKALICE"]  # the key is removed: within CACHE_S it stops working
    assert asyncio.run(keys.v4(*scope)) is None and ns.calls == 2


def test_unknown_keys_are_none_and_other_errors_propagate():
    keys, ns, _ = make()
    assert asyncio.run(keys.v4("AKNOBODY", "20260101", "us-east-1", "s3")) is None
    assert asyncio.run(keys.v2("AKNOBODY", "sts")) is None
    assert asyncio.run(keys.v2("AKALICE", "sts")) == "sig"
    assert keys.principal(None).anonymous

    async def broken(req):
        raise WireError(ErrorCode.UNAVAILABLE_AFTER_SEND, "down")

    ns.signing_key = broken
    try:
        asyncio.run(keys.v4("AKOTHER", "20260101", "us-east-1", "s3"))
    except WireError as err:
        assert err.code is ErrorCode.UNAVAILABLE_AFTER_SEND
    else:
        raise AssertionError("a nameserver outage must not read as an unknown key")
