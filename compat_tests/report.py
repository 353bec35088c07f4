"""python -m compat_tests.report: run the compat suite against every target, write the matrix.

    python -m compat_tests.report                       # writes compat_tests/MATRIX.md
    python -m compat_tests.report --output /tmp/m.md -- -k rclone   # after --: pytest args

It runs ``compat_tests`` once, in this process, against the reference (moto) and Plenilune,
and writes a Markdown matrix: one row per scenario (the test's docstring, first line), one
column per target, grouped by client and by S3 operation family, with per-client pass counts
and every known difference from AWS with its reason, as the tests themselves declare them
(``reference_diverges`` for moto, ``plenilune_differs`` for Plenilune). The exit status is
pytest's, so a failing scenario fails the command as well as showing in the matrix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from compat_tests.helpers import DIFFERS_PROPERTY
from compat_tests.targets import MOTO, PLENILUNE

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGETS = (PLENILUNE, MOTO)
TARGET_TITLES = {PLENILUNE: "Plenilune", MOTO: "moto (reference)"}

# Module -> section title; clients first, then the S3 API by operation family.
CLIENTS = {
    "test_awscli": "AWS CLI: `aws s3`",
    "test_awscli_s3api": "AWS CLI: `aws s3api`, `aws s3 presign` with curl",
    "test_boto3": "boto3 at its defaults, over HTTP and HTTPS",
    "test_transfer": "boto3 managed transfers (s3transfer)",
    "test_rclone": "rclone (`s3` remote, provider Other)",
    "test_s3cmd": "s3cmd",
    "test_s3fs": "s3fs (fsspec)",
    "test_minio": "MinIO Python SDK",
}
OPERATIONS = {
    "test_buckets": "Buckets",
    "test_objects": "Objects: PUT, GET, HEAD, DELETE",
    "test_ranges_conditionals": "Ranges and conditional requests",
    "test_copy": "CopyObject",
    "test_multipart": "Multipart uploads",
    "test_listing": "Listings",
    "test_delete_objects": "DeleteObjects",
    "test_tagging_attributes": "Tagging and object attributes",
    "test_checksums": "Checksums",
    "test_auth": "Authentication",
    "test_hostile_keys": "Hostile keys",
}
CLIENT_VERSIONS = ("boto3", "botocore", "awscli", "s3fs", "minio", "moto")
CLIENT_COMMANDS = {"rclone": ["rclone", "version"], "s3cmd": ["s3cmd", "--version"],
                   "curl": ["curl", "--version"]}


@dataclass
class Cell:
    outcome: str = "not run"  # pass | FAIL | expected failure | skipped
    reason: str = ""          # why it is an expected failure, or skipped
    differs: list[str] = field(default_factory=list)


@dataclass
class Row:
    module: str
    label: str
    cells: dict[str, Cell] = field(default_factory=dict)


class Collector:
    """A pytest plugin that turns the run's reports into rows."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Row] = {}
        self._where: dict[str, tuple[tuple[str, str, str], str]] = {}  # nodeid -> row, target

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # what runs, after -k and marker deselection
            if not isinstance(item, pytest.Function):
                continue
            params = dict(item.callspec.params) if hasattr(item, "callspec") else {}
            target = str(params.pop("target", ""))
            if target not in TARGETS:
                continue  # a test that needs no target is not a matrix cell
            module = Path(str(item.path)).stem
            variant = ", ".join(str(v) for v in params.values())
            label = _scenario(item)
            if variant:
                label += f" ({variant})"
            key = (module, item.originalname, variant)
            self.rows.setdefault(key, Row(module, label))
            self._where[item.nodeid] = (key, target)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        where = self._where.get(report.nodeid)
        if where is None:
            return
        key, target = where
        cell = self.rows[key].cells.setdefault(target, Cell())
        for name, value in report.user_properties:
            if name == DIFFERS_PROPERTY and value not in cell.differs:
                cell.differs.append(str(value))
        if cell.outcome == "FAIL":
            return
        if report.failed:
            cell.outcome, cell.reason = "FAIL", report.when
        elif hasattr(report, "wasxfail"):
            cell.outcome = "expected failure"
            cell.reason = str(report.wasxfail).removeprefix("reference diverges: ")
        elif report.skipped:
            cell.outcome = "skipped"
            longrepr = report.longrepr
            cell.reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
            cell.reason = cell.reason.removeprefix("Skipped: ")
        elif report.when == "call" and report.passed:
            cell.outcome = "pass"


def _scenario(item: pytest.Function) -> str:
    """The docstring's first paragraph, or the test's name in words."""
    doc = (item.function.__doc__ or "").strip()
    if doc:
        return " ".join(doc.split("\n\n")[0].split())
    return item.originalname.removeprefix("test_").replace("_", " ")


# --------------------------------------------------------------------------------------------
# Rendering


class Notes:
    """Numbered footnotes: each distinct reason once."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.numbers: dict[str, int] = {}
        self.uses: dict[str, int] = {}

    def ref(self, reason: str) -> str:
        number = self.numbers.setdefault(reason, len(self.numbers) + 1)
        self.uses[reason] = self.uses.get(reason, 0) + 1
        return f"{self.prefix}{number}"


def _cell_text(cell: Cell | None, moto_notes: Notes, ours: Notes) -> str:
    if cell is None or cell.outcome == "not run":
        return "not run"
    if cell.outcome == "pass":
        text = "pass"
        if cell.differs:
            text += ", differs " + " ".join(f"[{ours.ref(r)}]" for r in cell.differs)
        return text
    if cell.outcome == "expected failure":
        return f"expected failure [{moto_notes.ref(cell.reason)}]"
    if cell.outcome == "skipped":
        return f"skipped: {cell.reason}"
    return f"**FAIL** ({cell.reason})"


def _versions() -> list[str]:
    found = []
    for name in CLIENT_VERSIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    for name, argv in CLIENT_COMMANDS.items():
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            found.append(f"{name} (not installed)")
            continue
        version = re.search(r"\d+\.\d+(\.\d+)?", out)
        found.append(f"{name} {version.group(0) if version else '(version unknown)'}")
    return found


def _counts(rows: Iterable[Row], target: str) -> tuple[int, int]:
    cells = [r.cells.get(target) for r in rows]
    run = [c for c in cells if c is not None and c.outcome not in ("not run", "skipped")]
    return sum(c.outcome == "pass" for c in run), len(run)


def render(collector: Collector, *, exit_code: int, command: str) -> str:
    by_module: dict[str, list[Row]] = {}
    for row in collector.rows.values():
        by_module.setdefault(row.module, []).append(row)
    sections = [(CLIENTS, "Clients"), (OPERATIONS, "S3 operations")]
    others = {m: m.removeprefix("test_").replace("_", " ").capitalize() for m in by_module
              if m not in CLIENTS and m not in OPERATIONS}
    if others:
        sections.append((others, "Other"))
    moto_notes, ours = Notes("m"), Notes("p")

    out = ["# S3 compatibility matrix", ""]
    out.append(f"Generated by `{command}` on {dt.date.today().isoformat()}, "
               f"{os.cpu_count()} cores, Python {platform.python_version()}; "
               f"pytest exit status {exit_code}.")
    out.append("Each row is one scenario of `compat_tests/`, run the same way against a "
               "Plenilune cluster and against a moto server (the reference). "
               "*expected failure* marks a place where moto is not what AWS documents "
               "(the test checks AWS's behaviour); *differs* marks Plenilune's documented "
               "differences, which the test checks instead. Notes are at the end.")
    out += ["", "Versions: " + ", ".join(_versions()) + ".", ""]

    out += ["## Summary", "", "Scenarios passed / run, per client and per operation family.", "",
            "| Client or area | " + " | ".join(TARGET_TITLES[t] for t in TARGETS) + " |",
            "|---|" + "---|" * len(TARGETS)]
    for titles, _group in sections:
        for module, title in titles.items():
            if module not in by_module:
                continue
            counts = ["{}/{}".format(*_counts(by_module[module], t)) for t in TARGETS]
            out.append(f"| {title} | " + " | ".join(counts) + " |")
    totals = ["**{}/{}**".format(*_counts(collector.rows.values(), t)) for t in TARGETS]
    out += ["| **All** | " + " | ".join(totals) + " |", ""]

    for titles, group in sections:
        present = [m for m in titles if m in by_module]
        if not present:
            continue
        out += [f"## {group}", ""]
        for module in present:
            out += [f"### {titles[module]}", "", f"`compat_tests/{module}.py`", "",
                    "| Scenario | " + " | ".join(TARGET_TITLES[t] for t in TARGETS) + " |",
                    "|---|" + "---|" * len(TARGETS)]
            for row in by_module[module]:
                cells = [_cell_text(row.cells.get(t), moto_notes, ours) for t in TARGETS]
                out.append(f"| {_escape(row.label)} | " + " | ".join(cells) + " |")
            out.append("")

    out += ["## Known differences from AWS", ""]
    out += ["### Plenilune", ""]
    if ours.numbers:
        for reason, number in ours.numbers.items():
            out.append(f"- **p{number}** ({ours.uses[reason]} scenarios): {_escape(reason)}")
    else:
        out.append("None met in this run.")
    out += ["", "### moto, the reference", ""]
    if moto_notes.numbers:
        for reason, number in moto_notes.numbers.items():
            out.append(f"- **m{number}** ({moto_notes.uses[reason]} scenarios): "
                       f"{_escape(reason)}")
    else:
        out.append("None met in this run.")
    out += ["", "The reasons, with more detail, are kept in "
            "[`compat_tests/README.md`](README.md).", ""]
    return "\n".join(out)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat_tests.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "MATRIX.md",
                        help="where to write the Markdown (default: compat_tests/MATRIX.md)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)

    collector = Collector()
    os.chdir(REPO)  # pyproject.toml's pytest settings apply
    exit_code = int(pytest.main([str(HERE), "--compat-target=all", "-q", "-p", "no:randomly",
                                 *args.pytest_args], plugins=[collector]))
    if not collector.rows:
        print("compat report: no scenario ran; nothing written", file=sys.stderr)
        return exit_code or 1
    command = "python -m compat_tests.report"
    if args.pytest_args:
        command += " -- " + " ".join(args.pytest_args)
    args.output.write_text(render(collector, exit_code=exit_code, command=command))
    print(f"compat report: wrote {args.output}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
