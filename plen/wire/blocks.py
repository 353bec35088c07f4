"""The data path: block bytes as raw streamed HTTP bodies, metadata in these headers.

- ``PUT  /blocks/{block_id}``: body = the block. Headers: token (write), CRC32C of the whole
  block, and the pipeline hops still to go (private URLs, comma-separated, in order). The
  receiver writes a temp file while forwarding to the next hop, checks the CRC32C, fsyncs,
  renames, and answers 201 with ``PutBlockResponse`` only after every downstream hop did.
- ``GET  /blocks/{block_id}``: token (read); optional ``Range: bytes=a-b``. The blockstore
  verifies the block's CRC32C before it serves it; a corrupt replica is quarantined and
  answered with ``checksum_mismatch`` so the reader fails over.
- ``DELETE /blocks/{block_id}``: cluster secret only (used by the agent's commands and tests).
Bytes never travel inside JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from plen.wire.types import ServerId

TOKEN_HEADER = "X-Plen-Token"
CRC32C_HEADER = "X-Plen-Crc32c"  # decimal unsigned 32-bit
PIPELINE_HEADER = "X-Plen-Pipeline"  # remaining hops, comma-separated URLs
# Every hop after the first, as the write token signed them (plen/tokens.py write_scope);
# passed on unchanged, so each hop can check its token and that its remaining hops are them.
PIPELINE_SCOPE_HEADER = "X-Plen-Pipeline-Scope"


def block_path(block_id: str) -> str:
    return f"/blocks/{block_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PutBlockResponse:
    stored_on: list[ServerId]  # this server first, then each downstream hop in order
