"""Memory stays bounded through the S3 gateway: a 1 GiB upload from a non-seekable stream
(boto3 multipart) and a streamed GET keep the gateway's resident memory far below the object
size. The client side streams too: the bytes are generated as they are read and hashed as
they arrive, never held whole."""

from __future__ import annotations

import hashlib
import io
import os

import psutil
import pytest
from boto3.s3.transfer import TransferConfig

from tests.integration.harness import Cluster
from tests.integration.test_memory import PeakRSS

MiB = 1024 * 1024
SIZE = 1024 * MiB
PART = 8 * MiB
LIMIT = 300 * MiB  # far below 1 GiB; a gateway buffering the object would blow through it


class GeneratedStream(io.RawIOBase):
    """``size`` bytes made up as they are read (each MiB distinct), MD5 kept on the way;
    not seekable, so boto3 cannot learn the size or read twice."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.index = 0
        self.pattern = os.urandom(MiB)
        self.pending = memoryview(b"")
        self.md5 = hashlib.md5()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self.pending and self.left:
            piece = (self.index.to_bytes(8, "big") + self.pattern[8:])[: self.left]
            self.index += 1
            self.left -= len(piece)
            self.md5.update(piece)
            self.pending = memoryview(piece)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.cluster(gateway=True, block_size=8 * MiB)
def test_1gib_upload_and_download_through_s3_keep_gateway_memory_bounded(
        cluster: Cluster) -> None:
    s3 = cluster.s3_client()
    s3.create_bucket(Bucket="big")
    gateway = cluster.pid("gateway")
    assert gateway is not None
    # The gateway is its worker processes (plen/prefork.py) and their parent: all counted,
    # the pages they share once (PSS).
    gateway_pids = [gateway, *(c.pid for c in psutil.Process(gateway).children())]
    source = GeneratedStream(SIZE)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                            max_concurrency=4)
    with PeakRSS(gateway_pids, proportional=True) as put_rss:
        with io.BufferedReader(source, buffer_size=MiB) as stream:
            s3.upload_fileobj(stream, "big", "object", Config=config)
    assert source.left == 0
    head = s3.head_object(Bucket="big", Key="object")
    assert head["ContentLength"] == SIZE
    assert head["ETag"].strip('"').endswith(f"-{SIZE // PART}")

    got = hashlib.md5()
    received = 0
    with PeakRSS(gateway_pids, proportional=True) as get_rss:
        body = s3.get_object(Bucket="big", Key="object")["Body"]
        with body:
            for piece in body.iter_chunks(MiB):
                got.update(piece)
                received += len(piece)
    assert received == SIZE
    assert got.hexdigest() == source.md5.hexdigest()
    for label, rss in (("put", put_rss.peak), ("get", get_rss.peak)):
        peak = sum(rss.values())  # at least the peak of the sum
        print(f"gateway {label} peak PSS ({len(rss)} processes): {peak / MiB:.0f} MiB")
        assert 0 < peak < LIMIT, f"{label}: gateway peaked at {peak / MiB:.0f} MiB"
