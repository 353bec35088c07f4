"""What ``plen --json`` prints: one JSON document per command on stdout.

Rule 1: keys are stable snake_case words; sizes are integers in bytes; times are ISO 8601
UTC strings with milliseconds (``2025-01-31T12:00:00.000Z``), ``null`` when unknown;
checksums are lowercase hex strings (CRC32C as 8 digits).
Rule 2: the output is ASCII: names come from any S3 client and may hold control characters
or lone surrogates, which JSON's ``\\u`` escapes carry safely to any parser.
Rule 3: files and directories have one shape each wherever they appear (``ls``, ``stat``,
``put`` ...), told apart by ``"type"``; a path is always the full namespace path.

Errors go to stderr as ``{"error": {"code", "message", "exit_code", ...}}``
(``emit_error``; which code when is ``plen.cli.main``'s business).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from plen import paths
from plen.wire.namespace import (
    ClusterStatusResponse,
    DirEntry,
    FileEntry,
    FsckResponse,
    ServerStatus,
)

FSCK_LISTS = ("missing", "under_replicated", "over_replicated", "bad_refs", "unreferenced")


def iso_time(ts: float | None) -> str | None:
    if not ts:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def crc_hex(value: int | None) -> str | None:
    return None if value is None else f"{value:08x}"


def file_doc(path: str, f: FileEntry, *, blocks: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "file", "path": path, "name": paths.parent_and_name(path)[1] if path != "/"
        else "", "size": f.size, "mtime": iso_time(f.mtime), "md5": f.md5,
        "crc32c": crc_hex(f.crc32c), "content_type": f.content_type, "meta": dict(f.meta),
        "inline": f.inline, "block_count": 0 if f.inline else (len(f.blocks) or f.block_count),
    }
    if blocks:
        doc["blocks"] = [{"block_id": b.block_id, "offset": b.offset, "size": b.size,
                          "crc32c": crc_hex(b.crc32c),
                          "replicas": [{"server_id": r.server_id, "url": r.url}
                                       for r in b.replicas]}
                         for b in f.blocks]
    return doc


def dir_doc(path: str, d: DirEntry) -> dict[str, Any]:
    return {"type": "dir", "path": path,
            "name": paths.parent_and_name(path)[1] if path != "/" else "",
            "mtime": iso_time(d.mtime), "marker": d.marker}


def entry_doc(parent: str, entry: FileEntry | DirEntry) -> dict[str, Any]:
    path = paths.join(parent, entry.name)
    return dir_doc(path, entry) if isinstance(entry, DirEntry) else file_doc(path, entry)


def server_doc(s: ServerStatus) -> dict[str, Any]:
    return {"server_id": s.server_id, "public_url": s.public_url,
            "private_url": s.private_url, "zone": s.zone or None, "state": s.state,
            "capacity_bytes": s.capacity_bytes, "used_bytes": s.used_bytes,
            "free_bytes": s.free_bytes, "blocks": s.blocks,
            "last_heartbeat_age_s": s.last_heartbeat_age_s}


def status_doc(nameserver: str, st: ClusterStatusResponse) -> dict[str, Any]:
    return {
        "nameserver": nameserver, "replication_factor": st.replication_factor,
        "servers": [server_doc(s) for s in st.servers],
        "live_servers": sum(1 for s in st.servers if s.state == "live"),
        "capacity_bytes": st.capacity_bytes, "used_bytes": st.used_bytes,
        "free_bytes": st.free_bytes, "blocks": st.blocks, "files": st.files,
        "under_replicated_blocks": st.under_replicated_blocks,
        "bytes_below_rf": st.bytes_below_rf, "blocks_below_2": st.blocks_below_2,
        "bytes_below_2": st.bytes_below_2, "missing_blocks": st.missing_blocks,
        "repair": {"bytes_left": st.repair_bytes_left,
                   "rate_bytes_per_s": st.repair_rate_bytes_per_s,
                   "eta_s": st.repair_eta_s, "repaired_bytes": st.repaired_bytes},
    }


def fsck_doc(r: FsckResponse) -> dict[str, Any]:
    return {"ok": r.ok, "files": r.files, "blocks": r.blocks,
            "referenced_blocks": r.referenced_blocks,
            "counts": {name: r.counts.get(name, 0) for name in FSCK_LISTS},
            "samples": {name: list(getattr(r, name)) for name in FSCK_LISTS}}


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=True)


def emit(doc: Any) -> None:
    click.echo(dumps(doc))


class ListingWriter:
    """``head`` with ``key`` holding the items added, written as they come so that a
    directory of a million entries costs one entry of memory; still one JSON document."""

    def __init__(self, head: dict[str, Any], key: str) -> None:
        opening = dumps({**head, key: []})
        assert opening.endswith("[]}")
        click.echo(opening[:-2], nl=False)
        self.count = 0

    def add(self, item: dict[str, Any]) -> None:
        click.echo(("" if self.count == 0 else ", ") + dumps(item), nl=False)
        self.count += 1

    def close(self) -> None:
        click.echo("]}")


def emit_error(code: str, message: str, exit_code: int, **details: Any) -> None:
    body = {"code": code, "message": message, "exit_code": exit_code, **details}
    click.echo(dumps({"error": body}), err=True)


def json_option(command: click.Command) -> click.Command:
    """``--json`` after a command, the same as before it: ``PlenGroup`` looks for the word
    in the whole command line before parsing, so the option only has to be accepted."""
    return click.option("--json", "json_output", is_flag=True, expose_value=False,
                        help="Print the result as JSON (same as 'plen --json ...').")(command)
