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
    # Slow clients (gateway/protocol.py, gateway/s3/payload.py): a request's headers must
    # arrive within header_timeout_s of its first byte; a body that sends nothing for
    # body_timeout_s is RequestTimeout (S3 waits about 20 s), and a client that reads nothing
    # of a response for as long is cut off; a keep-alive connection with no request for
    # idle_timeout_s is closed.
    header_timeout_s: float = 20.0
    body_timeout_s: float = 20.0
    idle_timeout_s: float = 60.0
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
        for name in ("header_timeout_s", "body_timeout_s", "idle_timeout_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be a positive number of seconds")
        if problems:
            raise WireError(ErrorCode.INVALID, "; ".join(problems))
        return self
