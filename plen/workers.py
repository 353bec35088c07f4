"""Background duties share one shape: ``run_once() -> WorkResult`` and a loop around it."""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Awaitable, Callable

log = logging.getLogger("plen.workers")


class WorkResult(enum.Enum):
    BUSY = "busy"  # did work; more may be waiting
    IDLE = "idle"  # nothing to do
    THROTTLED = "throttled"


async def run_forever(name: str, run_once: Callable[[], Awaitable[WorkResult]],
                      interval_s: float, may_run: Callable[[], bool] = lambda: True) -> None:
    """Call ``run_once`` again at once while it is busy, else every ``interval_s``."""
    while True:
        result = WorkResult.IDLE
        if may_run():
            try:
                result = await run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", name)
        await asyncio.sleep(0 if result is WorkResult.BUSY else interval_s)
