"""Buckets this gateway worker found to exist in the last ``BUCKET_SEEN_S`` seconds.

Used only to answer ``Expect: 100-continue`` (gateway/app.py Rule 3): whether a body is
wanted. Never an answer to "does this bucket exist": every write still checks at commit.
"""

from __future__ import annotations

import time

from aiohttp import web

BUCKET_SEEN_S = 2.0
_MAX_BUCKETS = 4096


class SeenBuckets:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def fresh(self, bucket: str) -> bool:
        return self._until.get(bucket, 0.0) > time.monotonic()

    def saw(self, bucket: str) -> None:
        if len(self._until) >= _MAX_BUCKETS:
            self._until.clear()
        self._until[bucket] = time.monotonic() + BUCKET_SEEN_S

    def forget(self, bucket: str) -> None:
        self._until.pop(bucket, None)


seen_buckets_key = web.AppKey("seen_buckets", SeenBuckets)
