"""Hostile object keys, shared by every compat test that moves keys around.

A superset of the ``HOSTILE`` list in tests/store/test_contract.py (STYLE F: one list of
hostile keys). Rules: every key is valid for S3 (1 to 1024 UTF-8 bytes, no NUL) and none may be
normalised: ``a//b``, ``../x`` and a trailing ``/`` stay exactly as written. A key ending in
``/`` holds no data here, because Plenilune stores it as a directory marker.
"""

from __future__ import annotations

MAX_KEY_BYTES = 1024

KEYS: list[str] = [
    "a",
    "a/b",  # beside "a": a file and a directory of the same name
    "a//b",
    "a-c",  # sorts between "a" and "a/b" (0x2d < 0x2f)
    "../x",
    "./y",
    "dir/",
    "deep/er/than/that/",
    "100%",
    "%2F",
    "a+b",
    "sp ace",
    " leading-space",
    "trailing-space ",
    "#frag",
    "q?x=1&y=2",
    "semi;colon,comma",
    "ünï/cødé",
    "日本語/キー",
    "emoji😀",
    "ctl\x01\x7f",
    "tab\there",
    "x" * MAX_KEY_BYTES,
    "é" * (MAX_KEY_BYTES // 2),  # 1024 bytes in 512 characters
]

TOO_LONG_KEY = "y" * (MAX_KEY_BYTES + 1)


def byte_order(keys: list[str]) -> list[str]:
    """S3's listing order: by UTF-8 bytes."""
    return sorted(keys, key=lambda k: k.encode())


def body_for(key: str) -> bytes:
    return b"" if key.endswith("/") else key.encode()


assert all(0 < len(k.encode()) <= MAX_KEY_BYTES for k in KEYS)
