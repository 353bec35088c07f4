"""Property tests for SigV4's pure helpers (gateway/s3/sigv4.py): any raw path or query is
canonicalised without raising, the canonical forms are what AWS's rules say (idempotent,
sorted, only unreserved characters unencoded), and parse_raw_query inverts encoding."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import (
    StaticKeys,
    authenticate,
    canonical_query,
    canonical_uri,
    parse_raw_query,
)

FAST = settings(max_examples=300, deadline=None)
percent = st.builds(lambda b: f"%{b:02X}", st.integers(0, 255))
raw = st.lists(st.one_of(st.text(max_size=6), percent, st.sampled_from(
    ["%", "%Z", "%zz", "&", "=", "&&", "==", "+", "/", "%2F", "%00", " ", "\x00", "é"])),
    max_size=15).map("".join)
ENCODED = re.compile(r"([A-Za-z0-9\-._~/]|%[0-9A-F]{2})*")
ENCODED_QUERY = re.compile(r"([A-Za-z0-9\-._~]|%[0-9A-F]{2})*")


@FAST
@given(path=raw)
def test_canonical_uri_is_aws_encoded_and_stable(path):
    uri = canonical_uri(path)
    assert ENCODED.fullmatch(uri)
    assert unquote_to_bytes(uri) == unquote_to_bytes(path or "/")
    assert canonical_uri(uri) == uri  # encoding what is already canonical changes nothing


@FAST
@given(query=raw, exclude=st.lists(st.text(max_size=5), max_size=3))
def test_canonical_query_is_sorted_pairs_of_encoded_text(query, exclude):
    canon = canonical_query(query, exclude=exclude)
    pairs = [p.split("=") for p in canon.split("&")] if canon else []
    assert all(len(p) == 2 and ENCODED_QUERY.fullmatch(p[0]) and ENCODED_QUERY.fullmatch(p[1])
               for p in pairs)
    assert pairs == sorted(pairs)
    assert canonical_query(canon) == canon


@FAST
@given(query=raw, plus=st.booleans())
def test_parse_raw_query_never_raises(query, plus):
    pairs = parse_raw_query(query, plus_is_space=plus)
    assert all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in pairs)


@FAST
@given(items=st.lists(st.tuples(st.text(min_size=1, max_size=8),
                                st.none() | st.text(max_size=8)), max_size=6))
def test_parse_raw_query_inverts_percent_encoding(items):
    query = "&".join(quote(k, safe="") + ("" if v is None else "=" + quote(v, safe=""))
                     for k, v in items)
    assert parse_raw_query(query) == items


# A bug found here and left to the owner of sigv4.py (the authentication work): int() of an
# expiry over 4,300 digits raises ValueError, which the gateway answers with a 500. The mark
# is strict: once sigv4.py refuses such a value with an S3Error, remove it.
@pytest.mark.parametrize("query", [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261125%2Fus-east-1%2Fs3%2F"
    "aws4_request&X-Amz-Date=20261125T000000Z&X-Amz-Expires=" + "9" * 5000
    + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64,
    "AWSAccessKeyId=AK&Signature=x&Expires=" + "9" * 5000,
], ids=["v4-presigned", "v2-presigned"])
async def test_presigned_expiry_of_thousands_of_digits_is_an_s3_error(query):
    with pytest.raises(S3Error):
        await authenticate("GET", "/b/k", query, {"host": "h"}, StaticKeys({"AK": "secret"}),
                           now=1795651200.0, region="us-east-1")
