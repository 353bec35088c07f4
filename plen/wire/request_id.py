"""The request id header: one id follows a request through gateway, nameserver and blockstores.

Rule 1: every internal HTTP call carries the caller's request id in ``X-Plen-Request-Id``
(the gateway's is the S3 ``x-amz-request-id``); a server that receives none makes one.
Rule 2: a received id is only trusted if it is short and plain (it ends up in every log
line), otherwise the server makes its own.
"""

from __future__ import annotations

import re
import secrets

REQUEST_ID_HEADER = "X-Plen-Request-Id"

_PLAIN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id() -> str:
    """Same shape as the gateway's S3 request ids (16 upper-case hex digits)."""
    return secrets.token_hex(8).upper()


def accept_request_id(value: str | None) -> str:
    """The received id when it is plain, else a new one."""
    if value is not None and _PLAIN.fullmatch(value):
        return value
    return new_request_id()
