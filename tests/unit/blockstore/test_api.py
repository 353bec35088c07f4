"""The data path over real HTTP: PUT/GET/DELETE /blocks/{id}, tokens, ranges, corruption."""

from __future__ import annotations

import asyncio
import http.client
import os
import time

import aiohttp
import pytest
from yarl import URL

from blockstore.api import UnsatisfiableRangeError, parse_range
from plen import tokens
from plen.checksum import crc32c
from plen.tokens import Access
from plen.wire.blocks import CRC32C_HEADER, TOKEN_HEADER
from plen.wire.cluster import CLUSTER_SECRET_HEADER
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import new_block_id
from tests.unit.blockstore.helpers import (
    SECRET,
    Blockstore,
    FakeNameserver,
    MakeBlockstore,
    files_under,
    flip_byte,
    read_headers,
    store_block,
    wait_until,
    write_headers,
)

DATA = os.urandom(1_000_003)


async def put(http: aiohttp.ClientSession, bs: Blockstore, block_id: str, data: bytes,
              headers: dict[str, str]) -> tuple[int, dict]:
    async with http.put(f"{bs.url}/blocks/{block_id}", data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def error_code(resp: aiohttp.ClientResponse) -> str:
    return (await resp.json())["error"]["code"]


async def test_put_then_get_round_trips_block(make_blockstore: MakeBlockstore,
                                              http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()

    status, body = await put(http, bs, block_id, DATA, write_headers(block_id, DATA))
    assert (status, body) == (201, {"stored_on": [bs.disk.server_id]})

    async with http.get(f"{bs.url}/blocks/{block_id}", headers=read_headers(block_id)) as resp:
        assert resp.status == 200
        assert resp.headers[CRC32C_HEADER] == str(crc32c(DATA))
        assert await resp.read() == DATA
    assert bs.disk.inventory() == [(block_id, len(DATA))]


async def test_put_with_wrong_crc_answers_422_and_leaves_no_file(
        make_blockstore: MakeBlockstore, http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()

    status, body = await put(http, bs, block_id, DATA,
                             write_headers(block_id, DATA, crc=crc32c(DATA) ^ 1))

    assert status == 422 and body["error"]["code"] == "checksum_mismatch"
    assert files_under(bs.settings.data_dir / "blocks") == []
    assert files_under(bs.settings.data_dir / "tmp") == []


async def test_put_of_block_already_held_is_idempotent(make_blockstore: MakeBlockstore,
                                                       http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    for _ in range(2):
        status, body = await put(http, bs, block_id, DATA, write_headers(block_id, DATA))
        assert (status, body) == (201, {"stored_on": [bs.disk.server_id]})
    assert bs.disk.inventory() == [(block_id, len(DATA))]


async def test_put_without_content_length_is_refused(make_blockstore: MakeBlockstore,
                                                     http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()

    async def chunked():
        yield DATA

    async with http.put(f"{bs.url}/blocks/{block_id}", data=chunked(),
                        headers=write_headers(block_id, DATA)) as resp:
        assert resp.status == 400 and await error_code(resp) == "invalid"
    assert not bs.disk.has(block_id)


@pytest.mark.parametrize("crc_header", ["", "abc", "-1", "4294967296", "+5", "0x5", "5.0"])
async def test_put_with_malformed_crc_header_is_refused(make_blockstore: MakeBlockstore,
                                                        http: aiohttp.ClientSession,
                                                        crc_header: str) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    headers = {**write_headers(block_id, DATA), CRC32C_HEADER: crc_header}
    status, body = await put(http, bs, block_id, DATA, headers)
    assert status == 400 and body["error"]["code"] == "invalid"


async def test_get_answers_422_and_quarantines_when_block_file_corrupt(
        make_blockstore: MakeBlockstore, fake_nameserver: FakeNameserver,
        http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore(announce_agent=True)
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)
    flip_byte(bs.disk.block_file(block_id), offset=len(DATA) // 2)

    url = f"{bs.url}/blocks/{block_id}"
    async with http.get(url, headers=read_headers(block_id, Range="bytes=0-9")) as resp:
        assert resp.status == 422 and await error_code(resp) == "checksum_mismatch"

    assert not bs.disk.block_file(block_id).exists()
    assert [p.name.split(".")[0] for p in files_under(bs.settings.data_dir / "quarantine")] \
        == [block_id]
    await wait_until(lambda: any(block_id in hb.corrupt for hb in fake_nameserver.heartbeats))
    async with http.get(url, headers=read_headers(block_id)) as resp:
        assert resp.status == 404 and await error_code(resp) == "not_found"


@pytest.mark.parametrize("range_header, start, end", [
    ("bytes=0-9", 0, 10),
    ("bytes=100-199", 100, 200),
    ("bytes=999990-", 999990, len(DATA)),
    ("bytes=999990-5000000", 999990, len(DATA)),  # the end is clamped to the block
    ("bytes=-7", len(DATA) - 7, len(DATA)),
    ("bytes=-5000000", 0, len(DATA)),  # a suffix longer than the block is all of it
    ("bytes=1000002-1000002", 1000002, len(DATA)),  # the last byte alone
])
async def test_get_serves_requested_range(make_blockstore: MakeBlockstore,
                                          http: aiohttp.ClientSession, range_header: str,
                                          start: int, end: int) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)

    async with http.get(f"{bs.url}/blocks/{block_id}",
                        headers=read_headers(block_id, Range=range_header)) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
        assert await resp.read() == DATA[start:end]


@pytest.mark.parametrize("range_header, status", [
    ("bytes=1000003-", 416), ("bytes=2000000-2000010", 416), ("bytes=-0", 416),
    ("bytes=5-2", 400), ("bytes=0-1,5-6", 400), ("items=0-1", 400), ("bytes=-", 400),
    ("bytes=a-b", 400),
])
async def test_get_refuses_bad_range(make_blockstore: MakeBlockstore,
                                     http: aiohttp.ClientSession, range_header: str,
                                     status: int) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)
    async with http.get(f"{bs.url}/blocks/{block_id}",
                        headers=read_headers(block_id, Range=range_header)) as resp:
        assert resp.status == status
        if status == 416:
            assert resp.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert bs.disk.has(block_id)  # a bad range is no reason to doubt the block


def test_parse_range_of_empty_block_is_unsatisfiable() -> None:
    assert parse_range(None, 0) is None
    for header in ("bytes=0-", "bytes=-1"):
        with pytest.raises(UnsatisfiableRangeError):
            parse_range(header, 0)


def test_parse_range_refuses_malformed_header() -> None:
    with pytest.raises(WireError) as caught:
        parse_range("bytes=1-0", 10)
    assert caught.value.code is ErrorCode.INVALID


def _bad_token(case: str, block_id: str, access: Access) -> dict[str, str]:
    """Token headers that must not grant ``access`` on ``block_id``."""
    other_access: Access = "r" if access == "w" else "w"
    token = {
        "missing": None,
        "wrong_block": tokens.sign(SECRET, new_block_id(), access, 60),
        "expired": tokens.sign(SECRET, block_id, access, 60, now=time.time() - 120),
        "wrong_access": tokens.sign(SECRET, block_id, other_access, 60),
        "other_secret": tokens.sign("not-the-secret", block_id, access, 60),
        "garbage": f"{access}.9999999999.abc",
    }[case]
    return {} if token is None else {TOKEN_HEADER: token}


BAD_TOKENS = ["missing", "wrong_block", "expired", "wrong_access", "other_secret", "garbage"]


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_put_answers_403_when_token_bad(make_blockstore: MakeBlockstore,
                                             http: aiohttp.ClientSession, case: str) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    headers = {CRC32C_HEADER: str(crc32c(DATA)), **_bad_token(case, block_id, "w")}

    status, body = await put(http, bs, block_id, DATA, headers)

    assert status == 403 and body["error"]["code"] == "forbidden"
    assert files_under(bs.settings.data_dir / "blocks") == []
    assert files_under(bs.settings.data_dir / "tmp") == []


@pytest.mark.parametrize("case", BAD_TOKENS)
async def test_get_answers_403_when_token_bad(make_blockstore: MakeBlockstore,
                                             http: aiohttp.ClientSession, case: str) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)

    async with http.get(f"{bs.url}/blocks/{block_id}",
                        headers=_bad_token(case, block_id, "r")) as resp:
        assert resp.status == 403 and await error_code(resp) == "forbidden"


@pytest.mark.parametrize("raw_id", [
    "..%2Fx", "..%2F..%2Fserver_id", "%2E%2E", "AB" * 16, "ab" * 15, "ab" * 17,
    "ab" * 15 + "%2E%2E", "ab" * 16 + "%00",
])
async def test_requests_with_bad_block_ids_are_refused(make_blockstore: MakeBlockstore,
                                                       http: aiohttp.ClientSession,
                                                       raw_id: str) -> None:
    bs = await make_blockstore()
    url = URL(f"{bs.url}/blocks/{raw_id}", encoded=True)
    headers = {TOKEN_HEADER: "w.9999999999.x", CRC32C_HEADER: str(crc32c(DATA)),
               CLUSTER_SECRET_HEADER: SECRET}
    for method in ("PUT", "GET", "DELETE"):
        async with http.request(method, url, data=DATA if method == "PUT" else None,
                                headers=headers) as resp:
            assert resp.status == 400, (method, raw_id, resp.status)
            assert await error_code(resp) == "invalid"
    data_dir = bs.settings.data_dir
    assert files_under(data_dir / "blocks") == files_under(data_dir / "tmp") == []
    assert sorted(p.name for p in data_dir.iterdir()) == \
        ["blocks", "lock", "quarantine", "server_id", "tmp"]


async def test_delete_requires_cluster_secret(make_blockstore: MakeBlockstore,
                                              http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)
    url = f"{bs.url}/blocks/{block_id}"

    for headers in ({}, {CLUSTER_SECRET_HEADER: "wrong"}, read_headers(block_id)):
        async with http.delete(url, headers=headers) as resp:
            assert resp.status == 401 and await error_code(resp) == "unauthorized"
    assert bs.disk.has(block_id)

    async with http.delete(url, headers={CLUSTER_SECRET_HEADER: SECRET}) as resp:
        assert resp.status == 204
    assert not bs.disk.block_file(block_id).exists()
    async with http.delete(url, headers={CLUSTER_SECRET_HEADER: SECRET}) as resp:
        assert resp.status == 404 and await error_code(resp) == "not_found"


def _delete_with_raw_secret(url: str, secret: bytes) -> int:
    """http.client sends header bytes as they are (aiohttp's client takes only str)."""
    parts = URL(url)
    conn = http.client.HTTPConnection(parts.host, parts.port, timeout=10)
    try:
        conn.putrequest("DELETE", parts.path)
        conn.putheader(CLUSTER_SECRET_HEADER, secret)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


async def test_cluster_secret_is_compared_as_the_bytes_that_came(
        make_blockstore: MakeBlockstore) -> None:
    # Undecodable bytes must not turn into "?" (or anything else) that a secret could match.
    secret = "s3cr?t-\u00e9"
    bs = await make_blockstore(cluster_secret=secret)
    block_id = new_block_id()
    await store_block(bs.disk, block_id, DATA)
    url = f"{bs.url}/blocks/{block_id}"
    for given in (b"s3cr\xfft-\xc3\xa9", b"s3cr?t-\xe9", b"s3cr?t-?", secret.encode() + b"\xff",
                  b"s3cr?t-\xed\xb3\xbf", b""):
        assert await asyncio.to_thread(_delete_with_raw_secret, url, given) == 401, given
    assert bs.disk.has(block_id)
    assert await asyncio.to_thread(_delete_with_raw_secret, url, secret.encode()) == 204
    assert not bs.disk.has(block_id)


async def test_get_of_missing_block_answers_404(make_blockstore: MakeBlockstore,
                                                http: aiohttp.ClientSession) -> None:
    bs = await make_blockstore()
    block_id = new_block_id()
    async with http.get(f"{bs.url}/blocks/{block_id}", headers=read_headers(block_id)) as resp:
        assert resp.status == 404 and await error_code(resp) == "not_found"
