"""make_app wires the settings into the workers it starts: scrubbing on by default and
paced at --scrub-rate, copies paced at --copy-rate."""

from __future__ import annotations

import os
from pathlib import Path

from blockstore.admin import agent_key, scrubber_key
from blockstore.disk import BlockDisk
from plen.wire.types import new_block_id
from tests.unit.blockstore.helpers import (
    MakeBlockstore,
    files_under,
    flip_byte,
    store_block,
    wait_until,
)

DATA = os.urandom(20_011)


async def test_app_scrubs_by_default_from_the_start(tmp_path: Path,
                                                    make_blockstore: MakeBlockstore) -> None:
    disk = BlockDisk(tmp_path / "bs0")
    await disk.open()
    rotten = new_block_id()
    await store_block(disk, rotten, DATA)
    await disk.close()
    flip_byte(disk.block_file(rotten))

    store = await make_blockstore("bs0")

    await wait_until(lambda: bool(files_under(tmp_path / "bs0" / "quarantine")))
    assert not store.disk.has(rotten)


async def test_app_paces_scrub_and_copies_at_their_settings(
        make_blockstore: MakeBlockstore) -> None:
    store = await make_blockstore(scrub_rate_bytes_per_s=12_345, copy_rate_bytes_per_s=67_890)

    assert store.app[scrubber_key].pace.rate_bytes_per_s == 12_345
    assert store.app[agent_key].copy_pace.rate_bytes_per_s == 67_890
