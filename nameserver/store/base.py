"""The metadata store contract: what the nameserver asks of its store.

``RedisStore`` is the one implementation (production Redis or the embedded redis-server);
``tests/store/test_contract.py`` runs the same suite against both. Paths are lists of
components; entries are the JSON strings the namespace layer builds (the store keeps them
verbatim and reads only block ids, md5 and directory ids out of them).
Store errors are ``WireError``s with the code the Lua script raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NewBlock:
    block_id: str
    replicas: list[str]  # server ids; empty for a block that is already live
    crc32c: int | None = None  # of a freshly written block; None for one already live


@dataclass(frozen=True, slots=True)
class Guard:
    """The source of a copy: the file at ``path`` must still hold exactly ``entry_json``."""

    path: list[str]
    entry_json: str


@dataclass(frozen=True, slots=True)
class UploadGuard:
    """A multipart upload a commit consumes; its ``parts`` (number, part JSON) must be
    unchanged."""

    upload_id: str
    parts: list[tuple[int, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockInfo:
    block_id: str
    state: str  # alloc | live
    size: int
    crc32c: int | None  # None until the block is live
    replicas: frozenset[str]  # server ids in the block map


@dataclass(slots=True)
class ServerRecord:
    server_id: str
    public_url: str
    private_url: str
    zone: str
    capacity_bytes: int
    used_bytes: int
    last_heartbeat: float
    registered_at: float
    blocks: int = 0
    state: str = "live"
    draining: bool = False


class MetaStore(Protocol):
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    # namespace
    async def get_entries(self, path: list[str]) -> tuple[str | None, str | None]: ...
    async def list_members(self, path: list[str], lo: bytes, hi: bytes,
                           limit: int) -> list[tuple[bytes, str]]: ...
    async def commit_file(self, path: list[str], entry_json: str, blocks: list[NewBlock], *,
                          now: float, parents: bool, if_absent: bool, if_md5: str | None,
                          want_rf: int, guard: Guard | None = None,
                          upload: UploadGuard | None = None) -> None: ...
    async def replace_entry(self, path: list[str], old_json: str, new_json: str) -> None: ...
    async def delete_file(self, path: list[str], *, if_md5: str | None) -> str: ...
    async def mkdir(self, path: list[str], *, now: float, parents: bool, exist_ok: bool,
                    mark_parents: bool = True) -> tuple[str, bool]: ...
    async def rmdir(self, path: list[str], *, recursive: bool,
                    unmark: bool = False) -> None: ...
    async def rename(self, src: list[str], dst: list[str], *, kind: str, overwrite: bool,
                     parents: bool, now: float) -> None: ...
    async def init(self) -> None: ...
