"""Client <-> nameserver: the namespace and block allocation (JSON over HTTP).

Paths on the wire are strings starting with ``/``. The components are ``path[1:].split("/")``
with nothing normalised, so every S3 key maps onto a path unchanged (see ``plen.paths``).
A path ending in ``/`` names a directory; otherwise the path names a file, or, where a
request is about directories (``ListDirRequest``, ``MkdirRequest``), the directory of that
name. Each request is POSTed as JSON to ``/v1/<endpoint>``; the endpoint name is the
``ENDPOINT`` class attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from plen.wire.types import BlockId, BlockRef, Replica, ServerId


@dataclass(frozen=True, slots=True, kw_only=True)
class FileBlock:
    """A block of a file as a reader sees it: its bytes' place in the file and its replicas."""

    block_id: BlockId
    offset: int  # of the block's bytes in the file
    size: int  # bytes of the file in this block
    crc32c: int  # of the whole block
    replicas: list[Replica]  # preferred first; live servers only
    token: str  # read token for this block
    start: int | None = None  # a slice: where its bytes begin inside the stored block


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    name: str
    size: int
    mtime: float  # seconds since the epoch, set by the nameserver at commit
    md5: str  # hex MD5 of the content (the S3 ETag of a single-part object)
    crc32c: int | None = None  # whole-file CRC32C when the writer computed it
    content_type: str | None = None
    meta: dict[str, str] = field(default_factory=dict)  # user metadata and stored headers
    inline: bool = False
    inline_data: str | None = None  # base64, only in StatResponse and only when inline
    blocks: list[FileBlock] = field(default_factory=list)  # only in StatResponse
    block_count: int = 0
    kind: Literal["file"] = "file"


@dataclass(frozen=True, slots=True, kw_only=True)
class DirEntry:
    name: str
    mtime: float
    marker: bool  # created explicitly (mkdir / bucket / key ending in "/"); kept when empty
    kind: Literal["dir"] = "dir"


Entry = FileEntry | DirEntry


def sort_name(entry: Entry) -> str:
    """The name a directory listing sorts and resumes by: a directory sorts as ``name/``."""
    return entry.name + "/" if isinstance(entry, DirEntry) else entry.name


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterInfoResponse:
    ENDPOINT: ClassVar[str] = "cluster-info"
    block_size_bytes: int
    inline_max_bytes: int
    replication_factor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StatRequest:
    """Both a file and a directory may carry the same name (S3 keys ``a`` and ``a/b``).

    A missing path is not an error (both fields null), but a file standing where a parent
    directory is needed is: NOT_A_DIRECTORY, as POSIX says for ``ls file/x``.
    """

    ENDPOINT: ClassVar[str] = "stat"
    path: str
    with_blocks: bool = False
    # With blocks: only those overlapping bytes [offset, offset + length) (length None: to
    # the end), so a ranged read of a big file costs one block's lookup and token, not all.
    offset: int = 0
    length: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatResponse:
    file: FileEntry | None
    dir: DirEntry | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDirRequest:
    """One page of a directory's children in UTF-8 byte order; a directory sorts as ``name/``.

    ``start_after`` and ``prefix`` compare against that sort name. Cost is O(limit).
    """

    ENDPOINT: ClassVar[str] = "list-dir"
    path: str
    prefix: str = ""
    start_after: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDirResponse:
    entries: list[FileEntry | DirEntry]
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkRequest:
    """Every key below a directory in UTF-8 byte order, as S3 lists without a delimiter.

    Keys are relative to ``path``: files as ``a/b/c``, directory markers as ``a/b/``.
    Resumes after ``start_after`` (a relative key) in O(depth + limit).
    """

    ENDPOINT: ClassVar[str] = "walk"
    path: str
    prefix: str = ""
    start_after: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkItem:
    key: str
    entry: FileEntry | DirEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkResponse:
    items: list[WalkItem]
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MkdirRequest:
    ENDPOINT: ClassVar[str] = "mkdir"
    path: str
    parents: bool = False  # create missing ancestors
    mark_parents: bool = True  # as explicit directories (mkdir -p); False: implicit (S3)
    exist_ok: bool = False
    require_top: bool = False  # with parents: except the top-level directory (the bucket)
    # A new bucket (top-level directory): its owner (root only: the gateway names the S3
    # user; anyone else's bucket is their own) and its canned ACL.
    owner: str | None = None
    acl: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MkdirResponse:
    dir: DirEntry
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RmdirRequest:
    """Remove a directory. Recursive removal detaches the subtree in one atomic step; the
    files below it are collected in the background."""

    ENDPOINT: ClassVar[str] = "rmdir"
    path: str
    recursive: bool = False
    unmark: bool = False  # not empty: only drop the marker (it stays while children do)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteFileRequest:
    ENDPOINT: ClassVar[str] = "delete-file"
    path: str
    if_md5: str | None = None  # only if the current content has this MD5


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameRequest:
    """Move a file or a whole directory in one atomic step, O(1) in the files below it."""

    ENDPOINT: ClassVar[str] = "rename"
    src: str
    dst: str
    kind: Literal["file", "dir"]
    overwrite: bool = True  # files only: replace an existing destination file
    parents: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyFileRequest:
    """Server-side copy: the new file references the same blocks; no byte is copied."""

    ENDPOINT: ClassVar[str] = "copy-file"
    src: str
    dst: str
    parents: bool = False
    content_type: str | None = None  # replace instead of copying, when given
    meta: dict[str, str] | None = None
    require_top: bool = False  # with parents: except the top-level directory (the bucket)


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocateBlockRequest:
    """Reserve a new block id and a pipeline of distinct live servers to write it to."""

    ENDPOINT: ClassVar[str] = "allocate-block"
    size_bytes: int
    exclude: list[ServerId] = field(default_factory=list)  # servers that just failed


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocateBlockResponse:
    block_id: BlockId
    pipeline: list[Replica]  # public URLs; the writer sends to pipeline[0]
    forward_urls: list[str]  # private URLs of pipeline[1:], sent in the pipeline header
    token: str  # write token for this block
    expires_at: float  # uncommitted blocks are collected after this


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedBlock:
    block: BlockRef
    replicas: list[ServerId]  # servers that acknowledged the pipeline write


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitFileRequest:
    """Make a file visible in one atomic step, replacing any previous version."""

    ENDPOINT: ClassVar[str] = "commit-file"
    path: str
    size: int
    md5: str
    blocks: list[CommittedBlock] = field(default_factory=list)
    inline_data: str | None = None  # base64; for files up to inline_max_bytes
    crc32c: int | None = None
    content_type: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    parents: bool = False  # create missing ancestors as implicit directories
    require_top: bool = False  # with parents: except the top-level directory (the bucket)
    if_absent: bool = False  # fail with PRECONDITION_FAILED if a file exists
    if_md5: str | None = None  # fail with PRECONDITION_FAILED unless the current MD5 is this


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResponse:
    file: FileEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFileRequest:
    """Change a file's metadata in place (blocks, size and mtime stay): ``set_meta`` keys are
    set and ``delete_meta`` keys removed, atomically against concurrent writers."""

    ENDPOINT: ClassVar[str] = "update-file"
    path: str
    set_meta: dict[str, str] = field(default_factory=dict)
    delete_meta: list[str] = field(default_factory=list)
    if_md5: str | None = None


# -- multipart uploads ------------------------------------------------------------------------
# An upload belongs to a bucket (a top-level directory, followed if it is renamed) and names
# the file it will become. Its parts hold references on their blocks until the upload is
# completed (one commit makes the file of the listed parts, sharing their blocks) or aborted.


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadEntry:
    upload_id: str
    key: str  # the file's path below the bucket
    initiated: float
    content_type: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartEntry:
    part_number: int
    size: int
    md5: str  # the part's ETag
    mtime: float
    checksums: dict[str, str] = field(default_factory=dict)  # e.g. {"CRC32": base64}


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUploadRequest:
    ENDPOINT: ClassVar[str] = "create-upload"
    path: str  # /bucket/key
    content_type: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadResponse:
    upload: UploadEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class PutPartRequest:
    """Store a part from freshly written blocks, or from live blocks (slices) of another
    file (a part copy); replaces an earlier part of the same number."""

    ENDPOINT: ClassVar[str] = "put-part"
    path: str
    upload_id: str
    part_number: int
    size: int
    md5: str
    blocks: list[CommittedBlock] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartResponse:
    part: PartEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPartsRequest:
    ENDPOINT: ClassVar[str] = "list-parts"
    path: str
    upload_id: str
    after: int = 0  # part number marker
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPartsResponse:
    upload: UploadEntry
    parts: list[PartEntry]
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUploadsRequest:
    """One page of a bucket's uploads ordered by key, then initiation; resumes after
    (``key_marker``, ``upload_id_marker``), or after every upload of ``key_marker`` when no
    upload id marker is given."""

    ENDPOINT: ClassVar[str] = "list-uploads"
    bucket: str
    prefix: str = ""
    key_marker: str | None = None
    upload_id_marker: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUploadsResponse:
    uploads: list[UploadEntry]
    truncated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletePart:
    part_number: int
    md5: str  # the ETag the client got for the part


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteUploadRequest:
    """Make the file of the listed parts (ascending numbers, each but the last at least
    ``min_part_bytes``) in one commit; its ETag is the MD5 of the part MD5s, ``-N``."""

    ENDPOINT: ClassVar[str] = "complete-upload"
    path: str
    upload_id: str
    parts: list[CompletePart]
    min_part_bytes: int = 5 * 1024 * 1024
    meta: dict[str, str] = field(default_factory=dict)  # added to the upload's metadata
    if_absent: bool = False
    if_md5: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortUploadRequest:
    ENDPOINT: ClassVar[str] = "abort-upload"
    path: str
    upload_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmptyResponse:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportBadReplicaRequest:
    """A reader found a replica whose bytes do not match the block's CRC32C."""

    ENDPOINT: ClassVar[str] = "report-bad-replica"
    block_id: BlockId
    server_id: ServerId
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStatus:
    server_id: ServerId
    public_url: str
    private_url: str
    zone: str
    state: Literal["live", "dead", "draining", "drained"]
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    blocks: int
    last_heartbeat_age_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterStatusResponse:
    """The cluster at a glance. Bytes at risk count each block once, with its live replicas
    (servers not dead; a draining server's replica still counts)."""

    ENDPOINT: ClassVar[str] = "cluster-status"
    servers: list[ServerStatus]
    replication_factor: int
    capacity_bytes: int  # live servers only
    used_bytes: int
    free_bytes: int
    blocks: int
    files: int
    under_replicated_blocks: int  # fewer live replicas than the replication factor
    bytes_below_rf: int = 0
    blocks_below_2: int = 0  # one replica from loss
    bytes_below_2: int = 0
    missing_blocks: int = 0  # no live replica at all
    repair_bytes_left: int = 0  # bytes that repair still has to copy
    repair_rate_bytes_per_s: float = 0.0  # over the current repair burst
    repair_eta_s: float | None = None  # None: nothing to repair, or no progress yet
    repaired_bytes: int = 0  # total copied by repair since the cluster began


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerListRequest:
    ENDPOINT: ClassVar[str] = "server-list"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerListResponse:
    servers: list[ServerStatus]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerDrainRequest:
    """Move every block off a server (it takes no new ones) so that it can be removed."""

    ENDPOINT: ClassVar[str] = "server-drain"
    server_id: ServerId


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRemoveRequest:
    """Forget a server that is dead or drained (a running one registers again)."""

    ENDPOINT: ClassVar[str] = "server-remove"
    server_id: ServerId


@dataclass(frozen=True, slots=True, kw_only=True)
class FsckRequest:
    ENDPOINT: ClassVar[str] = "fsck"


@dataclass(frozen=True, slots=True, kw_only=True)
class FsckResponse:
    """A full check of the namespace against the block map. Lists hold at most
    ``FSCK_SAMPLE`` ids each; the counts are complete."""

    files: int
    blocks: int  # in the block map (live ones)
    referenced_blocks: int
    missing: list[BlockId]  # referenced, but no live replica (or not in the map)
    under_replicated: list[BlockId]  # live (non-dead, non-draining) replicas below RF
    over_replicated: list[BlockId]
    bad_refs: list[BlockId]  # the reference count differs from the references found
    unreferenced: list[BlockId]  # live blocks nothing refers to (collected by GC)
    counts: dict[str, int]  # the full count for each list above
    ok: bool


FSCK_SAMPLE = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class InitRequest:
    """Wipe the file system: swap in a new empty root atomically; the old tree is collected."""

    ENDPOINT: ClassVar[str] = "init"
    confirm: bool
