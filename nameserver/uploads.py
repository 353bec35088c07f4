"""Multipart uploads: parts stored as blocks, one commit to make the file.

Rule 1: a part holds one reference on each of its blocks (fresh ones, or live slices of
another file for a part copy), so nothing is collected while the upload is open.
Rule 2: completion is one ``commit_file`` script that also consumes the upload, guarded by
the exact part records validated here: the new file takes references on the listed parts'
blocks and the upload releases all of its own, so no byte is copied whatever the size.
Rule 3: an upload belongs to its bucket's directory id (it follows a rename of the bucket
and goes when the bucket goes); upload ids are time-ordered, so a key's uploads list in the
order they were initiated.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any, Callable

from nameserver.namespace import block_json, check_blocks, entry_json, file_entry, file_path
from nameserver.settings import Settings
from nameserver.store.base import NewBlock, UploadGuard
from nameserver.store.redis_store import PARENTS_BELOW_TOP, RedisStore
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AbortUploadRequest,
    CompleteUploadRequest,
    CreateUploadRequest,
    EmptyResponse,
    FileResponse,
    ListPartsRequest,
    ListPartsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    PartEntry,
    PartResponse,
    PutPartRequest,
    UploadEntry,
    UploadResponse,
)

MAX_PART_NUMBER = 10_000
MAX_PAGE = 1000
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_MD5 = re.compile(r"[0-9a-f]{32}")


def new_upload_id() -> str:
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def bucket_and_key(path: str) -> tuple[list[str], str, str]:
    """(components, bucket, key) of a ``/bucket/key`` path."""
    comps = file_path(path)
    if len(comps) < 2 or not comps[0] or not comps[-1]:
        raise WireError(ErrorCode.INVALID, f"not a /bucket/key path: {path!r}")
    return comps, comps[0], "/".join(comps[1:])


def _check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise WireError(ErrorCode.NO_SUCH_UPLOAD, f"no such upload: {upload_id!r}")


def upload_entry(upload_id: str, key: str, info_json: str) -> UploadEntry:
    info = json.loads(info_json)
    return UploadEntry(upload_id=upload_id, key=key, initiated=info.get("initiated", 0.0),
                       content_type=info.get("ct"), meta=info.get("meta") or {})


def part_entry(number: int, part: dict[str, Any]) -> PartEntry:
    return PartEntry(part_number=number, size=part["size"], md5=part["md5"],
                     mtime=part["mtime"], checksums=part.get("cs") or {})


class Uploads:
    def __init__(self, store: RedisStore, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def create_upload(self, req: CreateUploadRequest) -> UploadResponse:
        _, bucket, key = bucket_and_key(req.path)
        upload_id = new_upload_id()
        info = {"initiated": self.clock(), "ct": req.content_type, "meta": req.meta}
        await self.store.create_upload(bucket, key, upload_id, entry_json(info))
        return UploadResponse(upload=UploadEntry(upload_id=upload_id, key=key,
                                                 initiated=info["initiated"],
                                                 content_type=req.content_type, meta=req.meta))

    async def put_part(self, req: PutPartRequest) -> PartResponse:
        _, _, key = bucket_and_key(req.path)
        _check_upload_id(req.upload_id)
        if not 1 <= req.part_number <= MAX_PART_NUMBER:
            raise WireError(ErrorCode.INVALID, f"part number must be 1 to {MAX_PART_NUMBER}")
        if not _MD5.fullmatch(req.md5):
            raise WireError(ErrorCode.INVALID, "a part's md5 is 32 lowercase hex digits")
        check_blocks(req.blocks, req.size)
        part = {"size": req.size, "md5": req.md5, "mtime": self.clock(), "cs": req.checksums,
                "blocks": [block_json(b.block) for b in req.blocks]}
        await self.store.put_part(
            req.upload_id, key, req.part_number, entry_json(part),
            [NewBlock(block_id=b.block.block_id, replicas=list(b.replicas),
                                  crc32c=b.block.crc32c) for b in req.blocks],
            want_rf=self.settings.replication_factor)
        return PartResponse(part=part_entry(req.part_number, part))

    async def _upload(self, upload_id: str, key: str) -> dict[str, str]:
        _check_upload_id(upload_id)
        h = await self.store.get_upload(upload_id)
        if h is None or h.get("key") != key:
            raise WireError(ErrorCode.NO_SUCH_UPLOAD, f"no such upload: {upload_id}")
        return h

    async def list_parts(self, req: ListPartsRequest) -> ListPartsResponse:
        _, _, key = bucket_and_key(req.path)
        h = await self._upload(req.upload_id, key)
        limit = max(1, min(req.limit, MAX_PAGE))
        numbers = sorted(int(f) for f in h if f.isdigit() and int(f) > req.after)
        parts = [part_entry(n, json.loads(h[str(n)])) for n in numbers[:limit]]
        return ListPartsResponse(upload=upload_entry(req.upload_id, key, h["info"]),
                                 parts=parts, truncated=len(numbers) > limit)

    async def list_uploads(self, req: ListUploadsRequest) -> ListUploadsResponse:
        limit = max(1, min(req.limit, MAX_PAGE))
        lo, hi = _uploads_range(req.prefix, req.key_marker, req.upload_id_marker)
        rows = await self.store.list_uploads(req.bucket, lo, hi, limit + 1)
        uploads = [upload_entry(uid, key, info) for key, uid, info in rows[:limit]]
        return ListUploadsResponse(uploads=uploads, truncated=len(rows) > limit)

    async def abort_upload(self, req: AbortUploadRequest) -> EmptyResponse:
        _, _, key = bucket_and_key(req.path)
        await self._upload(req.upload_id, key)
        await self.store.abort_upload(req.upload_id)
        return EmptyResponse()

    async def complete_upload(self, req: CompleteUploadRequest) -> FileResponse:
        comps, _, key = bucket_and_key(req.path)
        h = await self._upload(req.upload_id, key)
        if not req.parts:
            raise WireError(ErrorCode.INVALID, "a completion lists at least one part")
        chosen: list[tuple[int, str, dict[str, Any]]] = []
        previous = 0
        for p in req.parts:
            if p.part_number <= previous:
                raise WireError(ErrorCode.INVALID_PART_ORDER,
                                "parts must be listed in ascending order of part number")
            previous = p.part_number
            raw = h.get(str(p.part_number))
            part = json.loads(raw) if raw is not None else None
            if part is None or part["md5"] != p.md5.strip('"').lower():
                raise WireError(ErrorCode.INVALID_PART,
                                f"part {p.part_number} was not uploaded or has another ETag",
                                part_number=p.part_number)
            chosen.append((p.part_number, raw, part))
        for number, _, part in chosen[:-1]:
            if part["size"] < req.min_part_bytes:
                raise WireError(ErrorCode.ENTITY_TOO_SMALL,
                                f"part {number} is smaller than {req.min_part_bytes} bytes",
                                part_number=number, size=part["size"])
        digest = hashlib.md5(b"".join(bytes.fromhex(part["md5"]) for _, _, part in chosen))
        info = json.loads(h["info"])
        blocks = [b for _, _, part in chosen for b in part["blocks"]]
        entry = {"k": "f", "size": sum(part["size"] for _, _, part in chosen),
                 "mtime": self.clock(), "md5": f"{digest.hexdigest()}-{len(chosen)}",
                 "crc": None, "ct": info.get("ct"),
                 "meta": {**(info.get("meta") or {}), **req.meta}, "blocks": blocks}
        raw_entry = entry_json(entry)
        await self.store.commit_file(
            comps, raw_entry, [NewBlock(block_id=b[0], replicas=[]) for b in blocks],
            now=self.clock(), parents=PARENTS_BELOW_TOP, if_absent=req.if_absent,
            if_md5=req.if_md5,
            want_rf=self.settings.replication_factor,
            upload=UploadGuard(upload_id=req.upload_id,
                               parts=[(number, raw) for number, raw, _ in chosen]))
        return FileResponse(file=file_entry(comps[-1], raw_entry))


def _uploads_range(prefix: str, key_marker: str | None,
                   upload_id_marker: str | None) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds over ``key NUL upload_id`` members."""
    bounds = [b"[" + prefix.encode()] if prefix else [b"-"]
    if key_marker is not None:
        marker = key_marker.encode() + b"\0"
        # After one upload of the marker key, or after all of them (ids sort below 0xff).
        marker += upload_id_marker.encode() if upload_id_marker else b"\xff"
        bounds.append(b"(" + marker)
    lo = max(bounds, key=lambda b: b"" if b == b"-" else b[1:])
    hi = b"[" + prefix.encode() + b"\xff" if prefix else b"+"
    return lo, hi
