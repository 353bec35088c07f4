"""One S3 suite, two targets: every test here runs against moto (the reference) and Plenilune.

Choose targets with ``--compat-target=moto|plenilune|all`` (or PLEN_COMPAT_TARGET); the
default is all. A chosen target that cannot start is an error, never a skip.

Fixtures:

- ``target``: the session's ``Target`` (parametrized over the chosen targets).
- ``s3``: a boto3 client at default settings (path style, us-east-1, the target's
  credentials) that keeps raw error bodies for ``expect_error``.
- ``tls_target`` / ``tls_s3``: the same kind of server over HTTPS (a second one, started on
  first use), and a boto3 client at default settings that trusts its authority.
- ``bucket`` / ``make_bucket``: fresh, uniquely named buckets, emptied and deleted afterwards.
- ``aws``: the AWS CLI against the target (``aws("s3", "ls")``, ``aws.json(...)``).
- ``reference_diverges(reason)``: where moto is not what AWS documents. Around a block
  (``with reference_diverges("moto ..."):``) it runs the block everywhere; on moto the block
  must fail (the test then reports XFAIL with the reason), and if it passes the test fails,
  because the gap has closed. As a marker, ``@pytest.mark.reference_diverges("...")``, the
  whole test is a strict xfail on moto.
- ``plenilune_differs(reason) -> bool``: True on Plenilune, where the test then checks
  Plenilune's documented behaviour instead of AWS's; the reason is listed in the summary.

Every known gap of either kind is listed in compat_tests/README.md.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compat_tests.cli import AwsCli
from compat_tests.helpers import DIFFERS_PROPERTY, client, fresh_bucket
from compat_tests.targets import ALL_TARGETS, MOTO, PLENILUNE, STARTERS, Target

_HERE = Path(__file__).parent
_DIVERGED = pytest.StashKey[list[str]]()
_PLENILUNE_DIFFERENCES: dict[str, list[str]] = {}

# Third-party warnings that must not fail compat tests under filterwarnings=error (each names
# its module; nothing of ours is silenced).
_THIRD_PARTY_WARNING_FILTERS = (
    "ignore::DeprecationWarning:botocore.*",
    "ignore::DeprecationWarning:boto3.*",
    "ignore::DeprecationWarning:s3transfer.*",
    "ignore::DeprecationWarning:dateutil.*",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--compat-target", choices=(*ALL_TARGETS, "all"),
        default=os.environ.get("PLEN_COMPAT_TARGET", "all"),
        help="which server(s) compat_tests run against (default: all; env PLEN_COMPAT_TARGET)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reference_diverges(reason): moto is not AWS here; strict xfail on moto")


def _chosen_targets(config: pytest.Config) -> list[str]:
    choice = config.getoption("--compat-target")
    return list(ALL_TARGETS) if choice == "all" else [choice]


def _in_suite(item: pytest.Item) -> bool:
    return _HERE in Path(item.path).parents


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames and _HERE in Path(metafunc.definition.path).parents:
        metafunc.parametrize("target", _chosen_targets(metafunc.config), indirect=True,
                             scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not _in_suite(item):
            continue
        for spec in _THIRD_PARTY_WARNING_FILTERS:
            item.add_marker(pytest.mark.filterwarnings(spec))
        marker = item.get_closest_marker("reference_diverges")
        callspec = getattr(item, "callspec", None)
        if marker and callspec and callspec.params.get("target") == MOTO:
            reason = marker.args[0] if marker.args else marker.kwargs["reason"]
            item.add_marker(pytest.mark.xfail(reason=f"reference diverges: {reason}",
                                              strict=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call" and report.passed:
        diverged = item.stash.get(_DIVERGED, [])
        if diverged:
            report.outcome = "skipped"
            report.wasxfail = "reference diverges: " + "; ".join(dict.fromkeys(diverged))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _PLENILUNE_DIFFERENCES:
        terminalreporter.section("Plenilune's documented differences from AWS (checked)")
        for reason, tests in sorted(_PLENILUNE_DIFFERENCES.items()):
            terminalreporter.line(f"{reason}  [{len(tests)} test(s)]")


# --------------------------------------------------------------------------------------------
# Targets and clients


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    name: str = request.param
    with STARTERS[name](tmp_path_factory.mktemp(f"compat-{name}")) as started:
        yield started


@pytest.fixture(scope="session")
def s3(target: Target) -> Any:
    return client(target)


@pytest.fixture(scope="session")
def tls_target(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with STARTERS[target.name](tmp_path_factory.mktemp(f"compat-{target.name}-tls"),
                               tls=True) as started:
        yield started


@pytest.fixture(scope="session")
def tls_s3(tls_target: Target) -> Any:
    return client(tls_target)


@pytest.fixture
def make_bucket(request: pytest.FixtureRequest, s3: Any) -> Iterator[Callable[[], str]]:
    with contextlib.ExitStack() as made:
        prefix = request.node.originalname.removeprefix("test_")
        yield lambda: made.enter_context(fresh_bucket(s3, prefix))


@pytest.fixture
def bucket(make_bucket: Callable[[], str]) -> str:
    return make_bucket()


@pytest.fixture
def aws(target: Target, tmp_path: Path) -> AwsCli:
    return AwsCli(target, tmp_path / "aws-home")


# --------------------------------------------------------------------------------------------
# Known differences


@pytest.fixture
def reference_diverges(request: pytest.FixtureRequest,
                       target: Target) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def diverges(reason: str) -> Iterator[None]:
        if not target.is_reference:
            yield
            return
        try:
            yield
        except (Exception, pytest.fail.Exception):  # also a failed pytest.raises
            request.node.stash.setdefault(_DIVERGED, []).append(reason)
            return
        pytest.fail(f"the reference no longer diverges ({reason}): remove the marker and "
                    "the README entry")

    return diverges


@pytest.fixture
def plenilune_differs(request: pytest.FixtureRequest, target: Target) -> Callable[[str], bool]:
    def differs(reason: str) -> bool:
        if target.name != PLENILUNE:
            return False
        _PLENILUNE_DIFFERENCES.setdefault(reason, []).append(request.node.nodeid)
        # Carried to the test's reports, where compat_tests/report.py reads it.
        request.node.user_properties.append((DIFFERS_PROPERTY, reason))
        return True

    return differs
