"""Buckets for the dashboard: object counts and sizes, by a bounded, cached scan.

Rule 1: buckets are the top-level directories of the namespace (as the gateway's
ListBuckets sees them). At most ``MAX_BUCKETS`` are shown, in name order.
Rule 2: the cost is capped, not maintained: each scan walks at most ``MAX_KEYS_PER_BUCKET``
keys of a bucket and ``MAX_KEYS_PER_SCAN`` in all (``Namespace.walk`` pages of 1,000), and
its result is reused for ``CACHE_S`` seconds. A bucket whose walk stopped at a cap is marked
``truncated``: its counts are a lower bound. Counters maintained on every commit, delete and
rename would be exact but would add a Redis write to every mutation for the sake of a page
an operator opens now and then; this trade keeps the data path untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from nameserver.namespace import MAX_PAGE, Namespace
from plen.wire.namespace import DirEntry, FileEntry, ListDirRequest, WalkRequest

MAX_BUCKETS = 50
MAX_KEYS_PER_BUCKET = 10_000
MAX_KEYS_PER_SCAN = 50_000
CACHE_S = 10.0


class BucketSizes:
    def __init__(self, namespace: Namespace, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.namespace = namespace
        self.clock = clock
        self._cached: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> list[dict[str, Any]]:
        async with self._lock:  # several open dashboards share one scan
            if self._cached is None or self.clock() - self._cached[0] > CACHE_S:
                self._cached = (self.clock(), await self._scan())
            return self._cached[1]

    async def _scan(self) -> list[dict[str, Any]]:
        top = await self.namespace.list_dir(ListDirRequest(path="/", limit=MAX_BUCKETS))
        budget = MAX_KEYS_PER_SCAN
        out = []
        for entry in top.entries:
            if not isinstance(entry, DirEntry):
                continue  # a file at the top level is no bucket
            row = await self._count(entry.name, min(budget, MAX_KEYS_PER_BUCKET))
            budget -= row["objects"]
            out.append(row)
        return out

    async def _count(self, bucket: str, cap: int) -> dict[str, Any]:
        objects = size = 0
        after: str | None = None
        truncated = True
        while objects < cap:
            page = await self.namespace.walk(WalkRequest(
                path=f"/{bucket}", start_after=after, limit=min(MAX_PAGE, cap - objects)))
            for item in page.items:
                objects += 1
                if isinstance(item.entry, FileEntry):
                    size += item.entry.size
            if not page.truncated or not page.items:
                truncated = False
                break
            after = page.items[-1].key
        return {"name": bucket, "objects": objects, "bytes": size, "truncated": truncated}
