"""CRC32C, the checksum that guards every block on disk and on the wire (hardware-backed
through the ``crc32c`` package; no pure-Python loop)."""

from __future__ import annotations

import crc32c as _crc32c


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC32C of ``data``, continuing from ``value`` (the CRC of everything before it)."""
    return _crc32c.crc32c(data, value)


class Crc32c:
    """Incremental CRC32C over a stream of chunks."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.value = _crc32c.crc32c(data, self.value)
