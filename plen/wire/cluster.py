"""Blockstore <-> nameserver: registration, heartbeats and commands (JSON over HTTP).

Every request carries the cluster secret in the ``X-Plen-Cluster-Secret`` header and is
POSTed to ``/cluster/<ENDPOINT>``. The nameserver answers a heartbeat with the commands the
blockstore should carry out; the blockstore reports what it did in its next heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from plen.wire.types import BlockId, Replica, ServerId

CLUSTER_SECRET_HEADER = "X-Plen-Cluster-Secret"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldBlock:
    block_id: BlockId
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterRequest:
    """Sent on start: who the server is, where to reach it, and every block it holds."""

    ENDPOINT: ClassVar[str] = "register"
    server_id: ServerId
    public_url: str  # for clients (gateway, plen)
    private_url: str  # for other blockstores (pipeline hops, repair copies)
    zone: str
    capacity_bytes: int
    used_bytes: int
    blocks: list[HeldBlock]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteBlock:
    """Remove the local replica of a block (it is unreferenced or in excess)."""

    block_id: BlockId
    kind: Literal["delete"] = "delete"


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyBlock:
    """Copy a block from one of ``sources`` (holders' private URLs) onto this server
    (repair, rebalance); ``token`` is a read token for the block."""

    block_id: BlockId
    size: int
    crc32c: int
    sources: list[Replica]
    token: str
    kind: Literal["copy"] = "copy"


Command = DeleteBlock | CopyBlock


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterResponse:
    heartbeat_interval_s: float
    commands: list[DeleteBlock | CopyBlock] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatRequest:
    """Liveness plus what changed since the last heartbeat."""

    ENDPOINT: ClassVar[str] = "heartbeat"
    server_id: ServerId
    capacity_bytes: int
    used_bytes: int
    block_count: int
    added: list[HeldBlock] = field(default_factory=list)
    removed: list[BlockId] = field(default_factory=list)
    corrupt: list[BlockId] = field(default_factory=list)  # quarantined since last time


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatResponse:
    # reregister: the nameserver does not know this server (it was forgotten) or declared it
    # dead and dropped its replicas; it must send its whole inventory again.
    commands: list[DeleteBlock | CopyBlock] = field(default_factory=list)
    reregister: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockReportRequest:
    """Every block the server holds, sent now and then: the nameserver reconciles its block
    map with it (orphans deleted, replicas it no longer holds dropped and repaired)."""

    ENDPOINT: ClassVar[str] = "block-report"
    server_id: ServerId
    blocks: list[HeldBlock]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockReportResponse:
    commands: list[DeleteBlock | CopyBlock] = field(default_factory=list)
    reregister: bool = False
