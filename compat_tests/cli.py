"""The AWS CLI (v1, ``python -m awscli``) pointed at a target, isolated from the user's setup.

Rule: the user's config and credential files are never read: AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE point into the test's temporary directory, every other ``AWS_*``
variable is dropped, and the credentials come from the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from compat_tests.targets import Target

CLI_TIMEOUT_S = 120.0


class AwsCli:
    def __init__(self, target: Target, home: Path) -> None:
        self.target = target
        home.mkdir(parents=True, exist_ok=True)
        config = home / "config"
        config.write_text(f"[default]\nregion = {target.region}\n"
                          "s3 =\n    addressing_style = path\n")
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
        })

    def __call__(self, *args: str, cwd: Path | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", "--endpoint-url", self.target.endpoint_url,
                *args]
        done = subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True,
                              timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {done.returncode}:\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        out = self(*args, "--output", "json").stdout
        return json.loads(out) if out.strip() else None
