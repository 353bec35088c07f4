"""Placement: which live servers get a new block (pure; no I/O, randomness injected).

Rule 1: only live servers with room for the block, none of them excluded.
Rule 2: weighted by free space, so emptier servers fill first.
Rule 3: spread across zones: each next pick prefers a zone not used yet (a repair passes the
zones its block's surviving replicas are in).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    server_id: str
    zone: str
    free_bytes: int


def choose_pipeline(candidates: list[Candidate], count: int, size_bytes: int,
                    rng: random.Random, exclude: frozenset[str] = frozenset(),
                    used_zones: frozenset[str] = frozenset()) -> list[Candidate]:
    pool = [c for c in candidates if c.server_id not in exclude and c.free_bytes >= size_bytes]
    chosen: list[Candidate] = []
    zones = set(used_zones)
    while pool and len(chosen) < count:
        fresh = [c for c in pool if c.zone not in zones] or pool
        weights = [max(c.free_bytes, 1) for c in fresh]
        pick = rng.choices(fresh, weights=weights, k=1)[0]
        chosen.append(pick)
        zones.add(pick.zone)
        pool.remove(pick)
    return chosen
