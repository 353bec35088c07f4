"""Nameserver settings: loaded once from flags and ``PLEN_*`` variables, then frozen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plen.wire.errors import ErrorCode, WireError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 7070
    redis_url: str = "redis://127.0.0.1:6379/0"
    cluster_secret: str = ""
    root_user: str = ""  # the root user's access key and secret (the gateway's too)
    root_password: str = ""
    replication_factor: int = 3
    block_size_bytes: int = 8 * 1024 * 1024
    inline_max_bytes: int = 4096
    heartbeat_interval_s: float = 3.0
    dead_after_s: float = 15.0
    allocation_ttl_s: float = 3600.0
    read_token_ttl_s: float = 900.0
    gc_interval_s: float = 5.0
    lease_ttl_s: float = 10.0
    repair_interval_s: float = 2.0
    repair_concurrency: int = 16  # copies queued or running per target server
    rebalance_interval_s: float = 3.0  # 0: no rebalancing
    rebalance_spread: float = 0.10  # largest allowed utilisation difference between servers
    ready_file: Path | None = None
    log_level: str = "INFO"

    def validate(self) -> Settings:
        problems = []
        if not self.cluster_secret:
            problems.append("a cluster secret is required (--cluster-secret)")
        if not self.root_user or not self.root_password:
            problems.append("root credentials are required (--root-user, --root-password)")
        if self.root_password and len(self.root_password) < 8:
            problems.append("the root password must be at least 8 characters")
        if self.replication_factor < 1:
            problems.append("replication must be at least 1")
        if self.block_size_bytes < 4096:
            problems.append("block size must be at least 4096 bytes")
        if not 0 <= self.inline_max_bytes <= min(self.block_size_bytes, 1024 * 1024):
            problems.append("inline max must be between 0 and min(block size, 1 MiB)")
        if self.dead_after_s <= self.heartbeat_interval_s:
            problems.append("dead-after must be longer than the heartbeat interval")
        if self.lease_ttl_s <= 0 or self.repair_interval_s <= 0:
            problems.append("lease TTL and repair interval must be positive")
        if self.repair_concurrency < 1:
            problems.append("repair concurrency must be at least 1")
        if self.rebalance_interval_s < 0:
            problems.append("rebalance interval must be 0 (off) or positive")
        if not 0 < self.rebalance_spread < 1:
            problems.append("rebalance spread must be between 0 and 1 (a fraction)")
        if problems:
            raise WireError(ErrorCode.INVALID, "; ".join(problems))
        return self
