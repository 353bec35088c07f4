"""boto3's managed transfers (s3transfer) at their defaults: 8 MiB multipart threshold and
chunks, ranged parallel downloads."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

from compat_tests.helpers import MiB, multipart_etag

CHUNK = 8 * MiB  # s3transfer's default multipart_threshold and multipart_chunksize


class NonSeekable(io.RawIOBase):
    """A read-only stream that cannot seek or tell (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


def test_upload_file_and_download_file_of_20_mib(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = random.Random(20).randbytes(20 * MiB + 123)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), bucket, "transfer/big.bin")

    head = s3.head_object(Bucket=bucket, Key="transfer/big.bin")
    assert head["ContentLength"] == len(data)
    parts = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    assert head["ETag"] == multipart_etag(parts)  # three parts: 8 + 8 + 4 MiB

    target = tmp_path / "back.bin"
    s3.download_file(bucket, "transfer/big.bin", str(target))
    assert target.read_bytes() == data


def test_upload_fileobj_from_non_seekable_stream(s3: Any, bucket: str) -> None:
    data = random.Random(12).randbytes(12 * MiB + 7)
    s3.upload_fileobj(NonSeekable(data), bucket, "stream.bin")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "stream.bin", out)
    assert out.getvalue() == data
    parts = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    assert s3.head_object(Bucket=bucket, Key="stream.bin")["ETag"] == multipart_etag(parts)


def test_upload_fileobj_small_stream_is_single_put(s3: Any, bucket: str) -> None:
    s3.upload_fileobj(NonSeekable(b"tiny"), bucket, "tiny.bin")
    assert s3.get_object(Bucket=bucket, Key="tiny.bin")["Body"].read() == b"tiny"
    assert "-" not in s3.head_object(Bucket=bucket, Key="tiny.bin")["ETag"]
