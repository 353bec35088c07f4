"""Attacks on the cluster-internal doors of a real cluster (issue 7).

Blockstores must refuse any block request without a valid, unexpired token for that block and
that operation, and every cluster-internal door (the nameserver's ``/cluster/*`` and
``/admin/*``, a blockstore's ``DELETE /blocks/*`` and ``/admin/*``) must refuse a request
without the cluster secret. Each test here does what an attacker on the private network
could: raw HTTP with missing, malformed, forged, expired, misplaced or borrowed credentials,
and block ids that try to be paths. Each checks the refusal's status AND that nothing
changed: a block's bytes, the files under every data directory, the servers the nameserver
knows and the replicas it maps.

Genuine tokens come the way a client gets them: a file written with the ``plen`` CLI, then a
``stat`` with blocks (read tokens, replica URLs), or ``allocate-block`` (a write token).
Forged ones are signed with ``plen.tokens.sign`` and the cluster's secret, which the harness
knows, so that exactly one thing (expiry, block, access) is wrong in each.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from plen import tokens
from plen.checksum import crc32c
from plen.wire.types import new_server_id
from tests.integration.harness import Cluster
from tests.unit.blockstore.helpers import same_crc32c

BS = 64 * 1024
CLUSTER_OPTIONS = {"blockstores": 2, "replication": 2, "block_size": BS, "inline_max": 0}
TOKEN_HEADER = "X-Plen-Token"
SECRET_HEADER = "X-Plen-Cluster-Secret"
CRC_HEADER = "X-Plen-Crc32c"
PIPELINE_HEADER = "X-Plen-Pipeline"
SCOPE_HEADER = "X-Plen-Pipeline-Scope"


# --------------------------------------------------------------------------------------------
# Raw HTTP: nothing between the test and the wire rewrites a path or a header.


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def code(self) -> str | None:
        """The wire error code of a JSON error body, if there is one."""
        try:
            return json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None


def send(base: str, method: str, path: str, *, headers: dict[str, str | bytes] | None = None,
         body: bytes | None = None) -> Answer:
    """One request with ``path`` sent exactly as given (no normalisation, no quoting)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        resp = conn.getresponse()
        return Answer(resp.status, resp.read())
    finally:
        conn.close()


def send_raw(base: str, request: bytes) -> int:
    """Bytes straight onto a socket (for what http.client refuses to send, like a NUL in the
    request line); the status of the answer, or 0 if the server just closed."""
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def post(base: str, path: str, payload: Any = None, *, headers: dict[str, str | bytes] | None = None
         ) -> Answer:
    return send(base, "POST", path, body=json.dumps(payload or {}).encode(),
                headers={"Content-Type": "application/json", **(headers or {})})


# --------------------------------------------------------------------------------------------
# What "nothing changed" means


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root``: relative path -> SHA-256 of its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "lock":
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def disks(cluster: Cluster) -> dict[str, dict[str, str]]:
    """Every blockstore's data directory, plus the files beside them (``..`` and ``../..`` of
    a data directory), so a write that escaped would show."""
    out = {name: tree(d) for name, d in cluster.data_dirs.items()}
    for extra in {d.parent for d in cluster.data_dirs.values()} | {cluster.tmp_path}:
        out[str(extra)] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                           for p in extra.iterdir() if p.is_file()}
    return out


# --------------------------------------------------------------------------------------------
# The victim: one file of three blocks, written and read the way clients do


@dataclass
class Victim:
    cluster: Cluster
    data: bytes
    blocks: list[dict[str, Any]]  # FileBlock as JSON: block_id, replicas, token, ...

    def block(self, i: int = 0) -> dict[str, Any]:
        return self.blocks[i]

    def url(self, i: int = 0) -> str:
        return self.blocks[i]["replicas"][0]["url"]

    def bytes_of(self, i: int) -> bytes:
        b = self.blocks[i]
        return self.data[b["offset"]:b["offset"] + b["size"]]

    def on_disk(self, i: int) -> dict[str, bytes]:
        """blockstore name -> the bytes of block ``i``'s file (trailer included)."""
        bid = self.blocks[i]["block_id"]
        return {name: self.cluster.block_path(name, bid).read_bytes()
                for name in self.cluster.blockstore_names
                if self.cluster.block_path(name, bid).exists()}

    def secret(self) -> str:
        return self.cluster.cluster_secret


@pytest.fixture(scope="module")
def victim(shared_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Victim:
    c = shared_cluster
    data = os.urandom(3 * BS - 100)
    local = tmp_path_factory.mktemp("victim") / "victim.bin"
    local.write_bytes(data)
    c.plen("mkdir", "/attacked")
    c.plen("put", local, "/attacked/victim.bin")
    stat = c.ns_post("stat", {"path": "/attacked/victim.bin", "with_blocks": True})
    blocks = stat["file"]["blocks"]
    assert len(blocks) == 3 and all(len(b["replicas"]) == 2 for b in blocks)
    v = Victim(c, data, blocks)
    # The genuine token works (so every refusal below is the attack's doing).
    for i in range(3):
        got = send(v.url(i), "GET", f"/blocks/{blocks[i]['block_id']}",
                   headers={TOKEN_HEADER: blocks[i]["token"]})
        assert got.status == 200 and got.body == v.bytes_of(i)
    return v


def read(v: Victim, token: str | bytes | None, i: int = 0, **extra: str) -> Answer:
    headers: dict[str, str | bytes] = dict(extra)
    if token is not None:
        headers[TOKEN_HEADER] = token
    return send(v.url(i), "GET", f"/blocks/{v.block(i)['block_id']}", headers=headers)


def allocate(c: Cluster, size: int) -> dict[str, Any]:
    return c.ns_post("allocate-block", {"size_bytes": size})


def put(base: str, block_id: str, data: bytes, token: str | None, *, crc: int | None = None,
        path: str | None = None, **extra: str) -> Answer:
    headers: dict[str, str | bytes] = {CRC_HEADER: str(crc32c(data) if crc is None else crc),
                                       "Content-Type": "application/octet-stream", **extra}
    if token is not None:
        headers[TOKEN_HEADER] = token
    return send(base, "PUT", path or f"/blocks/{block_id}", headers=headers, body=data)


def flip_hex(s: str, at: int = -1) -> str:
    ch = s[at]
    new = "0" if ch != "0" else "1"
    return s[:at] + new + (s[at + 1:] if at != -1 else "")


# --------------------------------------------------------------------------------------------
# Block reads


def bad_read_tokens(v: Victim) -> dict[str, str | bytes | None]:
    bid, other = v.block(0)["block_id"], v.block(1)["block_id"]
    genuine = v.block(0)["token"]
    access, expires, mac = genuine.split(".")
    now = time.time()
    return {
        "no token": None,
        "empty token": "",
        "one field": mac,
        "two fields": f"r.{expires}",
        "four fields": f"{genuine}.00",
        "non-numeric expiry": f"r.soon.{mac}",
        "expiry with a sign": f"r.+{expires}.{mac}",
        "expiry with underscores": f"r.{expires[:2]}_{expires[2:]}.{mac}",
        "expiry with spaces": f"r. {expires}.{mac}",
        "expiry with a leading zero": f"r.0{expires}.{mac}",
        "huge expiry": f"r.{'9' * 5000}.{mac}",
        "expiry of 2**64": f"r.{2**64}.{mac}",
        "unicode digits in expiry": f"r.{expires.translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))}"
                                    f".{mac}".encode(),
        "unicode access": f"ｒ.{expires}.{mac}".encode(),
        "latin-1 garbage": b"r.\xff\xfe.\x80",
        "upper-case MAC": f"r.{expires}.{mac.upper()}",
        "MAC with one hex char flipped": f"r.{expires}.{flip_hex(mac)}",
        "MAC cut short": f"r.{expires}.{mac[:-2]}",
        "expiry extended, MAC kept": f"r.{int(expires) + 86400}.{mac}",
        "read token for another block": v.block(1)["token"],
        "write token for this block": tokens.sign(v.secret(), bid, "w", 600),
        "expired (signed an hour ago, ttl 60 s)": tokens.sign(v.secret(), bid, "r", 60,
                                                              now=now - 3600),
        "expired by one second": tokens.sign(v.secret(), bid, "r", 0, now=now - 1),
        "signed with another secret": tokens.sign("not-the-cluster-secret", bid, "r", 600),
        "signed with the secret in upper case": tokens.sign(v.secret().upper(), bid, "r", 600)
        if v.secret().upper() != v.secret() else tokens.sign(v.secret() + "x", bid, "r", 600),
        "token for another block re-labelled": f"r.{expires}.{v.block(1)['token'].split('.')[2]}",
        "access letter changed to w": f"w.{expires}.{mac}",
        "a block id as the token": other,
    }


def test_block_read_is_refused_without_a_valid_token_for_that_block(victim: Victim) -> None:
    before = disks(victim.cluster)
    outcomes = {name: read(victim, token) for name, token in bad_read_tokens(victim).items()}
    wrong = {name: (a.status, a.code) for name, a in outcomes.items()
             if a.status != 403 or a.code != "forbidden"}
    assert wrong == {}, f"attacks not answered 403 forbidden: {wrong}"
    assert not any(victim.bytes_of(0) in a.body for a in outcomes.values())
    assert disks(victim.cluster) == before
    # And a fresh genuine token still works: the refusals were about the token alone.
    assert read(victim, victim.block(0)["token"]).status == 200


def test_expiry_alone_causes_refusal(victim: Victim) -> None:
    bid, secret, now = victim.block(0)["block_id"], victim.secret(), time.time()
    assert read(victim, tokens.sign(secret, bid, "r", 600, now=now)).status == 200
    assert read(victim, tokens.sign(secret, bid, "r", 600, now=now - 3600)).status == 403


def test_refusals_do_not_tell_which_blocks_a_server_holds(victim: Victim) -> None:
    """The token (or secret) is checked before the disk is: a held block and an absent one
    are refused alike, so probing ids learns nothing."""
    held, absent = victim.block(0)["block_id"], "0" * 32
    base = victim.url()
    for bid in (held, absent):
        assert send(base, "GET", f"/blocks/{bid}").status == 403
        assert send(base, "GET", f"/blocks/{bid}", headers={TOKEN_HEADER: "r.1.x"}).status == 403
        assert send(base, "GET", f"/blocks/{bid}",
                    headers={"Range": "bytes=0-0", TOKEN_HEADER: ""}).status == 403
        assert put(base, bid, b"x", None).status == 403
        assert send(base, "DELETE", f"/blocks/{bid}").status == 401
    # Methods the door does not have are not a way in either.
    for method in ("HEAD", "POST", "PATCH", "OPTIONS"):
        got = send(base, method, f"/blocks/{held}", headers={TOKEN_HEADER: victim.block(0)["token"]})
        assert got.status == 405 and victim.bytes_of(0) not in got.body, (method, got.status)


def test_token_in_the_wrong_place_is_refused(victim: Victim) -> None:
    bid, token = victim.block(0)["block_id"], victim.block(0)["token"]
    q = urllib.parse.quote(token)
    attempts = {
        "query ?token=": f"/blocks/{bid}?token={q}",
        "query ?X-Plen-Token=": f"/blocks/{bid}?{TOKEN_HEADER}={q}",
        "path parameter ;token=": f"/blocks/{bid};token={q}",
    }
    got = {name: send(victim.url(), "GET", path).status for name, path in attempts.items()}
    assert all(400 <= s < 500 for s in got.values()), got
    for header in ("Authorization", "X-Plen-Cluster-Secret", "Cookie", "X-Token"):
        assert read(victim, None, **{header: token}).status == 403, header
    assert read(victim, None, Authorization=f"Bearer {token}").status == 403


def test_the_cluster_secret_is_not_a_read_token(victim: Victim) -> None:
    # An attacker who stole the cluster secret could sign tokens anyway; but the secret itself
    # sent in place of a token must not be taken as one, nor alongside a bad token.
    assert read(victim, victim.secret()).status == 403
    assert read(victim, None, **{SECRET_HEADER: victim.secret()}).status == 403
    assert read(victim, "r.1.2", **{SECRET_HEADER: victim.secret()}).status == 403


# --------------------------------------------------------------------------------------------
# Block writes (the pipeline PUT)


def no_block_file(c: Cluster, block_id: str) -> bool:
    return block_id not in c.block_files()


def test_block_write_is_refused_without_a_valid_write_token(victim: Victim) -> None:
    c = victim.cluster
    data = os.urandom(1000)
    alloc = allocate(c, len(data))
    bid, head, genuine = alloc["block_id"], alloc["pipeline"][0]["url"], alloc["token"]
    access, expires, mac = genuine.split(".")
    secret, now = victim.secret(), time.time()
    attacks: dict[str, str | None] = {
        "no token": None,
        "empty token": "",
        "read token (genuine, for a block of the victim)": victim.block(0)["token"],
        "read token for this block": tokens.sign(secret, bid, "r", 600),
        "write token for another block": allocate(c, len(data))["token"],
        "expired write token": tokens.sign(secret, bid, "w", 60, now=now - 3600),
        "write token with MAC flipped": f"w.{expires}.{flip_hex(mac)}",
        "write token with expiry extended": f"w.{int(expires) + 86400}.{mac}",
        "write token signed with another secret": tokens.sign("guess", bid, "w", 600),
        "malformed": "w.x",
        "expiry with a sign": f"w.+{expires}.{mac}",
    }
    before = disks(c)
    got = {name: put(head, bid, data, token) for name, token in attacks.items()}
    wrong = {name: (a.status, a.code) for name, a in got.items() if a.status != 403}
    assert wrong == {}, f"write attacks not answered 403: {wrong}"
    assert no_block_file(c, bid) and disks(c) == before
    # The genuine token writes it (and down the pipeline): the refusals were the tokens'.
    ok = put(head, bid, data, genuine, **{PIPELINE_HEADER: ",".join(alloc["forward_urls"])})
    assert ok.status == 201, ok
    assert len(c.block_files()[bid]) == 2


def test_write_with_a_genuine_token_in_a_pipeline_hop_header_only_is_refused(
        victim: Victim) -> None:
    # The token must be in X-Plen-Token; a token smuggled elsewhere (query, pipeline header)
    # grants nothing.
    c = victim.cluster
    data = os.urandom(500)
    alloc = allocate(c, len(data))
    bid, head = alloc["block_id"], alloc["pipeline"][0]["url"]
    q = urllib.parse.quote(alloc["token"])
    before = disks(c)
    assert put(head, bid, data, None, path=f"/blocks/{bid}?token={q}").status == 403
    assert put(head, bid, data, None, Authorization=alloc["token"]).status == 403
    assert no_block_file(c, bid) and disks(c) == before


def test_pipeline_hops_outside_the_cluster_are_refused(victim: Victim) -> None:
    c = victim.cluster
    data = os.urandom(300)
    alloc = allocate(c, len(data))
    heard: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                heard.append(conn.recv(65536))
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\ninternal-reply")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        internal = f"http://127.0.0.1:{listener.getsockname()[1]}/internal-service"
        got = put(alloc["pipeline"][0]["url"], alloc["block_id"], data, alloc["token"],
                  **{PIPELINE_HEADER: internal})
    finally:
        listener.close()
        thread.join(15)
    assert heard == [], f"the blockstore called {internal}: {heard[:1]!r} (answered {got})"
    assert 400 <= got.status < 500


def test_a_write_token_binds_its_pipeline_whatever_the_headers_claim(victim: Victim) -> None:
    c = victim.cluster
    data = os.urandom(300)
    alloc = allocate(c, len(data))
    head, real = alloc["pipeline"][0]["url"], alloc["forward_urls"]
    elsewhere = "http://127.0.0.1:9/internal"
    for headers in ({PIPELINE_HEADER: elsewhere, SCOPE_HEADER: elsewhere},
                    {PIPELINE_HEADER: elsewhere, SCOPE_HEADER: ",".join(real)},
                    {PIPELINE_HEADER: ",".join([*real, elsewhere]),
                     SCOPE_HEADER: ",".join([*real, elsewhere])},
                    {PIPELINE_HEADER: ",".join(real), SCOPE_HEADER: ""}):
        got = put(head, alloc["block_id"], data, alloc["token"], **headers)
        assert (got.status, got.code) == (403, "forbidden"), (headers, got)
        assert no_block_file(c, alloc["block_id"])
    # The pipeline as allocated is fine.
    ok = put(head, alloc["block_id"], data, alloc["token"], **{PIPELINE_HEADER: ",".join(real)})
    assert ok.status == 201, ok


def test_write_token_does_not_stretch_past_the_allocated_size(victim: Victim) -> None:
    c = victim.cluster
    alloc = allocate(c, 1024)
    data = os.urandom(4 * 1024 * 1024)
    got = put(alloc["pipeline"][0]["url"], alloc["block_id"], data, alloc["token"])
    assert got.status in (400, 403, 413), got


def test_write_whose_body_does_not_match_its_crc_leaves_no_block(victim: Victim) -> None:
    c = victim.cluster
    data = os.urandom(4000)
    alloc = allocate(c, len(data))
    bid, head = alloc["block_id"], alloc["pipeline"][0]["url"]
    before = disks(c)
    got = put(head, bid, data, alloc["token"], crc=crc32c(data) ^ 1,
              **{PIPELINE_HEADER: ",".join(alloc["forward_urls"])})
    assert (got.status, got.code) == (422, "checksum_mismatch")
    assert no_block_file(c, bid) and disks(c) == before  # no temp file left either
    # A body shorter than the block it was allocated for: refused too (its token's scope
    # names the size, plen/tokens.py).
    short = put(head, bid, data[:-1], alloc["token"], crc=crc32c(data),
                **{PIPELINE_HEADER: ",".join(alloc["forward_urls"])})
    assert short.status in (400, 403, 422) and no_block_file(c, bid) and disks(c) == before


def test_committed_block_cannot_be_overwritten_even_with_a_fresh_write_token(
        victim: Victim) -> None:
    """Blocks are immutable. A fresh write token for a committed block (the writer keeps its
    allocation's token for an hour) must not change its bytes: not with other bytes and
    another CRC32C, and not with other bytes forged to the very same CRC32C and length."""
    c = victim.cluster
    bid = victim.block(0)["block_id"]
    original = victim.bytes_of(0)
    files_before = victim.on_disk(0)
    def token(size: int) -> str:  # a genuine write token for this block, no further hops
        return tokens.sign(victim.secret(), bid, "w", 600, scope=tokens.write_scope(size, []))

    for name in files_before:
        base = c.url(name)
        other = put(base, bid, os.urandom(len(original)), token(len(original)))
        assert (other.status, other.code) == (409, "conflict"), other
        forged = put(base, bid, same_crc32c(original), token(len(original)))
        assert (forged.status, forged.code) == (409, "conflict"), forged
        longer = put(base, bid, same_crc32c(original, len(original) + 10),
                     token(len(original) + 10), crc=crc32c(original))
        assert (longer.status, longer.code) == (409, "conflict"), longer
        # The same bytes again (a retried pipeline write) is fine, and changes nothing.
        assert put(base, bid, original, token(len(original))).status == 201
    assert victim.on_disk(0) == files_before
    assert read(victim, victim.block(0)["token"]).body == original
    assert [p for n in c.blockstore_names for p in (c.data_dir(n) / "tmp").iterdir()] == []


# --------------------------------------------------------------------------------------------
# Block ids that try to be paths


EVIL_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2E%2E/%2E%2E/outside",
    "..%252F..%252Foutside",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "..",
    "%2e%2e",
    "0123456789abcdef0123456789abcde%2F",
    "0123456789abcdef0123456789abcdef%00",
    "0123456789abcdef0123456789abcdef%00/../../outside",
    "0123456789abcdef0123456789abcdef%0A",
    "0123456789ABCDEF0123456789ABCDEF",  # upper case: a second name on a case-folding disk
    "0123456789abcdef0123456789abcdef0",  # 33 digits
    "0123456789abcdef0123456789abcde",  # 31 digits
    "a" * 4000,  # very long
    "%C0%AE%C0%AE%2Foutside",  # overlong UTF-8 dots
    "０１２３４５６７８９ａｂｃｄｅｆ０１２３４５６７８９ａｂｃｄｅｆ",  # full-width
]


def test_block_ids_that_are_paths_are_refused_and_touch_nothing(victim: Victim) -> None:
    c = victim.cluster
    name = c.blockstore_names[0]
    base = c.url(name)
    # A file one and two levels above the data directory, where "../" ids would land.
    bait = {c.data_dir(name).parent / "outside": b"bait one up\n",
            c.data_dir(name).parent.parent / "outside": b"bait two up\n"}
    for path, content in bait.items():
        path.write_bytes(content)
    before = disks(c)
    secret = victim.secret()
    outcomes: dict[str, tuple[int, int, int]] = {}
    for raw in EVIL_IDS:
        path = "/blocks/" + urllib.parse.quote(raw, safe="/%.")
        decoded = urllib.parse.unquote(raw)
        body = b"pwned" * 10
        r = send(base, "GET", path, headers={TOKEN_HEADER: tokens.sign(secret, decoded, "r", 600)})
        w = send(base, "PUT", path, body=body,
                 headers={TOKEN_HEADER: tokens.sign(secret, decoded, "w", 600),
                          CRC_HEADER: str(crc32c(body))})
        d = send(base, "DELETE", path, headers={SECRET_HEADER: secret})
        outcomes[raw[:40]] = (r.status, w.status, d.status)
        for ans in (r,):
            assert b"root:" not in ans.body and b"bait" not in ans.body
    wrong = {k: v for k, v in outcomes.items() if not all(400 <= s < 500 for s in v)}
    assert wrong == {}, f"not refused with a 4xx (GET, PUT, DELETE): {wrong}"
    assert disks(c) == before
    for path, content in bait.items():
        assert path.read_bytes() == content
    # A NUL byte and a bare "../" straight in the request line (no client would send them).
    for line in (b"GET /blocks/\x00 HTTP/1.1", b"GET /blocks/..\x00/..\x00/etc/passwd HTTP/1.1",
                 b"DELETE /blocks/../../outside HTTP/1.1"):
        status = send_raw(base, line + b"\r\nHost: x\r\n" + SECRET_HEADER.encode() + b": "
                          + secret.encode() + b"\r\nConnection: close\r\n\r\n")
        assert status == 0 or 400 <= status < 500, (line, status)
    assert disks(c) == before
    for path, content in bait.items():
        assert path.read_bytes() == content


# --------------------------------------------------------------------------------------------
# The cluster secret on blockstores


def bad_secret_headers(secret: str) -> dict[str, dict[str, str | bytes]]:
    return {
        "no secret": {},
        "empty secret": {SECRET_HEADER: ""},
        "wrong secret": {SECRET_HEADER: "guess"},
        "secret in upper case": {SECRET_HEADER: secret.upper()
                                 if secret.upper() != secret else secret.lower()},
        "secret with a character dropped": {SECRET_HEADER: secret[:-1]},
        "secret with a character added": {SECRET_HEADER: secret + "x"},
        "secret with inner whitespace": {SECRET_HEADER: secret[:5] + " " + secret[5:]},
        "secret then a space and more": {SECRET_HEADER: secret + " x"},
        "secret twice": {SECRET_HEADER: secret + secret},
        "secret as non-UTF-8 bytes": {SECRET_HEADER: secret.encode() + b"\xff"},
        "secret in Authorization": {"Authorization": secret},
        "secret as a bearer token": {"Authorization": f"Bearer {secret}"},
        "secret in X-Plen-Token": {TOKEN_HEADER: secret},
        "secret under a near-miss name": {"X-Plen-Cluster-Secrets": secret},
        "secret under an underscore name": {"X_Plen_Cluster_Secret": secret},
    }


def test_blockstore_delete_is_refused_without_the_cluster_secret(victim: Victim) -> None:
    c = victim.cluster
    bid = victim.block(2)["block_id"]
    before = disks(c)
    for name in c.blockstore_names:
        base = c.url(name)
        got = {what: send(base, "DELETE", f"/blocks/{bid}", headers=h)
               for what, h in bad_secret_headers(victim.secret()).items()}
        # A block token is no licence to delete either, even a write token.
        got["write token instead"] = send(base, "DELETE", f"/blocks/{bid}", headers={
            TOKEN_HEADER: tokens.sign(victim.secret(), bid, "w", 600)})
        got["secret in the query"] = send(
            base, "DELETE", f"/blocks/{bid}?secret={urllib.parse.quote(victim.secret())}")
        wrong = {k: (a.status, a.code) for k, a in got.items()
                 if (a.status, a.code) != (401, "unauthorized")}
        assert wrong == {}, f"{name}: deletes not answered 401: {wrong}"
    assert disks(c) == before
    assert read(victim, victim.block(2)["token"], 2).body == victim.bytes_of(2)


def metric(base: str, name: str) -> float:
    text = send(base, "GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


def test_blockstore_admin_doors_refuse_without_the_cluster_secret(victim: Victim) -> None:
    c = victim.cluster
    name = c.blockstore_names[0]
    base = c.url(name)
    scrubbed = metric(base, "plen_blockstore_scrubbed_blocks_total")
    before = disks(c)
    for door in ("scrub", "block-report", "heartbeat"):
        got = {what: post(base, f"/admin/{door}/run-once", headers=h)
               for what, h in bad_secret_headers(victim.secret()).items()}
        wrong = {k: (a.status, a.code) for k, a in got.items()
                 if (a.status, a.code) != (401, "unauthorized")}
        assert wrong == {}, f"/admin/{door}: not answered 401: {wrong}"
        # Another method on the same door is no way round it.
        assert 400 <= send(base, "GET", f"/admin/{door}/run-once").status < 500
    assert metric(base, "plen_blockstore_scrubbed_blocks_total") == scrubbed  # no scrub ran
    assert disks(c) == before
    # With the secret the door opens (so the refusals above were the secret's doing).
    status, body = c.bs_admin(name, "scrub/run-once")
    assert status == 200 and body["checked"] >= 3
    assert metric(base, "plen_blockstore_scrubbed_blocks_total") > scrubbed


# --------------------------------------------------------------------------------------------
# The cluster secret on the nameserver


def replicas_of(c: Cluster, path: str) -> list[list[str]]:
    stat = c.ns_post("stat", {"path": path, "with_blocks": True})
    return [sorted(r["server_id"] for r in b["replicas"]) for b in stat["file"]["blocks"]]


def servers(c: Cluster) -> dict[str, tuple[str, str, str]]:
    return {s["server_id"]: (s["state"], s["public_url"], s["private_url"])
            for s in c.cluster_status()["servers"]}


def test_nameserver_cluster_api_refuses_without_the_cluster_secret(victim: Victim) -> None:
    c = victim.cluster
    ns = c.nameserver_url
    real = c.server_id(c.blockstore_names[0])
    fake = new_server_id()
    victim_blocks = [{"block_id": b["block_id"], "size": b["size"]} for b in victim.blocks]
    attempts = {
        # A rogue server joining, to be sent every new block (or to steal them on repair).
        "register a rogue server": ("register", {
            "server_id": fake, "public_url": "http://203.0.113.9:1", "zone": "",
            "private_url": "http://203.0.113.9:1", "capacity_bytes": 1 << 50, "used_bytes": 0,
            "blocks": victim_blocks}),
        # Hijack a real server's id: point clients at the attacker's URL.
        "re-register a real server elsewhere": ("register", {
            "server_id": real, "public_url": "http://203.0.113.9:1", "zone": "",
            "private_url": "http://203.0.113.9:1", "capacity_bytes": 1 << 50, "used_bytes": 0,
            "blocks": []}),
        # Tell the nameserver a real server lost or corrupted the victim's blocks.
        "heartbeat removing blocks": ("heartbeat", {
            "server_id": real, "capacity_bytes": 1 << 30, "used_bytes": 0, "block_count": 0,
            "removed": [b["block_id"] for b in victim.blocks]}),
        "heartbeat reporting corruption": ("heartbeat", {
            "server_id": real, "capacity_bytes": 1 << 30, "used_bytes": 0, "block_count": 0,
            "corrupt": [b["block_id"] for b in victim.blocks]}),
        "heartbeat for the rogue server": ("heartbeat", {
            "server_id": fake, "capacity_bytes": 1 << 30, "used_bytes": 0, "block_count": 0}),
        # An empty inventory: the nameserver would drop every replica this server holds.
        "empty block report": ("block-report", {"server_id": real, "blocks": []}),
    }
    servers_before = servers(c)
    replicas_before = replicas_of(c, "/attacked/victim.bin")
    wrong = {}
    for what, (endpoint, payload) in attempts.items():
        for how, headers in bad_secret_headers(c.cluster_secret).items():
            a = post(ns, f"/cluster/{endpoint}", payload, headers=headers)
            if (a.status, a.code) != (401, "unauthorized"):
                wrong[(what, how)] = (a.status, a.code)
    assert wrong == {}, f"cluster API calls not answered 401: {wrong}"
    assert fake not in servers(c)
    assert servers(c) == servers_before
    assert replicas_of(c, "/attacked/victim.bin") == replicas_before
    r = redis.Redis.from_url(c.redis_url)
    try:
        assert not [k for k in r.scan_iter(f"*{fake}*")], "the rogue server id reached Redis"
        assert all(fake.encode() not in (r.dump(k) or b"") for k in r.scan_iter("*"))
    finally:
        r.close()


def test_nameserver_cluster_api_checks_the_secret_before_the_body(victim: Victim) -> None:
    """Without the secret, not even a malformed body is looked at more than refused."""
    ns = victim.cluster.nameserver_url
    for endpoint in ("register", "heartbeat", "block-report"):
        for body in (b"", b"{", b"[]", b'{"server_id": 1}', b"\xff" * 100):
            a = send(ns, "POST", f"/cluster/{endpoint}", body=body,
                     headers={"Content-Type": "application/json"})
            assert 400 <= a.status < 500 and a.status != 404, (endpoint, body, a)


def test_nameserver_cluster_api_refuses_a_malformed_body_with_401(victim: Victim) -> None:
    a = send(victim.cluster.nameserver_url, "POST", "/cluster/register", body=b"{}",
             headers={"Content-Type": "application/json"})
    assert (a.status, a.code) == (401, "unauthorized"), a


def test_nameserver_admin_doors_refuse_without_the_cluster_secret(victim: Victim) -> None:
    c = victim.cluster
    ns = c.nameserver_url
    doors = ["gc/run-once", "membership/run-once", "repair/run-once", "rebalance/run-once",
             "lease"]
    files_before = c.block_files()
    servers_before = servers(c)
    wrong = {}
    for door in doors:
        for how, headers in bad_secret_headers(c.cluster_secret).items():
            a = post(ns, f"/admin/{door}", headers=headers)
            if (a.status, a.code) != (401, "unauthorized"):
                wrong[(door, how)] = (a.status, a.code)
    assert wrong == {}, f"admin doors not answered 401: {wrong}"
    assert c.block_files() == files_before and servers(c) == servers_before
    # The right secret opens them (each door exists; the refusals were the secret's).
    assert "holder" in c.admin("lease")


# --------------------------------------------------------------------------------------------
# The comparisons themselves


def test_secret_and_mac_comparisons_are_constant_time() -> None:
    """Read in the code rather than timed (a shared machine makes timings meaningless): the
    secret check and the token MAC check go through ``hmac.compare_digest``."""
    import inspect

    from plen import service

    src = inspect.getsource(service.check_cluster_secret)
    assert "compare_digest" in src and "==" not in src
    src = inspect.getsource(tokens.verify)
    assert "compare_digest" in src
    assert "mac ==" not in src and "== mac" not in src


def test_whitespace_around_the_secret_is_http_framing_not_part_of_it(victim: Victim) -> None:
    """HTTP drops the spaces and tabs around a header value (RFC 9110 5.5), so a secret with
    them is the secret; anything else around it is refused."""
    c = victim.cluster
    ns = c.nameserver_url
    s = c.cluster_secret
    assert post(ns, "/admin/lease", headers={SECRET_HEADER: f"  {s}\t"}).status == 200
    for bad in (f"{s}\v", f"\v{s}", f"{s}\x00", f"{s},{s}", f'"{s}"'):
        a = post(ns, "/admin/lease", headers={SECRET_HEADER: bad.encode()})
        assert 400 <= a.status < 500, (bad, a)
