"""Bucket/key <-> namespace path, and the CLI's path resolution.

Rule 1 (S3 door): a key is never normalised. ``/{bucket}/{key}`` is the path, so ``a//b``,
``../x`` and a trailing ``/`` (a directory marker) all round-trip unchanged.
Rule 2 (plen door): the CLI resolves paths the POSIX way (``.``, ``..``, repeated ``/``)
against its working directory before they reach the nameserver.
Order: names and keys sort by their UTF-8 bytes, a directory as ``name/``.
"""

from __future__ import annotations

import posixpath


def object_path(bucket: str, key: str) -> str:
    return f"/{bucket}/{key}"


def split_object_path(path: str) -> tuple[str, str]:
    """Inverse of ``object_path``."""
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path!r}")
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def sort_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def resolve(cwd: str, arg: str) -> str:
    """An absolute, normalised path for a CLI argument (no trailing slash but for ``/``)."""
    joined = arg if arg.startswith("/") else posixpath.join(cwd or "/", arg)
    norm = posixpath.normpath(joined)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


def parent_and_name(path: str) -> tuple[str, str]:
    """``/a/b/c`` -> (``/a/b``, ``c``); the root has no name."""
    head, _, name = path.rstrip("/").rpartition("/")
    return (head or "/"), name


def join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name
