"""The Dockerfile, read by BuildKit's own parser (the `dockerfile` package wraps its Go code),
and the files that decide what reaches the build. Not exercised: building the image (no
Docker engine here), so neither the build nor the image's size is measured."""

from __future__ import annotations

import re

from tests.deploy.support import (
    DOCKERFILE,
    REPO,
    ROLES,
    SECRET_VARS,
    daemon_envvars,
    require_module,
)

SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|ROOT_USER|_KEY$")


def instructions() -> list:
    parser = require_module("dockerfile", 'pip install -e ".[test]" (dockerfile)')
    return list(parser.parse_file(str(DOCKERFILE)))


def final_stage() -> list:
    parsed = instructions()
    last_from = max(i for i, cmd in enumerate(parsed) if cmd.cmd == "FROM")
    return parsed[last_from:]


def env_names(cmd) -> list[str]:
    return list(cmd.value[0::2])  # ENV k1 v1 k2 v2 ...: BuildKit gives names and values


def test_final_image_is_slim() -> None:
    assert final_stage()[0].value[0].endswith("-slim")


def test_final_image_runs_as_a_numeric_non_root_user() -> None:
    users = [cmd.value[0] for cmd in final_stage() if cmd.cmd == "USER"]
    assert users, "no USER in the final stage: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can verify it


def test_one_image_runs_every_role_through_plen() -> None:
    stage = final_stage()
    (entrypoint,) = [cmd for cmd in stage if cmd.cmd == "ENTRYPOINT"]
    assert entrypoint.json and entrypoint.value == ("plen",)


def test_final_stage_copies_no_source_tree() -> None:
    # Only the wheels arrive, through a bind mount that leaves no layer behind.
    assert not [cmd for cmd in final_stage() if cmd.cmd in ("COPY", "ADD")]


def test_no_secret_is_set_in_the_image() -> None:
    for cmd in instructions():
        if cmd.cmd in ("ENV", "ARG"):
            names = env_names(cmd) if cmd.cmd == "ENV" else [v.split("=")[0] for v in cmd.value]
            assert not [n for n in names if SECRETISH.search(n) or n in SECRET_VARS], cmd


def test_image_defaults_are_variables_the_daemons_read() -> None:
    known = set().union(*(daemon_envvars(role) for role in ROLES))
    for cmd in final_stage():
        if cmd.cmd == "ENV":
            plen = {n for n in env_names(cmd) if n.startswith("PLEN_")}
            assert plen and plen <= known, plen - known


def test_env_files_stay_out_of_the_build_context_and_git() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and "!.env" not in ignored
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()
