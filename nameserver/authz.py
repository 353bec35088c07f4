"""What a signed client-API request may do: every wire request, checked before it runs.

Rule 1: the root user may do everything (the gateway calls as root and makes the S3
decisions itself, with the same rules: plen/access.py).
Rule 2: for any other user each request names the data action it needs on the bucket (the
top-level directory) of each path it touches, as ``plen`` maps onto S3: reading a file is
``s3:GetObject``, listing or looking at a directory ``s3:ListBucket``, writing and making
directories ``s3:PutObject``, removing ``s3:DeleteObject``; creating a bucket is any user's,
removing or renaming one its owner's. Cluster administration and user management are root's.
Rule 3: a refused request on a bucket that does not exist is NOT_FOUND, not FORBIDDEN, so a
typo reads as a typo; a bucket's existence is no secret from a signed-in user (S3 answers
HeadBucket on another's bucket with 403, not 404, for the same reason).
"""

from __future__ import annotations

import json

from nameserver.access import Access
from nameserver.namespace import MAX_PAGE, split_path
from nameserver.store.redis_store import RedisStore
from plen.access import (
    DELETE_OBJECT,
    GET_OBJECT,
    LIST_BUCKET,
    OWNER_ONLY,
    PUT_OBJECT,
    Principal,
    allowed,
)
from plen.wire import access as wa
from plen.wire import namespace as ns
from plen.wire.errors import ErrorCode, WireError

ACL_META = "x-amz-acl"

ROOT_ONLY = (ns.ServerListRequest, ns.ServerDrainRequest, ns.ServerRemoveRequest,
             ns.FsckRequest, ns.InitRequest, wa.UserAddRequest, wa.UserListRequest,
             wa.UserRemoveRequest, wa.KeyAddRequest, wa.KeyRemoveRequest,
             wa.SigningKeyRequest, wa.SignV2Request, wa.BucketAccessRequest,
             wa.SetBucketAccessRequest, wa.ListBucketsRequest)
ANY_USER = (ns.AllocateBlockRequest, ns.ReportBadReplicaRequest, wa.WhoAmIRequest)


def _refuse(principal: Principal, what: str) -> WireError:
    return WireError(ErrorCode.FORBIDDEN, f"access denied: user {principal.user} may not {what}")


class Authorizer:
    def __init__(self, access: Access, store: RedisStore) -> None:
        self.access = access
        self.store = store

    async def check(self, principal: Principal, req: object) -> None:
        if principal.root or isinstance(req, ANY_USER):
            return
        if isinstance(req, ROOT_ONLY):
            raise _refuse(principal, f"call {type(req).ENDPOINT} (root only)")
        for action, path in self._needs(req):
            await self._require(principal, action, path)

    def _needs(self, req: object) -> list[tuple[str, str]]:
        """(action, path) pairs a request needs; OWNER_ONLY for a bucket's own life."""
        match req:
            case ns.StatRequest(path=path, with_blocks=with_blocks):
                comps, is_dir = split_path(path)
                if len(comps) <= 1 or (is_dir and not with_blocks):
                    return [(LIST_BUCKET, path)]
                return [(GET_OBJECT, path)]
            case ns.ListDirRequest(path=path):
                return [(LIST_BUCKET, path)]
            case ns.WalkRequest(path=path):
                # Walking / would list every bucket's keys: root's alone.
                return [(LIST_BUCKET if _depth(path) else OWNER_ONLY, path)]
            case ns.MkdirRequest(path=path):
                return [] if _depth(path) == 1 else [(PUT_OBJECT, _as_dir(path))]
            case ns.RmdirRequest(path=path):
                if _depth(path) == 1:
                    return [(OWNER_ONLY, path)]
                return [(DELETE_OBJECT, _as_dir(path))]
            case ns.DeleteFileRequest(path=path):
                return [(DELETE_OBJECT, path)]
            case ns.RenameRequest(src=src, dst=dst, kind=kind):
                if _depth(src) == 1 or _depth(dst) == 1:
                    return [(OWNER_ONLY, "/")]  # renaming a bucket: root's alone
                if kind == "dir":
                    src, dst = _as_dir(src), _as_dir(dst)
                return [(DELETE_OBJECT, src), (PUT_OBJECT, dst)]
            case ns.CopyFileRequest(src=src, dst=dst):
                return [(GET_OBJECT, src), (PUT_OBJECT, dst)]
            case ns.UpdateFileRequest(path=path, set_meta=set_meta, delete_meta=delete_meta):
                if ACL_META in set_meta or ACL_META in delete_meta:
                    return [(OWNER_ONLY, path)]  # an object's ACL is its (bucket) owner's
                return [(PUT_OBJECT, path)]
            case (ns.CommitFileRequest(path=path) | ns.CreateUploadRequest(path=path)
                  | ns.PutPartRequest(path=path) | ns.ListPartsRequest(path=path)
                  | ns.CompleteUploadRequest(path=path) | ns.AbortUploadRequest(path=path)):
                return [(PUT_OBJECT, path)]
            case ns.ListUploadsRequest(bucket=bucket):
                return [(LIST_BUCKET, "/" + bucket.strip("/"))]
        raise WireError(ErrorCode.FORBIDDEN, f"access denied: {type(req).__name__}")

    async def _require(self, principal: Principal, action: str, path: str) -> None:
        comps, _ = split_path(path)
        if not comps:
            if action == LIST_BUCKET:
                return  # the root lists as the caller's own buckets (filter_root)
            raise _refuse(principal, f"{_verb(action)} /")
        bucket = comps[0]
        key = path[len(bucket) + 2:] or None
        rules = await self.access.bucket_access(bucket)
        if allowed(principal, action, rules, key=key):
            return
        if action == GET_OBJECT and key and await self._object_acl_allows(principal, rules,
                                                                          comps):
            return
        if await self._no_bucket(bucket):
            raise WireError(ErrorCode.NOT_FOUND, f"no such bucket: {bucket}")
        raise _refuse(principal, f"{_verb(action)} {path}")

    async def _object_acl_allows(self, principal: Principal, rules, comps: list[str]) -> bool:
        file_raw, _ = await self.store.get_entries(comps)
        if file_raw is None:
            return False
        acl = (json.loads(file_raw).get("meta") or {}).get(ACL_META)
        key = "/".join(comps[1:])
        return allowed(principal, GET_OBJECT, rules, key=key, object_acl=acl)

    async def _no_bucket(self, bucket: str) -> bool:
        _, dir_raw = await self.store.get_entries([bucket])
        return dir_raw is None

    async def list_root(self, principal: Principal,
                        req: ns.ListDirRequest) -> ns.ListDirResponse:
        """A user listing ``/`` sees the buckets they own (as S3's ListBuckets), paged the
        same way as any directory."""
        # buckets() comes in listing order already (nameserver/access.py).
        mine = [ns.DirEntry(name=b.name, mtime=b.mtime, marker=True)
                for b in await self.access.buckets(principal.user)]
        mine = [e for e in mine if ns.sort_name(e).startswith(req.prefix)
                and (req.start_after is None or ns.sort_name(e) > req.start_after)]
        limit = max(1, min(req.limit, MAX_PAGE))
        return ns.ListDirResponse(entries=mine[:limit], truncated=len(mine) > limit)

def top_level(path: str) -> str | None:
    """The name of the bucket ``path`` names itself (a top-level directory), else None."""
    comps, _ = split_path(path)
    return comps[0] if len(comps) == 1 else None


def _depth(path: str) -> int:
    comps, _ = split_path(path)
    return len(comps)


def _as_dir(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _verb(action: str) -> str:
    return {GET_OBJECT: "read", PUT_OBJECT: "write", LIST_BUCKET: "list",
            DELETE_OBJECT: "delete", OWNER_ONLY: "change"}.get(action, action)
