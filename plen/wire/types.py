"""Ids and small values shared by every conversation."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import NewType

BlockId = NewType("BlockId", str)  # 32 lowercase hex digits, made by the nameserver
ServerId = NewType("ServerId", str)  # 16 lowercase hex digits, made once by each blockstore
DirId = NewType("DirId", str)

_BLOCK_ID = re.compile(r"[0-9a-f]{32}")
_SERVER_ID = re.compile(r"[0-9a-f]{16}")


def new_block_id() -> BlockId:
    return BlockId(secrets.token_hex(16))


def new_server_id() -> ServerId:
    return ServerId(secrets.token_hex(8))


def is_block_id(value: str) -> bool:
    """Block ids become file names on blockstores, so only this exact shape is accepted."""
    return _BLOCK_ID.fullmatch(value) is not None


def is_server_id(value: str) -> bool:
    return _SERVER_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Replica:
    """Where one copy of a block lives, as the reader or writer should reach it."""

    server_id: ServerId
    url: str  # base URL, e.g. http://10.0.0.5:7101


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRef:
    """One block of a file as committed: which bytes, and the checksum that guards them."""

    block_id: BlockId
    size: int
    crc32c: int  # of the whole block, as stored
    # A slice (from a ranged part copy) uses ``size`` bytes from ``start`` inside the stored
    # block; None: the file uses the whole block.
    start: int | None = None
