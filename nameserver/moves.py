"""Moves: block copies in flight (repair and rebalance), as the duties lease holder planned them.

Rule 1: a copy is planned, not trusted. It is in flight until the block map shows the
replica on its target (the target reported it in a heartbeat) or its deadline passes; then
the block may be planned again.
Rule 2: this bookkeeping lives in the lease holder's memory only. A new holder starts empty
and may plan a copy again; ``CopyBlock`` is idempotent on the blockstore, and a replica too
many is trimmed, so the worst case is wasted bandwidth, never a lost block.
Rule 3: a rebalance move names the server it relieves; once its copy lands, that server's
replica is the one to trim (``trim_preference``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from nameserver.store.base import BlockInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    block_id: str
    target: str
    size: int
    deadline: float
    source: str | None = None  # the server a rebalance relieves; None for a repair copy


class Moves:
    def __init__(self) -> None:
        self._by_block: dict[str, list[Move]] = defaultdict(list)
        self._trim_preference: dict[str, tuple[str, float]] = {}

    def add(self, move: Move) -> None:
        self._by_block[move.block_id].append(move)

    def block_ids(self) -> set[str]:
        return set(self._by_block)

    def of_block(self, block_id: str) -> list[Move]:
        return list(self._by_block.get(block_id, ()))

    def to_target(self, server_id: str) -> int:
        return sum(1 for moves in self._by_block.values() for m in moves
                   if m.target == server_id)

    def bytes_to(self, server_id: str) -> int:
        return sum(m.size for moves in self._by_block.values() for m in moves
                   if m.target == server_id)

    def bytes_from(self, server_id: str) -> int:
        return sum(m.size for moves in self._by_block.values() for m in moves
                   if m.source == server_id)

    def settle(self, infos: dict[str, BlockInfo | None], now: float) -> list[Move]:
        """Drop moves that landed, expired or whose block is gone; answers those that landed."""
        landed = []
        for block_id in list(self._by_block):
            info = infos.get(block_id)
            keep = []
            for move in self._by_block[block_id]:
                if info is not None and move.target in info.replicas:
                    landed.append(move)
                    if move.source is not None:
                        self._trim_preference[block_id] = (move.source, move.deadline)
                elif info is not None and now < move.deadline:
                    keep.append(move)
            if keep:
                self._by_block[block_id] = keep
            else:
                del self._by_block[block_id]
        for block_id, (_, deadline) in list(self._trim_preference.items()):
            if now >= deadline:
                del self._trim_preference[block_id]
        return landed

    def trim_preference(self, block_id: str) -> str | None:
        found = self._trim_preference.pop(block_id, None)
        return found[0] if found else None
