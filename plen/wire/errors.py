"""The one error vocabulary on the wire.

Rule 1: nameserver and blockstore code raise ``WireError(code, message, **details)``; the
service middleware renders it as ``{"error": {"code", "message", "definite", ...details}}``
and the client re-raises the same ``WireError``. Nothing ever matches error strings.

Rule 2: an error is *definite* when the operation certainly did not happen, so a retry is
safe; an indefinite error (timeout, lost connection after sending) may have taken effect.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    # (wire name, HTTP status, definite)
    NOT_FOUND = ("not_found", 404, True)
    ALREADY_EXISTS = ("already_exists", 409, True)
    NOT_EMPTY = ("not_empty", 409, True)
    NOT_A_DIRECTORY = ("not_a_directory", 409, True)
    IS_A_DIRECTORY = ("is_a_directory", 409, True)
    CONFLICT = ("conflict", 409, True)
    PRECONDITION_FAILED = ("precondition_failed", 412, True)
    NO_SUCH_UPLOAD = ("no_such_upload", 404, True)
    INVALID_PART = ("invalid_part", 400, True)
    INVALID_PART_ORDER = ("invalid_part_order", 400, True)
    ENTITY_TOO_SMALL = ("entity_too_small", 400, True)
    INVALID = ("invalid", 400, True)
    UNAUTHORIZED = ("unauthorized", 401, True)
    FORBIDDEN = ("forbidden", 403, True)
    CHECKSUM_MISMATCH = ("checksum_mismatch", 422, True)
    NO_SPACE = ("no_space", 507, True)
    NO_LIVE_SERVERS = ("no_live_servers", 503, True)
    UNAVAILABLE_BEFORE_START = ("unavailable_before_start", 503, True)
    PIPELINE_FAILED = ("pipeline_failed", 502, True)
    TIMEOUT = ("timeout", 504, False)
    CONNECTION_LOST = ("connection_lost", 502, False)
    UNAVAILABLE_AFTER_SEND = ("unavailable_after_send", 503, False)
    INTERNAL = ("internal", 500, False)

    @property
    def wire_name(self) -> str:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def definite(self) -> bool:
        return self.value[2]

    @classmethod
    def from_wire_name(cls, name: str) -> ErrorCode:
        for code in cls:
            if code.wire_name == name:
                return code
        return cls.INTERNAL


class WireError(Exception):
    """An error that crosses process boundaries unchanged."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def definite(self) -> bool:
        return self.code.definite

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code.wire_name,
                "message": self.message,
                "definite": self.definite,
                **self.details,
            }
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WireError:
        err = dict(body["error"])
        code = ErrorCode.from_wire_name(err.pop("code", "internal"))
        message = err.pop("message", code.wire_name)
        err.pop("definite", None)
        return cls(code, message, **err)

    def __repr__(self) -> str:
        return f"WireError({self.code.name}, {self.message!r})"
