"""Block files on local disk: the only code that touches a blockstore's data directory.

Layout of the data directory::

    server_id              this server's id, made once with ``new_server_id``
    lock                   flock()ed while a process serves the directory
    blocks/<id[:2]>/<id>   one file per block: its bytes, then their CRC32C (4 bytes, big-endian)
    tmp/                   blocks being received; whatever is here at start is crash debris
    quarantine/<id>.<ns>   blocks found corrupt: kept aside for a post-mortem, never served

Rule 1: a block id becomes part of a path only after ``is_block_id`` accepted it; nothing
else that came from a client ever does.
Rule 2: a block file appears only by renaming a complete, checked, fsynced temp file. The
checksum is a trailer of the same file, so block and checksum arrive (and leave) together:
there is no sidecar that a crash could lose or leave behind.
Rule 3: a block found corrupt (on read, scrub or copy) is quarantined at once and recorded in
``changes``, which the agent sends with its next heartbeat.
Rule 4: everything that blocks (file I/O, fsync, CRC32C over a block, statvfs) runs in a
thread; the in-memory index and ``changes`` are only touched on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, AsyncIterator, Callable, Sequence, TypeVar

from plen.checksum import Crc32c
from plen.wire.errors import ErrorCode, WireError
from plen.wire.types import BlockId, ServerId, is_block_id, is_server_id, new_server_id

log = logging.getLogger("blockstore.disk")
T = TypeVar("T")
BytesLike = bytes | bytearray | memoryview

TRAILER = struct.Struct(">I")  # the block's CRC32C, after its bytes
READ_CHUNK_BYTES = 1 << 20


class DataDirError(Exception):
    """The data directory cannot be served (in use by another process, damaged identity)."""


class _CorruptError(Exception):
    """Raised inside worker threads; the event-loop side quarantines and answers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskUsage:
    capacity_bytes: int
    used_bytes: int  # bytes of blocks held
    free_bytes: int  # what one more write may still use


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockInfo:
    size: int
    crc32c: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenBlock:
    """A verified block file, open for serving; ``size`` excludes the trailer."""

    file: IO[bytes]
    size: int
    crc32c: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    added: dict[BlockId, int]
    removed: frozenset[BlockId]
    corrupt: frozenset[BlockId]


class ChangeLog:
    """What changed since the agent last reported: the deltas of the next heartbeat.

    A quarantined block is both removed and corrupt; a block stored again afterwards is
    only added, because the nameserver applies ``added`` before ``removed``/``corrupt``.
    """

    def __init__(self) -> None:
        self._added: dict[BlockId, int] = {}
        self._removed: set[BlockId] = set()
        self._corrupt: set[BlockId] = set()

    def note_added(self, block_id: BlockId, size: int) -> None:
        self._removed.discard(block_id)
        self._corrupt.discard(block_id)
        self._added[block_id] = size

    def note_removed(self, block_id: BlockId) -> None:
        self._added.pop(block_id, None)
        self._removed.add(block_id)

    def note_corrupt(self, block_id: BlockId) -> None:
        self.note_removed(block_id)
        self._corrupt.add(block_id)

    def take(self) -> Changes:
        taken = Changes(added=self._added, removed=frozenset(self._removed),
                        corrupt=frozenset(self._corrupt))
        self._added, self._removed, self._corrupt = {}, set(), set()
        return taken

    def restore(self, unsent: Changes) -> None:
        """Put back a batch the nameserver may not have seen, under whatever happened since."""
        newer = self.take()
        for batch in (unsent, newer):
            for block_id in batch.removed:
                self.note_removed(block_id)
            for block_id, size in batch.added.items():
                self.note_added(block_id, size)
            self._corrupt |= batch.corrupt


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_space(exc: OSError) -> WireError | None:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WireError(ErrorCode.NO_SPACE, f"disk full: {exc.strerror}")
    return None


def _check_open(f: IO[bytes], expected_crc: int | None) -> BlockInfo:
    size = os.fstat(f.fileno()).st_size - TRAILER.size
    if size < 0:
        raise _CorruptError(f"a file of {size + TRAILER.size} bytes has no checksum trailer")
    crc = Crc32c()
    remaining = size
    while remaining:
        chunk = f.read(min(READ_CHUNK_BYTES, remaining))
        if not chunk:
            raise _CorruptError("the file shrank while being read")
        crc.update(chunk)
        remaining -= len(chunk)
    trailer = f.read(TRAILER.size)
    if len(trailer) != TRAILER.size:
        raise _CorruptError("the checksum trailer is cut short")
    (stored,) = TRAILER.unpack(trailer)
    if crc.value != stored:
        raise _CorruptError(f"content CRC32C {crc.value} differs from stored {stored}")
    if expected_crc is not None and stored != expected_crc:
        raise _CorruptError(f"stored CRC32C {stored} differs from expected {expected_crc}")
    return BlockInfo(size=size, crc32c=stored)


def _verify_file(path: Path, expected_crc: int | None) -> BlockInfo:
    with open(path, "rb") as f:
        return _check_open(f, expected_crc)


def _open_verified(path: Path) -> OpenBlock:
    f = open(path, "rb")
    try:
        info = _check_open(f, None)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    # Serving from this same descriptor means a concurrent quarantine or delete (a rename
    # or unlink) cannot swap the bytes between the check and the send.
    return OpenBlock(file=f, size=info.size, crc32c=info.crc32c)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            if os.fstat(fa.fileno()).st_size != os.fstat(fb.fileno()).st_size:
                return False
            while chunk := fa.read(READ_CHUNK_BYTES):
                if chunk != fb.read(len(chunk)):
                    return False
            return True
    except FileNotFoundError:
        return False


def _intact(path: Path) -> bool:
    try:
        _verify_file(path, None)
    except (_CorruptError, FileNotFoundError):
        return False
    return True


def _stored_crc(path: Path) -> int | None:
    """The trailer of an existing block file; None when there is no usable one."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size < TRAILER.size:
                return None
            f.seek(-TRAILER.size, os.SEEK_END)
            return TRAILER.unpack(f.read(TRAILER.size))[0]
    except FileNotFoundError:
        return None


class BlockWriter:
    """One block being received: ``write`` chunks, ``seal``, then ``commit`` or ``abort``.

    ``seal`` (check + fsync) and ``commit`` (rename + directory fsync) are separate so a
    pipeline can seal while the next hop is still answering and commit only after it did.
    """

    def __init__(self, disk: BlockDisk, block_id: BlockId, crc32c: int, size: int,
                 tmp_path: Path, file: IO[bytes]) -> None:
        self.block_id = block_id
        self.crc32c = crc32c
        self.size = size
        self._disk = disk
        self._tmp = tmp_path
        self._file = file
        self._crc = Crc32c()
        self._written = 0
        self._finished = False

    async def write(self, chunks: Sequence[BytesLike]) -> None:
        """Append ``chunks`` (one thread hop and one ``writev`` for all of them)."""
        await asyncio.to_thread(self._write, chunks)

    async def seal(self) -> None:
        await asyncio.to_thread(self._seal)

    async def commit(self) -> None:
        """Make the block visible; idempotent for a block already held with the same bytes,
        CONFLICT for other bytes (blocks are immutable). A commit that fails discards the
        temp file."""
        try:
            await asyncio.to_thread(self._commit)
        except BaseException:
            await self.abort()
            raise
        self._finish()
        self._disk._committed(self.block_id, self.size)

    async def abort(self) -> None:
        if not self._finished:
            self._finish()
            await asyncio.to_thread(self._discard)

    def _finish(self) -> None:
        self._finished = True
        self._disk._reserved_bytes -= self.size

    def _write(self, chunks: Sequence[BytesLike]) -> None:
        total = sum(len(chunk) for chunk in chunks)
        if self._written + total > self.size:
            raise WireError(ErrorCode.CHECKSUM_MISMATCH,
                            f"block {self.block_id}: more than the declared {self.size} bytes",
                            block_id=self.block_id)
        views = [memoryview(chunk).cast("B") for chunk in chunks]
        try:
            while views:
                done = os.writev(self._file.fileno(), views)
                while views and done >= len(views[0]):  # a short write: go on where it stopped
                    done -= len(views[0])
                    views.pop(0)
                if views and done:
                    views[0] = views[0][done:]
        except OSError as exc:
            raise _no_space(exc) or exc
        for chunk in chunks:  # here, in the thread, so hashing never holds up the loop
            self._crc.update(chunk)
        self._written += total

    def _seal(self) -> None:
        if self._written != self.size or self._crc.value != self.crc32c:
            raise WireError(
                ErrorCode.CHECKSUM_MISMATCH,
                f"block {self.block_id}: received {self._written} bytes with CRC32C "
                f"{self._crc.value}, expected {self.size} bytes with CRC32C {self.crc32c}",
                block_id=self.block_id)
        try:
            self._file.write(TRAILER.pack(self.crc32c))
            self._file.flush()
            # The bytes must be on stable storage before a rename can publish them: were the
            # rename to reach the disk first, a crash would leave a block file of garbage.
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise _no_space(exc) or exc
        self._file.close()

    def _commit(self) -> None:
        final = self._disk.block_file(self.block_id)
        existing = _stored_crc(final)
        if existing is not None and existing != self.crc32c:
            # Blocks are immutable: the same id with other bytes is a caller's bug, and
            # replacing good data with it would lose the block the nameserver refers to.
            raise WireError(ErrorCode.CONFLICT,
                            f"block {self.block_id} is already stored with CRC32C {existing}",
                            block_id=self.block_id)
        if existing is not None:
            # The same CRC32C: a retried write of the same block, or other bytes made to hash
            # alike (a CRC is no MAC: four chosen bytes forge any value, and a write token
            # outlives its block's commit). The copy held stays unless it is damaged.
            if _same_bytes(self._tmp, final):
                self._tmp.unlink()
                return
            if _intact(final):
                raise WireError(ErrorCode.CONFLICT,
                                f"block {self.block_id} is already stored with other bytes",
                                block_id=self.block_id)
        # tmp/ and blocks/ share one file system, so the rename is atomic: a reader sees no
        # file or the whole block, never a part (only a damaged copy is ever replaced).
        os.replace(self._tmp, final)
        # The rename lives in the directory; without this fsync a crash could forget a
        # block that was already acknowledged.
        _fsync_dir(final.parent)

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class BlockDisk:
    """The blocks of one data directory, with an in-memory index of what is held."""

    def __init__(self, root: Path, *, capacity_bytes: int = 0) -> None:
        self.root = Path(root)
        self.capacity_limit_bytes = capacity_bytes  # 0: no cap beyond the free space
        self.changes = ChangeLog()
        self._index: dict[BlockId, int] = {}
        self._used_bytes = 0
        self._reserved_bytes = 0  # promised to writes in flight
        self._server_id: ServerId | None = None
        self._lock_fd: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._lock_fd is not None

    async def open(self) -> None:
        self._lock_fd, self._server_id, index, damaged = await asyncio.to_thread(self._open)
        self._index = index
        self._used_bytes = sum(index.values())
        for block_id in damaged:
            self.changes.note_corrupt(block_id)
        log.info("data dir %s: server %s, %d blocks, %d bytes", self.root, self._server_id,
                 len(index), self._used_bytes)

    async def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    @property
    def server_id(self) -> ServerId:
        if self._server_id is None:
            raise RuntimeError("BlockDisk.open() has not run")
        return self._server_id

    # -- what is held ----------------------------------------------------------------------

    def block_file(self, block_id: str) -> Path:
        """The path of a block; the one gate between ids from the network and the disk."""
        if not is_block_id(block_id):
            raise WireError(ErrorCode.INVALID, f"not a block id: {block_id[:80]!r}")
        return self.root / "blocks" / block_id[:2] / block_id

    def has(self, block_id: str) -> bool:
        return block_id in self._index

    def inventory(self) -> list[tuple[BlockId, int]]:
        return list(self._index.items())

    @property
    def block_count(self) -> int:
        return len(self._index)

    @property
    def used_bytes(self) -> int:
        return self._used_bytes

    async def usage(self) -> DiskUsage:
        """Capacity is what this server holds plus what it can still take: on a disk shared
        with other data (or other blockstores), the filesystem's size would overstate it."""
        st = await asyncio.to_thread(os.statvfs, self.root)
        room = st.f_bavail * st.f_frsize
        if self.capacity_limit_bytes:
            room = min(room, self.capacity_limit_bytes - self._used_bytes)
        free = max(0, room - self._reserved_bytes)
        return DiskUsage(capacity_bytes=self._used_bytes + free, used_bytes=self._used_bytes,
                         free_bytes=free)

    # -- writing ---------------------------------------------------------------------------

    async def begin_write(self, block_id: str, crc32c: int, size: int) -> BlockWriter:
        self.block_file(block_id)  # refuse a bad id before anything touches the disk
        if size < 0:
            raise WireError(ErrorCode.INVALID, f"negative block size {size}")
        free = (await self.usage()).free_bytes
        if size > free:
            raise WireError(ErrorCode.NO_SPACE,
                            f"no room for {size} bytes ({free} free)", free_bytes=free)
        # Reserve before the next await, so concurrent writes cannot all claim the same room.
        self._reserved_bytes += size
        try:
            tmp_path, file = await asyncio.to_thread(self._create_tmp, block_id)
        except BaseException:
            self._reserved_bytes -= size
            raise
        return BlockWriter(self, BlockId(block_id), crc32c, size, tmp_path, file)

    def _create_tmp(self, block_id: str) -> tuple[Path, IO[bytes]]:
        path = self.root / "tmp" / f"{block_id}.{secrets.token_hex(4)}"
        return path, open(path, "xb", buffering=0)  # BlockWriter writes with os.writev

    def _committed(self, block_id: BlockId, size: int) -> None:
        if block_id not in self._index:
            self._index[block_id] = size
            self._used_bytes += size
            self.changes.note_added(block_id, size)

    # -- reading and checking --------------------------------------------------------------

    async def verify(self, block_id: str, expected_crc: int | None = None) -> BlockInfo:
        """Re-read a whole block and check its CRC32C (and ``expected_crc`` if given)."""
        path = self.block_file(block_id)
        return await self._checked(block_id, lambda: _verify_file(path, expected_crc))

    @contextlib.asynccontextmanager
    async def open_verified(self, block_id: str) -> AsyncIterator[OpenBlock]:
        """The block file, open and checked from end to end, ready to be served."""
        path = self.block_file(block_id)
        block = await self._checked(block_id, lambda: _open_verified(path))
        try:
            yield block
        finally:
            block.file.close()

    async def _checked(self, block_id: str, check: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(check)
        except FileNotFoundError:
            if self._forget(BlockId(block_id)):  # it vanished behind our back
                self.changes.note_removed(BlockId(block_id))
            raise WireError(ErrorCode.NOT_FOUND, f"no block {block_id}", block_id=block_id)
        except _CorruptError as bad:
            await self.quarantine(block_id)
            raise WireError(ErrorCode.CHECKSUM_MISMATCH, f"block {block_id} is corrupt: {bad}",
                            block_id=block_id)

    # -- removing --------------------------------------------------------------------------

    async def quarantine(self, block_id: str) -> None:
        src = self.block_file(block_id)
        dst = self.root / "quarantine" / f"{block_id}.{time.time_ns()}"
        with contextlib.suppress(FileNotFoundError):  # a concurrent reader got there first
            await asyncio.to_thread(os.replace, src, dst)
        self._forget(BlockId(block_id))
        self.changes.note_corrupt(BlockId(block_id))
        log.warning("block %s is corrupt; quarantined as %s", block_id, dst.name)

    async def delete(self, block_id: str) -> bool:
        """Remove a block; False if it was not there. Reported as removed either way."""
        path = self.block_file(block_id)
        try:
            # No directory fsync: a delete that a crash undoes leaves an extra replica, which
            # the nameserver trims again once the server re-registers its inventory.
            await asyncio.to_thread(os.unlink, path)
            existed = True
        except FileNotFoundError:
            existed = False
        self._forget(BlockId(block_id))
        self.changes.note_removed(BlockId(block_id))
        return existed

    def _forget(self, block_id: BlockId) -> bool:
        size = self._index.pop(block_id, None)
        if size is None:
            return False
        self._used_bytes -= size
        return True

    # -- opening (in a thread) -------------------------------------------------------------

    def _open(self) -> tuple[int, ServerId, dict[BlockId, int], list[BlockId]]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirError(f"{self.root} is in use by another blockstore") from None
            for sub in ("tmp", "quarantine", *(f"blocks/{i:02x}" for i in range(256))):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            for stale in (self.root / "tmp").iterdir():
                # Nothing is being written yet: every temp file is an unfinished write of a
                # previous process, never acknowledged, so it goes.
                stale.unlink(missing_ok=True)
            server_id = self._load_server_id()
            index, damaged = self._scan()
        except BaseException:
            os.close(lock_fd)
            raise
        return lock_fd, server_id, index, damaged

    def _load_server_id(self) -> ServerId:
        path = self.root / "server_id"
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = new_server_id()
            tmp = path.with_name("server_id.tmp")
            with open(tmp, "w") as f:
                f.write(value + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(self.root)  # an identity forgotten in a crash would orphan every block
            return ServerId(value)
        if not is_server_id(value):
            raise DataDirError(f"{path} holds no valid server id: {value[:40]!r}")
        return ServerId(value)

    def _scan(self) -> tuple[dict[BlockId, int], list[BlockId]]:
        index: dict[BlockId, int] = {}
        damaged: list[BlockId] = []
        for i in range(256):
            sub = self.root / "blocks" / f"{i:02x}"
            with os.scandir(sub) as entries:
                for entry in entries:
                    if not is_block_id(entry.name) or entry.name[:2] != sub.name:
                        log.warning("ignoring stray file %s", entry.path)
                        continue
                    size = entry.stat().st_size - TRAILER.size
                    if size < 0:
                        os.replace(entry.path, self.root / "quarantine"
                                   / f"{entry.name}.{time.time_ns()}")
                        damaged.append(BlockId(entry.name))
                        continue
                    index[BlockId(entry.name)] = size
        return index, damaged
