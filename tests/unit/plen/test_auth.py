"""plen/auth.py: signed client-API requests."""

from __future__ import annotations

import pytest

from plen.auth import MAX_SKEW_S, AuthError, Credentials, claimed_key, sign, verify

CREDS = Credentials("PLAKEY", "secret-of-forty-characters-xxxxxxxxxxxxx")
NOW = 1_800_000_000.0


def test_a_signed_request_verifies_and_names_its_key():
    headers = sign(CREDS, "POST", "/v1/stat", b'{"path":"/b/k"}', now=NOW)
    assert claimed_key(headers) == "PLAKEY"
    verify(CREDS.secret, "POST", "/v1/stat", headers, b'{"path":"/b/k"}', now=NOW + 60)


@pytest.mark.parametrize(("change", "value"), [
    ("secret", "another"), ("method", "GET"), ("path", "/v1/walk"),
    ("body", b'{"path":"/b/other"}'), ("now", NOW + MAX_SKEW_S + 1),
    ("now", NOW - MAX_SKEW_S - 1)])
def test_any_change_is_refused(change, value):
    headers = sign(CREDS, "POST", "/v1/stat", b'{"path":"/b/k"}', now=NOW)
    args = {"secret": CREDS.secret, "method": "POST", "path": "/v1/stat",
            "body": b'{"path":"/b/k"}', "now": NOW, change: value}
    with pytest.raises(AuthError):
        verify(args["secret"], args["method"], args["path"], headers, args["body"],
               now=args["now"])


@pytest.mark.parametrize("headers", [
    {}, {"X-Plen-Access-Key": "PLAKEY"},
    {"X-Plen-Access-Key": "PLAKEY", "X-Plen-Date": "１２３", "X-Plen-Signature": "00"},
    {"X-Plen-Access-Key": "PLAKEY", "X-Plen-Date": "9" * 400, "X-Plen-Signature": "00"},
    {"X-Plen-Access-Key": "PLAKEY", "X-Plen-Date": "-5", "X-Plen-Signature": "00"}])
def test_missing_or_malformed_headers_are_refused(headers):
    with pytest.raises(AuthError):
        claimed_key(headers)
        verify(CREDS.secret, "POST", "/v1/stat", headers, b"", now=NOW)


def test_the_secret_never_shows_in_a_repr():
    assert CREDS.secret not in repr(CREDS)
