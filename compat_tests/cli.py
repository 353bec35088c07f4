"""The AWS CLI (v1, ``python -m awscli``) pointed at a target, isolated from the user's setup.

Rules: the user's config and credential files are never read: AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE point into the test's temporary directory, every other ``AWS_*``
variable is dropped, and the credentials come from the environment. The CLI runs in Python's
UTF-8 mode and its output is decoded as UTF-8, whatever the machine's locale, so unicode keys
read the same everywhere. Every run has a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from compat_tests.targets import Target

CLI_TIMEOUT_S = 120.0


class AwsCli:
    def __init__(self, target: Target, home: Path, *,
                 s3_settings: Mapping[str, str] | None = None) -> None:
        """``s3_settings`` go into the config file's ``s3`` section (e.g.
        ``{"signature_version": "s3v4"}``), beside path-style addressing."""
        self.target = target
        home.mkdir(parents=True, exist_ok=True)
        config = home / "config"
        s3_lines = "".join(f"    {name} = {value}\n"
                           for name, value in {"addressing_style": "path",
                                               **(s3_settings or {})}.items())
        config.write_text(f"[default]\nregion = {target.region}\ns3 =\n{s3_lines}")
        credentials = home / "credentials"
        credentials.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({
            "AWS_ACCESS_KEY_ID": target.access_key,
            "AWS_SECRET_ACCESS_KEY": target.secret_key,
            "AWS_DEFAULT_REGION": target.region,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONWARNINGS": "ignore",  # the CLI's own deprecation chatter is not under test
            "PYTHONUTF8": "1",
        })

    def __call__(self, *args: str, cwd: Path | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", "--endpoint-url", self.target.endpoint_url,
                *args]
        done = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, encoding="utf-8",
                              timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {done.returncode}:\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        out = self(*args, "--output", "json").stdout
        return json.loads(out) if out.strip() else None

    def run_all(self, commands: Sequence[Sequence[str]], *, check: bool = True,
                workers: int = 4) -> list[subprocess.CompletedProcess[str]]:
        """Independent commands, a few at a time (each CLI start costs about half a second of
        CPU); the results in the order given."""
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda argv: self(*argv, check=check), commands))

    def json_all(self, commands: Sequence[Sequence[str]], *, workers: int = 4) -> list[Any]:
        """``run_all`` with JSON output, parsed."""
        done = self.run_all([[*argv, "--output", "json"] for argv in commands], workers=workers)
        return [json.loads(d.stdout) if d.stdout.strip() else None for d in done]
