"""fsck: check the whole namespace against the block map, as HDFS's fsck does.

Every file entry (under the root, in detached subtrees awaiting collection, and in the parts
of multipart uploads) is read; the references found per block are compared with each block's
reference count, and each referenced block's replicas are counted on live servers. Read-only
and O(namespace): an operator's and the fault tests' tool, not a background duty.
"""

from __future__ import annotations

import json
from collections import Counter

from nameserver.membership import Membership
from nameserver.settings import Settings
from nameserver.store.redis_store import RedisStore
from plen.wire.namespace import FSCK_SAMPLE, FsckRequest, FsckResponse

BATCH = 500


class Fsck:
    def __init__(self, store: RedisStore, settings: Settings, membership: Membership) -> None:
        self.store = store
        self.settings = settings
        self.membership = membership

    async def run(self, req: FsckRequest) -> FsckResponse:
        refs: Counter[str] = Counter()
        files = 0
        async for raw in self.store.all_file_entries():
            files += 1
            for block in json.loads(raw).get("blocks", []):
                refs[block[0]] += 1
        async for raw in self.store.all_upload_parts():
            for block in json.loads(raw).get("blocks", []):
                refs[block[0]] += 1

        live = {s.server_id for s in await self.membership.servers(max_age_s=0)
                if s.state == "live"}
        rf = self.settings.replication_factor
        found: dict[str, list[str]] = {k: [] for k in (
            "missing", "under_replicated", "over_replicated", "bad_refs", "unreferenced")}
        blocks = 0
        async for info, count in self.store.all_blocks():
            if info.state != "live":
                continue
            blocks += 1
            wanted = refs.pop(info.block_id, 0)
            have = len(info.replicas & live)
            if wanted != count:
                found["bad_refs"].append(info.block_id)
            if wanted == 0:
                found["unreferenced"].append(info.block_id)
            elif have == 0:
                found["missing"].append(info.block_id)
            elif have < rf:
                found["under_replicated"].append(info.block_id)
            elif len(info.replicas) > rf:
                found["over_replicated"].append(info.block_id)
        found["missing"].extend(refs)  # referenced, but not in the block map at all
        return FsckResponse(
            files=files, blocks=blocks, referenced_blocks=blocks - len(found["unreferenced"])
            + len(refs), counts={k: len(v) for k, v in found.items()},
            ok=not any(found.values()),
            **{k: sorted(v)[:FSCK_SAMPLE] for k, v in found.items()})  # type: ignore[arg-type]
