"""THE Redis key layout. Every key is built here, under one prefix; nowhere else.

Namespace (a tree of directories, each with an opaque id; names never appear in keys, so a
directory rename moves one hash field and is O(1) in the size of the subtree):
  root                    STRING   id of the current root directory (``plen init`` swaps it)
  dirseq                  STRING   counter for new directory ids
  dir:{dir_id}            HASH     member -> entry JSON. Member is ``name`` for a file and
                                   ``name/`` for a directory (so a file ``a`` and a directory
                                   ``a/`` can coexist, as S3 keys ``a`` and ``a/b`` do)
  dirz:{dir_id}           ZSET     the same members, all score 0: UTF-8 byte order for
                                   ZRANGEBYLEX pages (a directory sorts as ``name/``)
  trash                   LIST     ids of detached directories whose subtrees await collection
Multipart uploads (blocks of uploaded parts are referenced by their part until the upload is
completed or aborted):
  upload:{upload_id}      HASH     dir (bucket directory id), key, info (JSON: initiated,
                                   content type, meta) and one field per part number -> part
                                   JSON ``{"size","md5","mtime","cs","blocks":[[id,size,crc],..]}``
  uploads:{dir_id}        ZSET     ``key NUL upload_id``, all score 0: a bucket's uploads in
                                   key order, then in order of initiation (ids are time-ordered)
Blocks:
  block:{block_id}        HASH     size, crc (set when it goes live), state (alloc|live), refs,
                                   expires, servers (the pipeline an allocation chose)
  replicas:{block_id}     SET      server ids holding a replica
  allocs                  ZSET     block id -> allocation expiry (blocks not yet committed)
  gc                      SET      block ids whose reference count fell to zero
  underrep                SET      block ids that may have fewer live replicas than wanted
  excess                  SET      block ids that may have more replicas than wanted
Servers:
  servers                 SET      server ids
  server:{server_id}      HASH     public_url, private_url, zone, capacity, used, last_hb,
                                   registered_at, state (live|dead, as last recorded), drain (1)
  server-blocks:{sid}     SET      block ids the server holds (from reports and commits)
  server-cmds:{sid}       LIST     command JSON for the server's next heartbeat
Users and access (plen/access.py):
  users                   SET      user names (the root user is configured, not stored)
  user:{user}             HASH     created
  user-keys:{user}        SET      the user's access keys
  access-key:{access_key} HASH     user, secret, created
  bucket:{bucket}         HASH     owner, acl (canned), policy (JSON). No hash, or no owner:
                                   the root user's (buckets made before owners, or by root)
Cluster:
  stats                   HASH     files, blocks
  lease:{duty}            STRING   holder of a background duty, with an expiry
  repair-stats            HASH     repaired_bytes (total), rate (bytes/s, recent), at (when)
"""

from __future__ import annotations

PREFIX = "plen:"


def root_key() -> str:
    return PREFIX + "root"


def dirseq_key() -> str:
    return PREFIX + "dirseq"


def dir_key(dir_id: str) -> str:
    return f"{PREFIX}dir:{dir_id}"


def dirz_key(dir_id: str) -> str:
    return f"{PREFIX}dirz:{dir_id}"


def trash_key() -> str:
    return PREFIX + "trash"


def upload_key(upload_id: str) -> str:
    return f"{PREFIX}upload:{upload_id}"


def uploads_key(dir_id: str) -> str:
    return f"{PREFIX}uploads:{dir_id}"


def block_key(block_id: str) -> str:
    return f"{PREFIX}block:{block_id}"


def replicas_key(block_id: str) -> str:
    return f"{PREFIX}replicas:{block_id}"


def allocs_key() -> str:
    return PREFIX + "allocs"


def gc_key() -> str:
    return PREFIX + "gc"


def underrep_key() -> str:
    return PREFIX + "underrep"


def excess_key() -> str:
    return PREFIX + "excess"


def servers_key() -> str:
    return PREFIX + "servers"


def server_key(server_id: str) -> str:
    return f"{PREFIX}server:{server_id}"


def server_blocks_key(server_id: str) -> str:
    return f"{PREFIX}server-blocks:{server_id}"


def server_cmds_key(server_id: str) -> str:
    return f"{PREFIX}server-cmds:{server_id}"


def stats_key() -> str:
    return PREFIX + "stats"


def lease_key(duty: str) -> str:
    return f"{PREFIX}lease:{duty}"


def repair_stats_key() -> str:
    return PREFIX + "repair-stats"


def users_key() -> str:
    return PREFIX + "users"


def user_key(user: str) -> str:
    return f"{PREFIX}user:{user}"


def user_keys_key(user: str) -> str:
    return f"{PREFIX}user-keys:{user}"


def access_key_key(access_key: str) -> str:
    return f"{PREFIX}access-key:{access_key}"


def bucket_key(bucket: str) -> str:
    return f"{PREFIX}bucket:{bucket}"
