"""Blockstore settings: loaded once from flags and ``PLEN_*`` variables, then frozen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plen.wire.errors import ErrorCode, WireError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    nameserver_url: str
    cluster_secret: str
    host: str = "127.0.0.1"
    port: int = 7100  # 0 = any free port
    public_url: str | None = None  # None: http://<host>:<bound port>
    private_url: str | None = None  # None: the public URL
    zone: str = ""
    capacity_bytes: int = 0  # 0: no cap beyond the free space of data_dir's file system
    scrub_interval_s: float = 0.0  # 0: no background scrubbing
    ready_file: Path | None = None
    log_level: str = "INFO"

    def validate(self) -> Settings:
        problems = []
        if not self.cluster_secret:
            problems.append("a cluster secret is required (--cluster-secret)")
        for name, url in (("nameserver", self.nameserver_url), ("public-url", self.public_url),
                          ("private-url", self.private_url)):
            if url is not None and not url.startswith(("http://", "https://")):
                problems.append(f"--{name} must be an http:// or https:// URL, not {url!r}")
        if not 0 <= self.port <= 65535:
            problems.append("port must be between 0 and 65535")
        if self.capacity_bytes < 0:
            problems.append("capacity must be 0 (no cap) or a byte count")
        if self.scrub_interval_s < 0:
            problems.append("scrub interval must be 0 (off) or positive")
        if problems:
            raise WireError(ErrorCode.INVALID, "; ".join(problems))
        return self
