"""Blockstore settings: loaded once from flags and ``PLEN_*`` variables, then frozen.

Rule 1: ``nameserver_url`` is the flag as given, one URL or several separated by commas
(nameservers sharing one Redis, any of which answers); ``nameserver_urls`` is the list the
agent fails over along. Each is checked by ``validate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from plen.wire.errors import ErrorCode, WireError

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    data_dir: Path
    nameserver_url: str  # "URL[,URL...]"
    cluster_secret: str
    host: str = "127.0.0.1"
    port: int = 7100  # 0 = any free port
    public_url: str | None = None  # None: http://<host>:<bound port>
    private_url: str | None = None  # None: the public URL
    zone: str = ""
    capacity_bytes: int = 0  # 0: no cap beyond the free space of data_dir's file system
    scrub_interval_s: float = 3600.0  # from the end of a pass to the next; 0: no scrubbing
    scrub_rate_bytes_per_s: int = 32 * MiB
    copy_rate_bytes_per_s: int = 128 * MiB  # shared by every copy received; 0: unlimited
    copy_concurrency: int = 4  # nameserver commands run at once
    block_report_interval_s: float = 600.0  # 0: the inventory goes only with registration
    ready_file: Path | None = None
    log_level: str = "INFO"

    @property
    def nameserver_urls(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.nameserver_url.split(","))

    def validate(self) -> Settings:
        problems = []
        if not self.cluster_secret:
            problems.append("a cluster secret is required (--cluster-secret)")
        urls = [("nameserver", url) for url in self.nameserver_urls]
        for name, url in [*urls, ("public-url", self.public_url),
                          ("private-url", self.private_url)]:
            if url is not None and not url.startswith(("http://", "https://")):
                problems.append(f"--{name} must be an http:// or https:// URL, not {url!r}")
        if not 0 <= self.port <= 65535:
            problems.append("port must be between 0 and 65535")
        if self.capacity_bytes < 0:
            problems.append("capacity must be 0 (no cap) or a byte count")
        if not _seconds(self.scrub_interval_s):
            problems.append("scrub interval must be 0 (off) or a number of seconds")
        if self.scrub_rate_bytes_per_s <= 0:
            # An unpaced scrubber would starve clients; --scrub-interval 0 turns it off.
            problems.append("scrub rate must be a positive number of bytes per second")
        if self.copy_rate_bytes_per_s < 0:
            problems.append("copy rate must be 0 (unlimited) or bytes per second")
        if self.copy_concurrency < 1:
            problems.append("copy concurrency must be at least 1")
        if not _seconds(self.block_report_interval_s):
            problems.append("block report interval must be 0 (only at registration) or a "
                            "number of seconds")
        if problems:
            raise WireError(ErrorCode.INVALID, "; ".join(problems))
        return self


def _seconds(value: float) -> bool:
    """0 or a positive, finite count of seconds (click's float also accepts nan and inf)."""
    return 0 <= value and math.isfinite(value)
