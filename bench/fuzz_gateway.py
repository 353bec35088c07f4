"""A fuzzer against a live S3 gateway: generated hostile requests, then a check that the
cluster still serves.

    python bench/fuzz_gateway.py                       # own cluster, 100,000 requests
    python bench/fuzz_gateway.py --requests 5000 --seed 7 --concurrency 16
    python bench/fuzz_gateway.py --endpoint http://127.0.0.1:9000 --access-key K --secret-key S

Without ``--endpoint`` it starts its own cluster with tests/integration/harness.py (Redis, a
nameserver, 3 blockstores, the gateway with its default workers and short deadlines, so that
requests left incomplete on purpose end quickly), and stops it at the end.

Every request goes out over a raw TCP connection (asyncio streams): nothing on the client
side cleans a request up. The mix, by weight (``--mix`` prints it):

  signed      well-formed requests signed with SigV4 by botocore (PutObject, GetObject,
              HeadObject, DeleteObject, ListObjects(V2), multipart, tagging, ...)
  params      signed requests whose query parameters and headers are hostile (so they reach
              the handlers): list parameters, markers and tokens, encoding-type, max-keys,
              part numbers, upload ids, version ids, copy sources and ranges, tagging,
              checksums, ACL headers, storage classes, response-* overrides
  mutated     the same, signed, then one to three mutations: a header changed, dropped,
              duplicated or made huge, the query or path altered, the method changed, the
              body changed or cut, the signature flipped or truncated
  garbage     raw bytes: random request lines and versions, TLS hellos, NUL bytes, bare LF,
              header folding, duplicate or negative Content-Length, Transfer-Encoding tricks,
              oversized request lines and header sections, too many headers
  paths       random methods, paths, percent-encodings and queries (subresources, presign
              fields), unsigned or with an Authorization header of random shape
  forged      SigV4 Authorization headers and presigned queries that are partial, forged,
              expired, for the wrong region, with a huge X-Amz-Expires, SigV2 forms
  chunked     aws-chunked bodies (signed headers) with broken framing, bad sizes, bad
              trailers, forged chunk signatures, lengths that disagree
  conditional GET/HEAD with random Range and If-* headers on existing objects
  xml         DeleteObjects, CompleteMultipartUpload, tagging, versioning and CreateBucket
              bodies: random, truncated, deeply nested, over 1,000 keys, DOCTYPE / entity
              bombs / external entities
  stall       (own cluster only) a body or headers that stop half way: RequestTimeout

Counts responses by status class ("501": NotImplemented, S3's own answer for a feature the
gateway does not serve, counted apart from the other 5xx; "closed": the server closed without
answering, which it does for a request the client cut off), and at the end checks that every
cluster process is alive (the gateway's workers too) and that a normal PUT and GET still work.
Prints the counts; exits 1 on any 5xx but 501, any request with no answer within
``--timeout`` seconds (a hang), any reply that is not HTTP, a dead process, or a failed
final PUT/GET. ``--samples KIND:CLASS`` prints a few requests of that kind and outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import json
import random
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # tests.integration.harness, from the repo
    sys.path.insert(0, str(HERE.parent))

REGION = "us-east-1"
BUCKET = "fuzz"
OBJECTS = [f"obj{i}" for i in range(8)]
MIX = {"signed": 10, "params": 12, "mutated": 18, "garbage": 12, "paths": 10, "forged": 9,
       "chunked": 9, "conditional": 8, "xml": 11, "stall": 1}
GATEWAY_DEADLINES = ["--header-timeout", "2", "--body-timeout", "2", "--idle-timeout", "5"]
MAX_RESPONSE_BYTES = 1 << 20  # we read at most this much of any body


# --------------------------------------------------------------------------------------------
# Requests


@dataclass
class Req:
    """What to send: raw bytes, and how to read the answer."""
    kind: str
    data: bytes
    method: str = "GET"
    # After sending, half-close or simply wait (a stall waits for the server's deadline).
    eof_after: bool = False


def http_bytes(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"",
               version: str = "HTTP/1.1") -> bytes:
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


class Generator:
    def __init__(self, rng: random.Random, host: str, access_key: str, secret_key: str,
                 *, stalls: bool) -> None:
        self.rng = rng
        self.host = host
        self.credentials = Credentials(access_key, secret_key)
        self.uploads: list[tuple[str, str]] = []  # (key, upload id) made by prepare()
        self.kinds = [k for k in MIX if stalls or k != "stall"]
        self.weights = [MIX[k] for k in self.kinds]

    def next(self) -> Req:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return getattr(self, "gen_" + kind)()

    # -- helpers

    def text(self, n: int = 12, alphabet: str | None = None) -> str:
        r = self.rng
        if alphabet is not None:
            return "".join(r.choice(alphabet) for _ in range(r.randint(0, n)))
        pools = [
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "abc/./../..//%+?#&=;: \t",
            "éü日本\u202e\U0001f600\ufffd\u0000\x7f",
        ]
        return "".join(r.choice(r.choice(pools)) for _ in range(r.randint(0, n)))

    def key(self) -> str:
        r = self.rng
        return r.choice([
            lambda: r.choice(OBJECTS),
            lambda: "k/" + self.text(20),
            lambda: "../" * r.randint(1, 5) + "etc/passwd",
            lambda: "a//b/./c/",
            lambda: "x" * r.choice([1023, 1024, 1025, 3000]),
            lambda: "é" * r.choice([511, 512, 513]),
            lambda: self.text(40),
        ])()

    def target(self, key: str | None, query: list[tuple[str, str | None]] | None = None,
               bucket: str = BUCKET) -> str:
        path = f"/{bucket}" + ("/" + quote(key, safe="/~") if key is not None else "")
        if query:
            path += "?" + "&".join(quote(k, safe="") + ("" if v is None else "=" + quote(v, safe=""))
                                   for k, v in query)
        return path

    def signed(self, method: str, target: str, body: bytes = b"",
               headers: dict[str, str] | None = None, *, unsigned_payload: bool = False
               ) -> list[tuple[str, str]]:
        request = AWSRequest(method=method, url=f"http://{self.host}{target}", data=body,
                             headers=dict(headers or {}))
        if unsigned_payload:
            request.context["payload_signing_enabled"] = False
        S3SigV4Auth(self.credentials, "s3", REGION).add_auth(request)
        out = [("Host", self.host)]
        out += [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
        if body or method in ("PUT", "POST"):
            out.append(("Content-Length", str(len(body))))
        return out

    def presigned(self, method: str, target: str, expires: int = 300) -> str:
        request = AWSRequest(method=method, url=f"http://{self.host}{target}")
        S3SigV4QueryAuth(self.credentials, "s3", REGION, expires=expires).add_auth(request)
        parts = urlsplit(request.url)
        return parts.path + "?" + parts.query

    def valid_request(self) -> tuple[str, str, bytes, dict[str, str]]:
        r = self.rng
        key = r.choice([r.choice(OBJECTS), "k/" + self.text(10, "abcdef/"), self.key()])
        choice = r.randrange(12)
        if choice < 3:
            body = r.randbytes(r.choice([0, 1, 100, 5000]))
            return "PUT", self.target(key), body, r.choice([{}, {"Content-Type": "text/plain"},
                                                            {"x-amz-meta-a": self.text(30)}])
        if choice < 6:
            return "GET", self.target(key), b"", {}
        if choice == 6:
            return "HEAD", self.target(key), b"", {}
        if choice == 7:
            return "DELETE", self.target("k/" + self.text(8, "xyz")), b"", {}
        if choice == 8:
            return "GET", self.target(None, [("list-type", "2"), ("prefix", self.text(3)),
                                             ("max-keys", str(r.randint(0, 1500)))]), b"", {}
        if choice == 9:
            return "GET", self.target(None, [("delimiter", "/"), ("marker", self.text(5))]), \
                b"", {}
        if choice == 10:
            return "POST", self.target(key, [("uploads", "")]), b"", {}
        return "GET", self.target(key, [("tagging", "")]), b"", {}

    # -- the kinds

    def gen_signed(self) -> Req:
        method, target, body, headers = self.valid_request()
        return Req("signed", http_bytes(method, target, self.signed(method, target, body,
                                                                      headers), body), method)

    def hostile_value(self) -> str:
        r = self.rng
        return r.choice(["", "-1", "0", "1", "10001", "2147483648", "9" * 30, "9" * 5000, "x",
                         "%", "null", "true", "url", "²", "\x00", "a/b/../c", "/" * 50,
                         self.text(20), self.text(300)])

    def gen_params(self) -> Req:
        r = self.rng
        key = r.choice(OBJECTS + ["k/" + self.text(6, "abc/")])
        bucket_level = r.random() < 0.4
        names = (["list-type", "prefix", "delimiter", "marker", "max-keys", "encoding-type",
                  "continuation-token", "start-after", "fetch-owner", "key-marker",
                  "version-id-marker", "upload-id-marker", "max-uploads", "versions",
                  "uploads", "location", "versioning", "acl", "tagging", "policy", "cors"]
                 if bucket_level else
                 ["uploadId", "partNumber", "max-parts", "part-number-marker", "versionId",
                  "tagging", "acl", "attributes", "uploads", "response-content-type",
                  "response-content-disposition", "response-expires", "response-cache-control"])
        query = [(r.choice(names), self.hostile_value()) for _ in range(r.randint(1, 4))]
        if self.uploads and not bucket_level and r.random() < 0.4:  # a real upload
            key, upload_id = r.choice(self.uploads)
            query = [("uploadId", upload_id)] + [
                (r.choice(["partNumber", "max-parts", "part-number-marker"]),
                 r.choice([self.hostile_value(), str(r.randint(1, 10000))]))
                for _ in range(r.randint(0, 2))]
        method = r.choice(["GET", "GET", "HEAD", "PUT", "POST", "DELETE"])
        headers: dict[str, str] = {}
        for _ in range(r.randint(0, 3)):
            name = r.choice([
                "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-tagging",
                "x-amz-tagging-directive", "x-amz-metadata-directive", "x-amz-acl",
                "x-amz-storage-class", "x-amz-checksum-algorithm", "x-amz-checksum-crc32",
                "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm", "x-amz-object-attributes",
                "x-amz-max-parts", "x-amz-part-number-marker", "x-amz-grant-read",
                "x-amz-copy-source-if-match", "x-amz-copy-source-if-modified-since",
                "x-amz-server-side-encryption", "x-amz-expected-bucket-owner", "Content-MD5",
                "Content-Type", "x-amz-meta-" + self.text(5, "abc")])
            value = self.hostile_value()
            if name == "x-amz-copy-source" and r.random() < 0.5:
                value = f"/{BUCKET}/{r.choice(OBJECTS)}" + r.choice(["", "?versionId=null",
                                                                     "?versionId=" + value])
            headers[name] = value.replace("\x00", "").replace("\r", "").replace("\n", "")
        body = r.randbytes(r.choice([0, 0, 5])) if method in ("PUT", "POST") else b""
        target = self.target(None if bucket_level else key, query)
        return Req("params", http_bytes(method, target, self.signed(method, target, body,
                                                                      headers), body), method)

    def gen_mutated(self) -> Req:
        r = self.rng
        method, target, body, headers = self.valid_request()
        hdrs = self.signed(method, target, body, headers)
        for _ in range(r.randint(1, 3)):
            m = r.randrange(13)
            if m == 0 and hdrs:  # change a header's value
                i = r.randrange(len(hdrs))
                hdrs[i] = (hdrs[i][0], r.choice([self.text(20), "", hdrs[i][1][:-1],
                                                 hdrs[i][1] + "x", "-1", "9" * 40]))
            elif m == 1 and hdrs:  # drop one
                hdrs.pop(r.randrange(len(hdrs)))
            elif m == 2 and hdrs:  # duplicate one
                hdrs.append(r.choice(hdrs))
            elif m == 3:  # a huge header
                hdrs.append((r.choice(["x-amz-meta-big", "X-Pad", "Range", "If-Match"]),
                             "v" * r.choice([2048, 9000, 17000, 70000])))
            elif m == 4:
                target += r.choice(["&", "?acl", "&uploadId=x&partNumber=0", "%", "#f",
                                    "&partNumber=" + "1" * 5000, "?X-Amz-Signature=00"])
            elif m == 5:
                target = target.replace("/", r.choice(["//", "/./", "/%2F", "/../"]), 2)
            elif m == 6:
                method = r.choice(["get", "PATCH", "OPTIONS", "TRACE", "PUT", "POST", "X" * 50,
                                   "G\x00T", "DELETE"])
            elif m == 7:  # body changed but not its length
                body = r.randbytes(len(body))
            elif m == 8:  # body longer or shorter than announced
                body = body[: r.randint(0, len(body))] if r.random() < 0.5 else \
                    body + r.randbytes(r.randint(1, 50))
            elif m == 9:
                hdrs = [(k, v.replace("Signature=", "Signature=0") if k == "Authorization"
                         else v) for k, v in hdrs]
            elif m == 10:
                hdrs = [(k, v[: r.randint(0, len(v))] if k == "Authorization" else v)
                        for k, v in hdrs]
            elif m == 11:
                hdrs.append(r.choice([("Expect", "100-continue"), ("Expect", "banana"),
                                      ("Content-MD5", self.text(24)),
                                      ("x-amz-checksum-crc32", "AAAAAA=="),
                                      ("x-amz-sdk-checksum-algorithm", "CRC32"),
                                      ("x-amz-copy-source", "/" + self.text(20)),
                                      ("x-amz-copy-source-range", "bytes=" + self.text(8)),
                                      ("x-amz-tagging", self.text(40)),
                                      ("Transfer-Encoding", "chunked")]))
            else:  # header names mangled
                hdrs = [(k.upper() if r.random() < 0.3 else k, v) for k, v in hdrs]
        # A body shorter than announced: half the time the client half-closes, half the time
        # it just stops (a stall the gateway's body deadline ends).
        short = len(body) < self._declared(hdrs)
        return Req("mutated", http_bytes(method, target, hdrs, body), method,
                   eof_after=short and r.random() < 0.5)

    @staticmethod
    def _declared(hdrs: list[tuple[str, str]]) -> int:
        for k, v in hdrs:
            if k.lower() == "content-length" and v.isdigit() and len(v) < 12:
                return int(v)
        return 0

    def gen_garbage(self) -> Req:
        r = self.rng
        h = f"Host: {self.host}\r\n".encode()
        choices: list[Callable[[], bytes]] = [
            lambda: r.randbytes(r.randint(1, 300)),
            lambda: b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + r.randbytes(60),
            lambda: f"{self.text(8)} {self.text(20)} {self.text(8)}\r\n".encode() + h + b"\r\n",
            lambda: b"GET / HTTP/" + r.choice([b"0.9", b"2.0", b"1.2", b"x", b"1.1 extra"])
            + b"\r\n" + h + b"\r\n",
            lambda: b"GET /\r\n\r\n",
            lambda: b"GET / HTTP/1.1\n" + h.replace(b"\r\n", b"\n") + b"\n",
            lambda: b"GET / HTTP/1.1\r\n" + h + b"X-Fold: a\r\n b\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + h + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
            + b"abcdef",
            lambda: b"PUT /fuzz/x HTTP/1.1\r\n" + h + b"Content-Length: -1\r\n\r\n",
            lambda: b"PUT /fuzz/x HTTP/1.1\r\n" + h + b"Content-Length: " + b"9" * 40
            + b"\r\n\r\n",
            lambda: b"PUT /fuzz/x HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n"
            b"Content-Length: 3\r\n\r\nzz\r\nabc\r\n",
            lambda: b"PUT /fuzz/x HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\n"
            + r.choice([b"fffffffffffffffffff\r\n", b"5\r\nab", b"-1\r\n", b"0x10\r\n",
                        b"5;" + b"e" * 9000 + b"\r\n"]),
            lambda: b"PUT /fuzz/x HTTP/1.1\r\n" + h + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
            b"0\r\n\r\n",
            lambda: b"GET /" + b"a" * r.choice([8000, 8200, 20000, 70000]) + b" HTTP/1.1\r\n"
            + h + b"\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + h + b"".join(
                b"X-%d: v\r\n" % i for i in range(r.choice([100, 129, 300, 2000]))) + b"\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + h + b"X: " + b"v" * r.choice([8000, 17000, 100000])
            + b"\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + h + b"X\x00Y: z\r\nBad Name: v\r\n\r\n",
            lambda: b"GET /\x00\x01\xff HTTP/1.1\r\n" + h + b"\r\n",
            lambda: b"GET http://evil.example/fuzz/obj0 HTTP/1.1\r\n" + h + b"\r\n",
            lambda: b"CONNECT evil.example:443 HTTP/1.1\r\n" + h + b"\r\n",
            lambda: b"GET * HTTP/1.1\r\n" + h + b"\r\n",
            lambda: b"GET / HTTP/1.1\r\nHost: " + r.randbytes(20).replace(b"\r", b"").replace(
                b"\n", b"") + b"\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + h
            + b"\r\n" + r.randbytes(50),
            lambda: (b"GET / HTTP/1.1\r\n" + h + b"\r\n") * r.randint(2, 20),  # pipelined
        ]
        data = r.choice(choices)()
        return Req("garbage", data, "GET", eof_after=r.random() < 0.5)

    def gen_paths(self) -> Req:
        r = self.rng
        method = r.choice(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH",
                           "PROPFIND", self.text(6, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")]) or "GET"
        segments = []
        for _ in range(r.randint(0, 6)):
            segments.append(r.choice([
                self.text(10, "abcdefghijklmnopqrstuvwxyz0123456789-._~"),
                "".join(f"%{r.randrange(256):02X}" for _ in range(r.randint(1, 4))),
                "%", "%G1", "..", ".", "", "%2F", "%00", "+", BUCKET, r.choice(OBJECTS),
            ]))
        path = "/" + "/".join(segments)
        subresources = ["acl", "uploads", "uploadId", "partNumber", "tagging", "versioning",
                        "delete", "location", "policy", "cors", "list-type", "versions",
                        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "select",
                        "attributes", "torrent", "response-content-type", "max-keys"]
        query = "&".join(
            r.choice(subresources + [self.text(5)]) + r.choice(["", "=", "=" + quote(self.text(
                6)), "=" + "9" * r.choice([3, 30, 5000])]) for _ in range(r.randint(0, 4)))
        target = path + ("?" + query if query else "")
        hdrs = [("Host", r.choice([self.host, f"{BUCKET}.{self.host}", self.text(20),
                                   "[::1", ""]))]
        if r.random() < 0.5:
            hdrs.append(("Authorization", self.random_authorization()))
        body = r.randbytes(r.choice([0, 0, 10])) if method in ("PUT", "POST") else b""
        if body or method in ("PUT", "POST"):
            hdrs.append(("Content-Length", str(len(body))))
        return Req("paths", http_bytes(method, target.replace(" ", "%20"), hdrs, body), method)

    def random_authorization(self) -> str:
        r = self.rng
        date = time.strftime("%Y%m%d", time.gmtime())
        cred = r.choice([f"{self.credentials.access_key}/{date}/{REGION}/s3/aws4_request",
                         f"{self.credentials.access_key}/{date}/eu-west-9/s3/aws4_request",
                         f"{self.credentials.access_key}/19990101/{REGION}/s3/aws4_request",
                         f"NOPE/{date}/{REGION}/s3/aws4_request", "x", "", "a/b/c/d/e/f/g",
                         f"{self.credentials.access_key}/{date}/{REGION}/iam/aws4_request"])
        signed = r.choice(["host;x-amz-content-sha256;x-amz-date", "host", "", ";;",
                           "HOST;X-AMZ-DATE", "x-not-sent", "a" * 3000])
        sig = r.choice(["0" * 64, self.text(64, "0123456789abcdef"), "", "g" * 64, "0" * 65])
        forms = [
            f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}",
            f"AWS4-HMAC-SHA256 Credential={cred},SignedHeaders={signed},Signature={sig}",
            f"AWS4-HMAC-SHA256 Credential={cred}",
            f"AWS4-HMAC-SHA256 Signature={sig}, Signature={sig}",
            "AWS4-HMAC-SHA256",
            f"AWS {self.credentials.access_key}:{base64.b64encode(r.randbytes(20)).decode()}",
            f"AWS {self.credentials.access_key}",
            "AWS :",
            "Bearer " + self.text(30),
            self.text(60),
            "AWS4-HMAC-SHA256 " + "Credential=" * 200,
        ]
        return r.choice(forms)

    def gen_forged(self) -> Req:
        r = self.rng
        key = r.choice(OBJECTS)
        method = r.choice(["GET", "PUT", "HEAD", "DELETE"])
        if r.random() < 0.5:
            target = self.target(key)
            hdrs = [("Host", self.host), ("Authorization", self.random_authorization()),
                    ("x-amz-date", r.choice([time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                                             "19990101T000000Z", "garbage", "",
                                             "20991231T235959Z"])),
                    ("x-amz-content-sha256", r.choice(["UNSIGNED-PAYLOAD", "0" * 64, "x",
                                                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]))]
            if method == "PUT":
                hdrs.append(("Content-Length", "0"))
            return Req("forged", http_bytes(method, target, hdrs), method)
        if r.random() < 0.2:  # SigV2 query authentication, forged
            query = "&".join(f"{k}={v}" for k, v in r.sample([
                ("AWSAccessKeyId", r.choice([self.credentials.access_key, "NOPE", ""])),
                ("Signature", quote(base64.b64encode(r.randbytes(20)).decode(), safe="")),
                ("Expires", r.choice([str(int(time.time()) + 60), "1", "9" * 30, "9" * 5000,
                                      "-5", "x", ""]))], r.randint(1, 3)))
            hdrs = [("Host", self.host)] + ([("Content-Length", "0")] if method == "PUT" else [])
            return Req("forged", http_bytes(method, self.target(key) + "?" + query, hdrs),
                       method)
        url = self.presigned(method, self.target(key), expires=r.choice([1, 60, 604800]))
        path, _, query = url.partition("?")
        pairs = [p.split("=", 1) for p in query.split("&")]
        for _ in range(r.randint(1, 3)):
            i = r.randrange(len(pairs))
            m = r.randrange(5)
            if m == 0:
                pairs[i][1] = quote(self.text(20), safe="")
            elif m == 1:
                pairs.pop(i)
                if not pairs:
                    break
            elif m == 2:
                pairs.append(list(r.choice(pairs)))
            elif m == 3:
                pairs.append(["X-Amz-Expires", r.choice(["604801", "-1", "0", "9" * 30, "x",
                                                          "9" * 5000, "%C2%B2"])])
            else:
                pairs[i][1] = pairs[i][1][:-1] if pairs[i][1] else "0"
        target = path + "?" + "&".join("=".join(p) for p in pairs)
        hdrs = [("Host", self.host)]
        if method == "PUT":
            hdrs.append(("Content-Length", "0"))
        return Req("forged", http_bytes(method, target, hdrs), method)

    def gen_chunked(self) -> Req:
        r = self.rng
        data = r.randbytes(r.randint(0, 3000))
        chunks = []
        pos = 0
        while pos < len(data):
            n = r.randint(1, 1500)
            chunks.append(data[pos:pos + n])
            pos += n
        body = b"".join(f"{len(c):x}".encode() + b"\r\n" + c + b"\r\n" for c in chunks) + b"0\r\n"
        trailer = r.random() < 0.5
        if trailer:
            body += b"x-amz-checksum-crc32:" + base64.b64encode(r.randbytes(4)) + b"\r\n"
        body += b"\r\n"
        for _ in range(r.randint(0, 3)):
            at = r.randint(0, len(body))
            m = r.randrange(6)
            if m == 0:
                body = body[:at]
            elif m == 1:
                body = body[:at] + r.randbytes(r.randint(1, 8)) + body[at:]
            elif m == 2:
                body = body[:at] + body[at + r.randint(1, 8):]
            elif m == 3:
                body = r.choice([b"fffffffff\r\n", b"zz\r\n", b"-5\r\n", b"1" * 5000 + b"\r\n",
                                 b"10;chunk-signature=" + b"0" * 64 + b"\r\n"]) + body
            elif m == 4:
                body += r.choice([b"extra", b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n"])
        mode = r.choice(["STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-BOGUS"])
        target = self.target(r.choice(OBJECTS + ["chunked/" + self.text(6, "abc")]))
        headers = {"x-amz-content-sha256": mode, "Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": r.choice([str(len(data)), str(len(data) + 1),
                                                             "0", "-1", "x", "9" * 30])}
        if trailer:
            headers["x-amz-trailer"] = r.choice(["x-amz-checksum-crc32", "x-amz-checksum-foo"])
        hdrs = self.signed("PUT", target, b"", headers)
        hdrs = [(k, v) for k, v in hdrs if k.lower() != "content-length"]
        hdrs.append(("Content-Length", str(len(body))))
        return Req("chunked", http_bytes("PUT", target, hdrs, body), "PUT",
                   eof_after=r.random() < 0.5)

    def gen_conditional(self) -> Req:
        r = self.rng
        method = r.choice(["GET", "HEAD"])
        target = self.target(r.choice(OBJECTS), r.choice([None, [("partNumber", r.choice(
            ["1", "2", "0", "x"]))], [("response-content-type", self.text(10))]]))
        n = lambda: str(r.choice([0, 1, 5, 99, 100, 4999, 5000, 10 ** 20]))  # noqa: E731
        headers = {}
        if r.random() < 0.8:
            headers["Range"] = r.choice([
                f"bytes={n()}-{n()}", f"bytes=-{n()}", f"bytes={n()}-", "bytes=-", "bytes=",
                f"bytes={n()}-{n()},{n()}-{n()}", "bits=0-1", self.text(15),
                "bytes=" + "9" * 5000 + "-", f"bytes = {n()}-{n()}"])
        for name in ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"):
            if r.random() < 0.3:
                headers[name] = r.choice(['"x"', "*", 'W/"a", "b"', self.text(20),
                                          "Tue, 24 Nov 2026 10:00:00 GMT",
                                          "Sat, 01 Jan 10000 00:00:00 GMT", "0", ""])
        return Req("conditional", http_bytes(method, target, self.signed(method, target,
                                                                           b"", headers)), method)

    def xml_body(self) -> bytes:
        r = self.rng
        keys = "".join(f"<Object><Key>{self.xml_text()}</Key></Object>"
                       for _ in range(r.choice([0, 1, 3, 1000, 1001])))
        forms = [
            lambda: f"<Delete><Quiet>{r.choice(['true', 'false', 'x'])}</Quiet>{keys}</Delete>",
            lambda: "<CompleteMultipartUpload>" + "".join(
                f"<Part><PartNumber>{r.choice(['1', '0', '10001', '1' * 5000, 'x', '²'])}"
                f"</PartNumber><ETag>{self.text(10)}</ETag></Part>"
                for _ in range(r.randint(0, 5))) + "</CompleteMultipartUpload>",
            lambda: "<Tagging><TagSet>" + "".join(
                f"<Tag><Key>{self.xml_text()}</Key><Value>{self.xml_text()}</Value></Tag>"
                for _ in range(r.randint(0, 12))) + "</TagSet></Tagging>",
            lambda: '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;'
                    '&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;'
                    '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Delete><Object><Key>&lol3;'
                    "</Key></Object></Delete>",
            lambda: '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">'
                    "]><Delete><Object><Key>&x;</Key></Object></Delete>",
            lambda: '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><Tagging/>',
            lambda: "<Delete>" + "<Object>" * 20000 + "</Object>" * 20000 + "</Delete>",
            lambda: '<Delete xmlns="urn:other"><Object><Key>k</Key></Object></Delete>',
            lambda: "<VersioningConfiguration><Status>" + self.xml_text()
                    + "</Status></VersioningConfiguration>",
            lambda: "<CreateBucketConfiguration><LocationConstraint>" + self.xml_text()
                    + "</LocationConstraint></CreateBucketConfiguration>",
            lambda: self.text(200),
        ]
        body = r.choice(forms)().encode("utf-8", "surrogateescape")
        if r.random() < 0.2:
            body = body[: r.randint(0, len(body))]
        if r.random() < 0.1:
            body = b"\xff\xfe" + body
        return body

    def xml_text(self) -> str:
        return self.text(12).replace("&", "&amp;").replace("<", "&lt;")

    def gen_xml(self) -> Req:
        r = self.rng
        body = self.xml_body()
        upload_key, upload_id = r.choice(self.uploads or [("k", self.text(10, "abc0123"))])
        method, query = r.choice([("POST", [("delete", "")]), ("PUT", [("tagging", "")]),
                                  ("POST", [("uploadId", self.text(10, "abc0123"))]),
                                  ("POST", [("uploadId", upload_id)]),
                                  ("PUT", [("versioning", "")]), ("PUT", [("acl", "")])])
        key = r.choice(OBJECTS) if query[0][0] in ("tagging", "uploadId") and r.random() < 0.7 \
            else None
        if query[0] == ("uploadId", upload_id):
            key = upload_key
        bucket = BUCKET if r.random() < 0.8 else "fuzz-new-" + self.text(5, "abc")
        if r.random() < 0.1:
            method, query, key = "PUT", None, None
        target = self.target(key, query, bucket=bucket)
        headers = {}
        if r.random() < 0.3:
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
        return Req("xml", http_bytes(method, target, self.signed(method, target, body, headers),
                                     body), method)

    def gen_stall(self) -> Req:
        r = self.rng
        if r.random() < 0.5:  # headers never finish
            return Req("stall", f"GET /{BUCKET}/obj0 HTTP/1.1\r\nHost: {self.host}\r\nX-A: "
                       .encode())
        target = self.target(r.choice(OBJECTS[4:]))
        hdrs = self.signed("PUT", target, b"", unsigned_payload=True)
        hdrs = [(k, v) for k, v in hdrs if k.lower() != "content-length"]
        hdrs.append(("Content-Length", "5000"))
        return Req("stall", http_bytes("PUT", target, hdrs, r.randbytes(100)), "PUT")


# --------------------------------------------------------------------------------------------
# Sending


class Hang(Exception):
    pass


async def read_response(reader: asyncio.StreamReader, method: str) -> int | None:
    """The final response's status (interim 1xx skipped), its body read and dropped; None if
    the server closed without a response."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            raise AssertionError("response head over the reader's limit")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError(f"not an HTTP response: {lines[0]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            continue
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304):
            return status
        if "content-length" in headers:
            remaining = int(headers["content-length"])
            while remaining > 0:
                piece = await reader.read(min(remaining, 65536))
                if not piece:
                    break
                remaining -= len(piece)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            read = 0
            while read < MAX_RESPONSE_BYTES:
                size_line = await reader.readline()
                if not size_line:
                    break
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                await reader.readexactly(size + 2)
                read += size
                if size == 0:
                    break
        return status


@dataclass
class Stats:
    by_class: collections.Counter = field(default_factory=collections.Counter)
    by_kind: dict[str, collections.Counter] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter))
    fives: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    protocol_errors: list[str] = field(default_factory=list)
    samples: dict[str, list[bytes]] = field(
        default_factory=lambda: collections.defaultdict(list))

    def add(self, kind: str, outcome: str, data: bytes = b"") -> None:
        self.by_class[outcome] += 1
        self.by_kind[kind][outcome] += 1
        if len(self.samples[f"{kind}:{outcome}"]) < 5:
            self.samples[f"{kind}:{outcome}"].append(data[:600])


def outcome_of(status: int | None) -> str:
    """Status class; 501 apart: NotImplemented is S3's deliberate answer for a feature the
    gateway does not serve (OPTIONS, ACL grants, reading one part ...), not a failure."""
    if status is None:
        return "closed"
    if status == 501:
        return "501"
    return f"{status // 100}xx"


async def send_one(host: str, port: int, req: Req, timeout: float) -> int | None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=1 << 20),
                                            timeout)
    try:
        async with asyncio.timeout(timeout):
            try:
                writer.write(req.data)
                await writer.drain()
                if req.eof_after and writer.can_write_eof():
                    # What was sent is all there is: a half-close, which the server must
                    # answer or close on, never wait out.
                    writer.write_eof()
            except (ConnectionResetError, BrokenPipeError):
                pass  # the server may answer and close before reading all we sent
            try:
                return await read_response(reader, req.method)
            except (ConnectionResetError, BrokenPipeError):
                return None
    except TimeoutError:
        raise Hang(f"{req.kind}: no answer within {timeout}s to {req.data[:200]!r}") from None
    finally:
        # An abortive close (RST): no TIME_WAIT on our side, across 100,000 connections.
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()


async def fuzz(host: str, port: int, gen: Generator, count: int, concurrency: int,
               timeout: float, progress: bool) -> Stats:
    stats = Stats()
    queue: asyncio.Queue[Req | None] = asyncio.Queue(maxsize=concurrency * 4)
    started = time.monotonic()

    async def producer() -> None:
        for _ in range(count):
            await queue.put(gen.next())
        for _ in range(concurrency):
            await queue.put(None)

    async def worker() -> None:
        while (req := await queue.get()) is not None:
            try:
                status = await send_one(host, port, req, timeout)
            except Hang as exc:
                stats.hangs.append(str(exc)[:400])
                stats.add(req.kind, "hang")
                continue
            except (AssertionError, ValueError) as exc:
                stats.protocol_errors.append(f"{req.kind}: {exc}: {req.data[:200]!r}"[:400])
                stats.add(req.kind, "bad-response")
                continue
            except OSError as exc:
                stats.add(req.kind, "connect-error")
                stats.protocol_errors.append(f"{req.kind}: {exc!r}")
                continue
            outcome = outcome_of(status)
            if outcome == "5xx":
                stats.fives.append(f"{req.kind} -> {status}: {req.data[:300]!r}")
            stats.add(req.kind, outcome, req.data)
            done = sum(stats.by_class.values())
            if progress and done % 5000 == 0:
                rate = done / max(time.monotonic() - started, 1e-9)
                print(f"  {done:,} requests, {rate:.0f}/s, {dict(stats.by_class)}", flush=True)

    await asyncio.gather(producer(), *(worker() for _ in range(concurrency)))
    return stats


# --------------------------------------------------------------------------------------------
# Setup and final checks


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 3}, connect_timeout=10,
                                      read_timeout=60))


def prepare(client: Any) -> list[tuple[str, str]]:
    """The bucket, its objects, and a few open multipart uploads (key, upload id) with a
    part each, for requests to aim at."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    for i, key in enumerate(OBJECTS):
        client.put_object(Bucket=BUCKET, Key=key, Body=bytes(range(256)) * (i * 20 + 1))
    uploads = []
    for i in range(3):
        key = f"mp{i}"
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                           Body=b"p" * 100)
        uploads.append((key, upload_id))
    return uploads


def final_put_get(client: Any) -> str | None:
    """None if a normal PUT and GET still work, else what went wrong."""
    body = hashlib.sha256(str(time.time()).encode()).digest() * 1000
    try:
        client.put_object(Bucket=BUCKET, Key="after-fuzz", Body=body)
        got = client.get_object(Bucket=BUCKET, Key="after-fuzz")["Body"].read()
    except Exception as exc:  # reported, not raised: the verdict is the exit code
        return f"final PUT/GET failed: {exc!r}"
    return None if got == body else "final GET returned other bytes than the PUT"


@contextlib.contextmanager
def own_cluster(workdir: Path | None, gateway_args: list[str]) -> Iterator[Any]:
    from tests.integration.harness import Cluster

    root = Path(tempfile.mkdtemp(prefix="plen-fuzz-", dir=workdir))
    cluster = Cluster(root, gateway=True, gateway_args=gateway_args)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def process_census(cluster: Any) -> dict[str, int]:
    """Cluster process name -> PID, plus the gateway's workers (its children)."""
    import psutil

    pids = {name: cluster.pid(name) for name in cluster.names}
    gateway = pids.get(cluster.GATEWAY)
    if gateway is not None:
        with contextlib.suppress(psutil.Error):
            children = sorted(psutil.Process(gateway).children(), key=lambda p: p.pid)
            for i, child in enumerate(children):
                pids[f"gateway-worker{i}"] = child.pid
    return pids


def dead_processes(census: dict[str, int | None]) -> list[str]:
    import psutil

    dead = []
    for name, pid in census.items():
        try:
            alive = pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if not alive:
            dead.append(f"{name} (pid {pid})")
    return dead


def error_lines(log: str) -> list[str]:
    """The ERROR lines of a JSON log, each as its message and traceback."""
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            found.append(f"{record.get('message')} {record.get('exc_info', '')}".strip())
    return found


@dataclass
class Result:
    stats: Stats
    dead: list[str]
    final_error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return not (self.stats.fives or self.stats.hangs or self.dead or self.final_error
                    or self.stats.by_class.get("bad-response"))

    def report(self) -> str:
        total = sum(self.stats.by_class.values())
        lines = [f"requests: {total:,} in {self.seconds:.0f}s ({total / max(self.seconds, 1e-9):.0f}/s)"]
        order = ["2xx", "3xx", "4xx", "501", "5xx", "closed", "hang", "bad-response",
                 "connect-error"]
        lines.append("by status class: " + ", ".join(
            f"{k} {self.stats.by_class.get(k, 0):,}" for k in order))
        for kind in MIX:
            if kind in self.stats.by_kind:
                counts = self.stats.by_kind[kind]
                lines.append(f"  {kind:<12}" + ", ".join(f"{k} {counts[k]:,}" for k in order
                                                         if counts.get(k)))
        for title, items in (("5xx", self.stats.fives), ("hangs", self.stats.hangs),
                             ("bad responses / connection errors", self.stats.protocol_errors)):
            if items:
                lines.append(f"{title} ({len(items)}), first ones:")
                lines += ["  " + item for item in items[:10]]
        lines.append("processes: " + ("all alive" if not self.dead
                                      else "DEAD: " + ", ".join(self.dead)))
        lines.append("final PUT/GET: " + (self.final_error or "ok"))
        lines.append("verdict: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def run(endpoint: str, access_key: str, secret_key: str, *, requests: int, seed: int,
        concurrency: int, timeout: float, stalls: bool, census: Callable[[], dict[str, int]]
        | None = None, progress: bool = False) -> Result:
    """Fuzz ``endpoint`` and check it afterwards (the tests call this too)."""
    url = urlsplit(endpoint)
    if url.scheme != "http":
        raise SystemExit("only http:// endpoints (the fuzzer speaks raw HTTP/1.1)")
    host, port = url.hostname or "127.0.0.1", url.port or 80
    client = s3_client(endpoint, access_key, secret_key)
    uploads = prepare(client)
    before = census() if census is not None else {}
    gen = Generator(random.Random(seed), f"{host}:{port}", access_key, secret_key,
                    stalls=stalls)
    gen.uploads = uploads
    began = time.monotonic()
    stats = asyncio.run(fuzz(host, port, gen, requests, concurrency, timeout, progress))
    seconds = time.monotonic() - began
    dead = dead_processes(before) if census is not None else []
    if census is not None and not dead:
        after = census()
        dead += [f"{n} (pid {before[n]} replaced by {after.get(n)})" for n in before
                 if after.get(n) != before[n]]
    return Result(stats, dead, final_put_get(client), seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds without an answer that count as a hang")
    ap.add_argument("--endpoint", default=None,
                    help="fuzz this gateway (http://host:port) instead of an own cluster")
    ap.add_argument("--access-key", default=None)
    ap.add_argument("--secret-key", default=None)
    ap.add_argument("--stalls", action="store_true",
                    help="with --endpoint: also send requests that stop half way (each waits "
                         "for the gateway's deadlines)")
    ap.add_argument("--workers", type=int, default=0,
                    help="own cluster: gateway worker processes (0: one per core)")
    ap.add_argument("--dir", type=Path, default=None, help="own cluster: where its data goes")
    ap.add_argument("--json", action="store_true", help="also print the counts as JSON")
    ap.add_argument("--samples", action="append", default=[], metavar="KIND:CLASS",
                    help="print up to 5 requests of this kind and outcome (e.g. forged:2xx)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed {seed}, {args.requests:,} requests, concurrency {args.concurrency}", flush=True)
    if args.endpoint:
        if not (args.access_key and args.secret_key):
            ap.error("--endpoint needs --access-key and --secret-key")
        result = run(args.endpoint, args.access_key, args.secret_key, requests=args.requests,
                     seed=seed, concurrency=args.concurrency, timeout=args.timeout,
                     stalls=args.stalls, progress=True)
    else:
        gateway_args = GATEWAY_DEADLINES + (["--workers", str(args.workers)]
                                            if args.workers else [])
        with own_cluster(args.dir, gateway_args) as cluster:
            print(f"cluster up: gateway {cluster.gateway_url}", flush=True)
            result = run(cluster.gateway_url, cluster.s3_access_key, cluster.s3_secret_key,
                         requests=args.requests, seed=seed, concurrency=args.concurrency,
                         timeout=args.timeout, stalls=True,
                         census=lambda: process_census(cluster), progress=True)
            errors = error_lines(cluster.log(cluster.GATEWAY))
            if errors:
                print(f"gateway ERROR log lines ({len(errors)}), the first distinct ones:")
                for line in list(dict.fromkeys(errors))[:8]:
                    print("  " + line[:3000])
    print(result.report())
    for wanted in args.samples:
        for data in result.stats.samples.get(wanted, []):
            print(f"{wanted}: {data!r}")
    if args.json:
        print(json.dumps({"seed": seed, "by_class": dict(result.stats.by_class),
                          "by_kind": {k: dict(v) for k, v in result.stats.by_kind.items()},
                          "dead": result.dead, "final_error": result.final_error,
                          "ok": result.ok}))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
