"""What every third-party client test shares: the payload sizes, the hostile key names a
client must carry, and finding the client itself.

Rules:

1. Every client moves the same five payloads (``SIZES``): empty, one byte, 4 KiB (the
   largest object Plenilune stores inline), 1 MiB, and about 40 MiB (several 8 MiB blocks,
   and above every client's multipart threshold). Bytes are pseudo-random from a fixed seed
   and compared byte for byte after the round trip.
2. ``CLIENT_KEYS`` are the hostile names the issue of record names (spaces, unicode, ``+``,
   ``%``, ``#``, nested prefixes, ``a`` beside ``a/b``). They are a subset of
   ``compat_tests.keys.KEYS``: names a local file system can hold too, except that ``a`` and
   ``a/b`` cannot both be files, so clients that mirror directories move them one by one.
3. A client that is not installed is skipped with the reason and the command that installs
   it, so a developer machine without root still passes. CI sets ``PLEN_REQUIRE_CLIENTS=1``,
   which turns that skip into a failure: a CI run never passes by not running a client.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from compat_tests.helpers import MiB
from compat_tests.keys import KEYS, byte_order

SIZES: dict[str, int] = {
    "0B": 0,
    "1B": 1,
    "4KiB": 4096,
    "1MiB": MiB,
    "40MiB": 40 * MiB + 13,  # not a multiple of any part size
}

CLIENT_KEYS: list[str] = [
    "sp ace/file name.txt",
    " leading-space",
    "ünï/cødé",
    "日本語/キー",
    "emoji😀",
    "a+b",
    "100%",
    "%2F",
    "#frag",
    "deep/er/than/that/leaf",
    "a",
    "a/b",
]

# A small directory tree for sync and recursive copies: a space, nested directories.
TREE: dict[str, bytes] = {
    "a.txt": b"alpha\n",
    "with space.txt": b"spaced out\n",
    "sub/b.txt": b"bravo bravo\n",
    "sub/deep/c.bin": bytes(range(256)) * 4,
}

REQUIRE_ENV = "PLEN_REQUIRE_CLIENTS"

assert set(CLIENT_KEYS) - {"sp ace/file name.txt", "deep/er/than/that/leaf"} <= set(KEYS)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(f"{seed}:{size}").randbytes(size)


def write_payloads(root: Path, seed: int = 0) -> dict[str, bytes]:
    """Write one file per size under ``root`` (named ``<label>.bin``); returns {name: bytes}."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for label, size in SIZES.items():
        data = payload(size, seed)
        (root / f"{label}.bin").write_bytes(data)
        files[f"{label}.bin"] = data
    return files


def write_tree(root: Path, files: dict[str, bytes], *, mtime: float | None = None) -> None:
    """Write ``files`` ({relative path: bytes}) under ``root``, each dated ``mtime`` if given."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as {relative path: bytes}."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file()}


def stored_objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix`` (key without the prefix -> bytes), read with boto3;
    asserts the listing is in S3 (UTF-8 byte) order."""
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
    assert keys == byte_order(keys), keys
    return {k.removeprefix(prefix): s3.get_object(Bucket=bucket, Key=k)["Body"].read()
            for k in keys}


def _missing(what: str, install: str) -> None:
    message = f"{what} is not installed ({install})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires every client")
    pytest.skip(message)


def require_binary(name: str, install: str) -> str:
    """The path of the command ``name``, or a skip naming how to install it."""
    path = shutil.which(name)
    if path is None:
        _missing(f"the `{name}` command", install)
    assert path is not None
    return path


def require_module(name: str, install: str) -> ModuleType:
    """The imported module ``name``, or a skip naming how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python module `{name}`", install)
        raise
