"""RedisStore: the namespace and block map in Redis (redis.asyncio + hiredis).

Rule 1: every namespace mutation is one Lua script from ``lua/`` (the prelude is prepended),
so a crash of any process at any moment leaves the namespace consistent.
Rule 2: block-map and server bookkeeping that spans keys goes through MULTI/EXEC pipelines
or a script; every such change is idempotent, so a retried heartbeat does no harm.
Keys come only from ``keys.py``.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from typing import Any, AsyncIterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nameserver.store import keys
from nameserver.store.base import BlockInfo, Guard, NewBlock, ServerRecord, UploadGuard
from nameserver.store.connect import open_redis
from plen.wire.errors import ErrorCode, WireError

_LUA_ERROR = re.compile(r"PLEN (\w+) (.*)", re.S)
SCRIPTS = ("commit_file", "delete_file", "mkdir", "rmdir", "rename", "init", "collect_trash",
           "collect_block", "expire_allocation", "list_dir", "acquire_lease", "replace_entry",
           "create_upload", "put_part", "abort_upload", "list_uploads", "add_user", "add_key",
           "remove_key", "remove_user", "get_entries")


def _load_lua(name: str) -> str:
    lua = importlib.resources.files("nameserver.store").joinpath("lua")
    return lua.joinpath("_prelude.lua").read_text() + "\n" + lua.joinpath(f"{name}.lua").read_text()


def _comps(path: list[str]) -> list[Any]:
    return [len(path), *path]


def _fmt_now(now: float) -> str:
    return f"{now:.6f}"


# ``parents`` of commit_file and mkdir: create no missing ancestor, all of them, or all but
# the top-level directory (a bucket must exist before keys go into it).
NO_PARENTS, ALL_PARENTS, PARENTS_BELOW_TOP = 0, 1, 2


class RedisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = open_redis(url)
        self._scripts = {name: self.redis.register_script(_load_lua(name)) for name in SCRIPTS}

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> None:
        await self._call(self.redis.ping())

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except ResponseError as exc:
            match = _LUA_ERROR.search(str(exc))
            if match is None:
                raise
            raise WireError(ErrorCode.from_wire_name(match.group(1)), match.group(2).strip())
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise WireError(ErrorCode.UNAVAILABLE_AFTER_SEND, f"metadata store unavailable: {exc}")

    async def _script(self, name: str, *args: Any) -> Any:
        return await self._call(self._scripts[name](keys=[], args=[keys.PREFIX, *args]))

    # -- users and access (keys.py: users, user, user-keys, access-key, bucket) -------------

    async def add_user(self, user: str, access_key: str, secret: str, now: float) -> None:
        await self._script("add_user", user, access_key, secret, _fmt_now(now))

    async def add_key(self, user: str, access_key: str, secret: str, now: float,
                      max_keys: int) -> None:
        await self._script("add_key", user, access_key, secret, _fmt_now(now), max_keys)

    async def remove_key(self, user: str, access_key: str) -> None:
        await self._script("remove_key", user, access_key)

    async def remove_user(self, user: str) -> None:
        await self._script("remove_user", user)

    async def key_owner(self, access_key: str) -> tuple[str, str] | None:
        """(user, secret) of an access key, None when there is no such key."""
        user, secret = await self._call(self.redis.hmget(
            keys.access_key_key(access_key), "user", "secret"))
        if user is None or secret is None:
            return None
        return user.decode(), secret.decode()

    async def users(self) -> list[tuple[str, float, list[str]]]:
        """Every stored user: (name, created, access keys), by name."""
        names = sorted(n.decode() for n in await self._call(self.redis.smembers(keys.users_key())))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hget(keys.user_key(name), "created")
            pipe.smembers(keys.user_keys_key(name))
        rows = await self._call(pipe.execute()) if names else []
        return [(name, float(rows[2 * i] or 0), sorted(k.decode() for k in rows[2 * i + 1]))
                for i, name in enumerate(names)]

    async def user_exists(self, user: str) -> bool:
        return bool(await self._call(self.redis.exists(keys.user_key(user))))

    async def bucket_access(self, bucket: str) -> dict[str, str]:
        raw = await self._call(self.redis.hgetall(keys.bucket_key(bucket)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def bucket_owners(self, buckets: list[str]) -> list[str | None]:
        pipe = self.redis.pipeline(transaction=False)
        for bucket in buckets:
            pipe.hget(keys.bucket_key(bucket), "owner")
        rows = await self._call(pipe.execute()) if buckets else []
        return [r.decode() if r is not None else None for r in rows]

    async def claim_bucket(self, bucket: str, owner: str, acl: str) -> None:
        """A new bucket's access: whatever a removed bucket of that name had is dropped."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.bucket_key(bucket))
        pipe.hset(keys.bucket_key(bucket), mapping={"owner": owner, "acl": acl})
        await self._call(pipe.execute())

    async def set_bucket_access(self, bucket: str, fields: dict[str, str],
                                drop: list[str]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        if fields:
            pipe.hset(keys.bucket_key(bucket), mapping=fields)
        if drop:
            pipe.hdel(keys.bucket_key(bucket), *drop)
        await self._call(pipe.execute())

    async def drop_bucket_access(self, bucket: str) -> None:
        await self._call(self.redis.delete(keys.bucket_key(bucket)))

    async def move_bucket_access(self, src: str, dst: str) -> None:
        fields = await self.bucket_access(src)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.bucket_key(dst), keys.bucket_key(src))
        if fields:
            pipe.hset(keys.bucket_key(dst), mapping=fields)
        await self._call(pipe.execute())

    # -- namespace ------------------------------------------------------------------------

    async def get_entries(self, path: list[str]) -> tuple[str | None, str | None]:
        """(file entry, directory entry) named by ``path``; the root is a directory."""
        if not path:
            return None, json.dumps({"k": "d", "id": await self.root_id(), "m": 1, "t": 0})
        f, d = await self._script("get_entries", *_comps(path))
        return (f.decode() if f else None), (d.decode() if d else None)

    async def root_id(self) -> str:
        root = await self._call(self.redis.get(keys.root_key()))
        if root is None:
            await self._script("list_dir", b"-", b"-", 0, 0)  # creates the root atomically
            root = await self._call(self.redis.get(keys.root_key()))
        return root.decode()

    async def dir_id(self, path: list[str]) -> str | None:
        """The id of the directory at ``path``, None if missing."""
        cur = await self.root_id()
        for name in path:
            raw = await self._call(self.redis.hget(keys.dir_key(cur), name + "/"))
            if raw is None:
                return None
            cur = json.loads(raw)["id"]
        return cur

    async def list_members(self, path: list[str], lo: bytes, hi: bytes,
                           limit: int) -> list[tuple[bytes, str]]:
        """Members of the directory at ``path`` with lo <= member, in ZRANGEBYLEX syntax."""
        rows = await self._script("list_dir", lo, hi, limit, *_comps(path))
        return [(rows[i], rows[i + 1].decode()) for i in range(0, len(rows), 2)]

    async def members_of(self, dir_id: str, lo: bytes, hi: bytes,
                         limit: int) -> list[tuple[bytes, str]]:
        """Members of a directory known by id (the walk descends by id, no path lookups)."""
        members = await self._call(self.redis.zrangebylex(keys.dirz_key(dir_id), lo, hi, 0, limit))
        if not members:
            return []
        values = await self._call(self.redis.hmget(keys.dir_key(dir_id), members))
        return [(m, v.decode()) for m, v in zip(members, values) if v is not None]


    async def commit_file(self, path: list[str], entry_json: str, blocks: list[NewBlock], *,
                          now: float, parents: bool | int, if_absent: bool,
                          if_md5: str | None,
                          want_rf: int, guard: Guard | None = None,
                          upload: UploadGuard | None = None) -> None:
        block_args: list[Any] = [len(blocks)]
        for b in blocks:
            block_args += [b.block_id, ",".join(b.replicas),
                           "" if b.crc32c is None else b.crc32c]
        guard_args: list[Any] = _comps(guard.path) + [guard.entry_json] if guard else [0, ""]
        upload_args: list[Any] = ["", 0]
        if upload is not None:
            upload_args = [upload.upload_id, len(upload.parts)]
            for number, part_json in upload.parts:
                upload_args += [number, part_json]
        await self._script("commit_file", _fmt_now(now), int(parents), int(if_absent),
                           if_md5 or "", entry_json, want_rf, *_comps(path), *block_args,
                           *guard_args, *upload_args)

    async def replace_entry(self, path: list[str], old_json: str, new_json: str) -> None:
        """Swap a file's entry for one with the same blocks, if it is still ``old_json``."""
        await self._script("replace_entry", old_json, new_json, *_comps(path))

    # -- whole-store scans (fsck) -----------------------------------------------------------

    async def all_file_entries(self) -> AsyncIterator[str]:
        """Every file entry: under the root and in detached subtrees awaiting collection."""
        pending = [await self.root_id()]
        pending += [d.decode() for d in await self._call(self.redis.lrange(keys.trash_key(), 0, -1))]
        while pending:
            dir_id = pending.pop()
            async for member, value in self.redis.hscan_iter(keys.dir_key(dir_id), count=500):
                if member.endswith(b"/"):
                    pending.append(json.loads(value)["id"])
                else:
                    yield value.decode()

    async def all_upload_parts(self) -> AsyncIterator[str]:
        async for key in self.redis.scan_iter(match=keys.upload_key("*"), count=500):
            for field, value in (await self._call(self.redis.hgetall(key))).items():
                if field not in (b"dir", b"key", b"info"):
                    yield value.decode()

    async def all_blocks(self, batch: int = 500) -> AsyncIterator[tuple[BlockInfo, int]]:
        """Every block in the map with its reference count."""
        prefix = keys.block_key("")
        ids: list[str] = []
        async for key in self.redis.scan_iter(match=keys.block_key("*"), count=batch):
            ids.append(key.decode()[len(prefix):])
            if len(ids) >= batch:
                async for row in self._blocks_with_refs(ids):
                    yield row
                ids = []
        async for row in self._blocks_with_refs(ids):
            yield row

    async def _blocks_with_refs(self, ids: list[str]) -> AsyncIterator[tuple[BlockInfo, int]]:
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for bid in ids:
                pipe.hget(keys.block_key(bid), "refs")
            refs = await self._call(pipe.execute())
        for info, count in zip(await self.block_infos(ids), refs):
            if info is not None:
                yield info, int(count or 0)

    # -- multipart uploads ------------------------------------------------------------------

    async def create_upload(self, bucket: str, key: str, upload_id: str, info_json: str) -> None:
        await self._script("create_upload", bucket, key, upload_id, info_json)

    async def put_part(self, upload_id: str, key: str, part_number: int, part_json: str,
                       blocks: list[NewBlock], *, want_rf: int) -> None:
        block_args: list[Any] = [len(blocks)]
        for b in blocks:
            block_args += [b.block_id, ",".join(b.replicas),
                           "" if b.crc32c is None else b.crc32c]
        await self._script("put_part", upload_id, key, part_number, part_json, want_rf,
                           *block_args)

    async def get_upload(self, upload_id: str) -> dict[str, str] | None:
        """Every field of the upload's hash (dir, key, info, and part number -> part JSON)."""
        h = await self._call(self.redis.hgetall(keys.upload_key(upload_id)))
        if not h or b"info" not in h:
            return None
        return {k.decode(): v.decode() for k, v in h.items()}

    async def abort_upload(self, upload_id: str) -> None:
        await self._script("abort_upload", upload_id)

    async def list_uploads(self, bucket: str, lo: bytes, hi: bytes,
                           limit: int) -> list[tuple[str, str, str]]:
        """(key, upload id, info JSON) of a bucket's uploads with lo <= ``key NUL id`` <= hi."""
        rows = await self._script("list_uploads", bucket, lo, hi, limit)
        out = []
        for i in range(0, len(rows), 2):
            key, _, upload_id = rows[i].decode().rpartition("\0")
            out.append((key, upload_id, rows[i + 1].decode()))
        return out

    async def delete_file(self, path: list[str], *, if_md5: str | None) -> str:
        old = await self._script("delete_file", if_md5 or "", *_comps(path))
        return old.decode()

    async def mkdir(self, path: list[str], *, now: float, parents: bool | int, exist_ok: bool,
                    mark_parents: bool = True) -> tuple[str, bool]:
        entry, created = await self._script("mkdir", _fmt_now(now), int(parents),
                                            int(mark_parents), int(exist_ok), *_comps(path))
        return entry.decode(), bool(created)

    async def rmdir(self, path: list[str], *, recursive: bool, unmark: bool = False) -> None:
        await self._script("rmdir", int(recursive), int(unmark), *_comps(path))

    async def rename(self, src: list[str], dst: list[str], *, kind: str, overwrite: bool,
                     parents: bool, now: float) -> None:
        await self._script("rename", _fmt_now(now), kind, int(overwrite), int(parents),
                           *_comps(src), *_comps(dst))

    async def init(self) -> None:
        await self._script("init")

    # -- blocks ---------------------------------------------------------------------------

    async def allocate(self, block_id: str, size: int, servers: list[str],
                       expires_at: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.block_key(block_id), mapping={
                "state": "alloc", "size": size, "refs": 0, "expires": f"{expires_at:.3f}",
                "servers": ",".join(servers)})
            pipe.zadd(keys.allocs_key(), {block_id: expires_at})
            await self._call(pipe.execute())

    async def replicas_of(self, block_ids: list[str]) -> list[list[str]]:
        if not block_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for bid in block_ids:
                pipe.smembers(keys.replicas_key(bid))
            rows = await self._call(pipe.execute())
        return [sorted(s.decode() for s in row) for row in rows]

    async def block_states(self, block_ids: list[str]) -> list[str | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for bid in block_ids:
                pipe.hget(keys.block_key(bid), "state")
            rows = await self._call(pipe.execute())
        return [r.decode() if r else None for r in rows]

    async def expired_allocations(self, now: float, limit: int = 1000) -> list[str]:
        rows = await self._call(self.redis.zrangebyscore(keys.allocs_key(), "-inf", now, 0, limit))
        return [r.decode() for r in rows]

    async def expire_allocation(self, block_id: str, now: float) -> bool:
        return bool(await self._script("expire_allocation", block_id, f"{now:.3f}"))

    async def gc_candidates(self, limit: int = 1000) -> list[str]:
        rows = await self._call(self.redis.srandmember(keys.gc_key(), limit))
        return [r.decode() for r in rows]

    async def collect_block(self, block_id: str) -> bool:
        return bool(await self._script("collect_block", block_id))

    async def collect_trash(self, batch: int = 500) -> int:
        return int(await self._script("collect_trash", batch))

    async def trash_length(self) -> int:
        return int(await self._call(self.redis.llen(keys.trash_key())))

    async def stats(self) -> dict[str, int]:
        raw = await self._call(self.redis.hgetall(keys.stats_key()))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def underreplicated(self, limit: int = 100_000) -> list[str]:
        rows = await self._call(self.redis.srandmember(keys.underrep_key(), limit))
        return [r.decode() for r in rows]

    async def clear_underreplicated(self, block_ids: list[str]) -> None:
        if block_ids:
            await self._call(self.redis.srem(keys.underrep_key(), *block_ids))

    async def mark_underreplicated(self, block_ids: list[str]) -> None:
        if block_ids:
            await self._call(self.redis.sadd(keys.underrep_key(), *block_ids))

    async def block_infos(self, block_ids: list[str]) -> list[BlockInfo | None]:
        """What the block map knows of each block (None: no such block)."""
        if not block_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for bid in block_ids:
                pipe.hmget(keys.block_key(bid), "state", "size", "crc")
                pipe.smembers(keys.replicas_key(bid))
            rows = await self._call(pipe.execute())
        out: list[BlockInfo | None] = []
        for i, bid in enumerate(block_ids):
            state, size, crc = rows[2 * i]
            if state is None:
                out.append(None)
                continue
            out.append(BlockInfo(block_id=bid, state=state.decode(), size=int(size or 0),
                                 crc32c=int(crc) if crc else None,
                                 replicas=frozenset(r.decode() for r in rows[2 * i + 1])))
        return out

    async def excess(self, limit: int = 1000) -> list[str]:
        rows = await self._call(self.redis.srandmember(keys.excess_key(), limit))
        return [r.decode() for r in rows]

    async def mark_excess(self, block_ids: list[str]) -> None:
        if block_ids:
            await self._call(self.redis.sadd(keys.excess_key(), *block_ids))

    async def clear_excess(self, block_ids: list[str]) -> None:
        if block_ids:
            await self._call(self.redis.srem(keys.excess_key(), *block_ids))

    async def record_repaired(self, nbytes: int, rate: float, now: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(keys.repair_stats_key(), "repaired_bytes", nbytes)
            pipe.hset(keys.repair_stats_key(), mapping={"rate": f"{rate:.1f}", "at": f"{now:.3f}"})
            await self._call(pipe.execute())

    async def repair_stats(self) -> dict[str, float]:
        raw = await self._call(self.redis.hgetall(keys.repair_stats_key()))
        return {k.decode(): float(v) for k, v in raw.items()}

    # -- servers --------------------------------------------------------------------------

    async def save_server(self, rec: ServerRecord) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.servers_key(), rec.server_id)
            pipe.hset(keys.server_key(rec.server_id), mapping={
                "public_url": rec.public_url, "private_url": rec.private_url, "zone": rec.zone,
                "capacity": rec.capacity_bytes, "used": rec.used_bytes,
                "last_hb": f"{rec.last_heartbeat:.3f}", "registered_at": f"{rec.registered_at:.3f}",
                "state": rec.state})
            await self._call(pipe.execute())

    async def touch_server(self, server_id: str, *, capacity: int, used: int,
                           now: float) -> str | None:
        """Record a heartbeat of a server recorded live; answers the recorded state (None: an
        unknown server). A server recorded dead is not touched: it must register again."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sismember(keys.servers_key(), server_id)
            pipe.hget(keys.server_key(server_id), "state")
            known, state = await self._call(pipe.execute())
        if not known:
            return None
        recorded = state.decode() if state else "live"
        if recorded == "live":
            await self._call(self.redis.hset(keys.server_key(server_id), mapping={
                "capacity": capacity, "used": used, "last_hb": f"{now:.3f}"}))
        return recorded

    async def set_server_state(self, server_id: str, state: str) -> None:
        await self._call(self.redis.hset(keys.server_key(server_id), "state", state))

    async def servers(self) -> list[ServerRecord]:
        ids = sorted(s.decode() for s in await self._call(self.redis.smembers(keys.servers_key())))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(keys.server_key(sid))
                pipe.scard(keys.server_blocks_key(sid))
            rows = await self._call(pipe.execute())
        out = []
        for i, sid in enumerate(ids):
            h = {k.decode(): v.decode() for k, v in rows[2 * i].items()}
            if not h:
                continue
            out.append(ServerRecord(
                server_id=sid, public_url=h["public_url"], private_url=h["private_url"],
                zone=h.get("zone", ""), capacity_bytes=int(h.get("capacity", 0)),
                used_bytes=int(h.get("used", 0)), last_heartbeat=float(h.get("last_hb", 0)),
                registered_at=float(h.get("registered_at", 0)), blocks=int(rows[2 * i + 1]),
                state=h.get("state", "live"), draining=h.get("drain") == "1"))
        return out

    async def server_blocks(self, server_id: str) -> set[str]:
        rows = await self._call(self.redis.smembers(keys.server_blocks_key(server_id)))
        return {r.decode() for r in rows}

    async def sample_server_blocks(self, server_id: str, limit: int) -> list[str]:
        rows = await self._call(self.redis.srandmember(keys.server_blocks_key(server_id), limit))
        return [r.decode() for r in rows]

    async def add_replicas(self, server_id: str, block_ids: list[str]) -> list[int]:
        """Record replicas; answers each block's replica count afterwards."""
        if not block_ids:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            for bid in block_ids:
                pipe.sadd(keys.replicas_key(bid), server_id)
                pipe.scard(keys.replicas_key(bid))
            pipe.sadd(keys.server_blocks_key(server_id), *block_ids)
            rows = await self._call(pipe.execute())
        return [int(n) for n in rows[1:-1:2]]

    async def remove_replicas(self, server_id: str, block_ids: list[str]) -> None:
        if not block_ids:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for bid in block_ids:
                pipe.srem(keys.replicas_key(bid), server_id)
            pipe.srem(keys.server_blocks_key(server_id), *block_ids)
            await self._call(pipe.execute())

    async def drop_server_replicas(self, server_id: str, batch: int = 1000) -> list[str]:
        """A server was declared dead: its replicas leave the block map and its blocks become
        repair candidates; commands still queued for it are stale (repair plans anew)."""
        dropped = sorted(await self.server_blocks(server_id))
        for start in range(0, len(dropped), batch):
            await self.remove_replicas(server_id, dropped[start:start + batch])
            await self.mark_underreplicated(dropped[start:start + batch])
        await self._call(self.redis.delete(keys.server_cmds_key(server_id),
                                           keys.server_blocks_key(server_id)))
        return dropped

    async def trim_replica(self, block_id: str, server_id: str) -> None:
        """Forget one replica and tell its server to delete it, in one transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.replicas_key(block_id), server_id)
            pipe.srem(keys.server_blocks_key(server_id), block_id)
            pipe.rpush(keys.server_cmds_key(server_id),
                       json.dumps({"kind": "delete", "block_id": block_id}))
            await self._call(pipe.execute())

    async def set_draining(self, server_id: str) -> bool:
        """Mark a known server draining; False if it is unknown."""
        if not await self._call(self.redis.sismember(keys.servers_key(), server_id)):
            return False
        await self._call(self.redis.hset(keys.server_key(server_id), "drain", "1"))
        return True

    async def remove_server(self, server_id: str) -> None:
        await self.drop_server_replicas(server_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.servers_key(), server_id)
            pipe.delete(keys.server_key(server_id))
            await self._call(pipe.execute())

    async def push_commands(self, server_id: str, commands: list[dict[str, Any]]) -> None:
        if commands:
            await self._call(self.redis.rpush(keys.server_cmds_key(server_id),
                                              *[json.dumps(c) for c in commands]))

    async def pop_commands(self, server_id: str, limit: int = 256) -> list[dict[str, Any]]:
        rows = await self._call(self.redis.lpop(keys.server_cmds_key(server_id), limit))
        return [json.loads(r) for r in rows or []]

    # -- leases ---------------------------------------------------------------------------

    async def lease_holder(self, duty: str) -> str | None:
        holder = await self._call(self.redis.get(keys.lease_key(duty)))
        return holder.decode() if holder else None

    async def acquire_lease(self, duty: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease on ``duty``; True while ``holder`` has it."""
        return bool(await self._script("acquire_lease", duty, holder, int(ttl_s * 1000)))
