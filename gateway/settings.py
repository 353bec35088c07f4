"""Gateway settings: loaded once from flags and ``PLEN_*`` variables, then frozen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plen.wire.errors import ErrorCode, WireError


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9000
    nameserver_url: str = ""
    root_user: str = ""
    root_password: str = ""
    region: str = "us-east-1"
    domain: str = ""  # virtual-hosted-style requests: Host "<bucket>.<domain>"
    max_xml_bytes: int = 4 * 1024 * 1024  # DeleteObjects of 1,000 long keys fits
    ready_file: Path | None = None
    log_level: str = "INFO"

    def validate(self) -> Settings:
        problems = []
        if not self.nameserver_url:
            problems.append("a nameserver URL is required (--nameserver)")
        if not self.root_user or not self.root_password:
            problems.append("root credentials are required (--root-user, --root-password)")
        if self.root_password and len(self.root_password) < 8:
            problems.append("the root password must be at least 8 characters")
        if problems:
            raise WireError(ErrorCode.INVALID, "; ".join(problems))
        return self
