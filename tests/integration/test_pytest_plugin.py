"""The pytest plugin (plen/pytest_plugin.py) as another project uses it: a test file in a
fresh directory, run by a separate pytest that finds the plugin through its entry point.
Afterwards every process the cluster ran (the gateway's workers too) must be gone."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.integration.harness import child_env, plen_command

pytest_plugins = ["pytester"]

# The other project's tests: boto3 only, against the fixture. They record the cluster's
# process tree so the outer test can check that it is gone after the session.
USER_TESTS = textwrap.dedent('''
    import hashlib, json, os

    import psutil

    def test_put_get_list(plenilune, plenilune_bucket):
        s3 = plenilune.client
        body = os.urandom(300_000)
        put = s3.put_object(Bucket=plenilune_bucket, Key="dir/a.bin", Body=body)
        assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        s3.put_object(Bucket=plenilune_bucket, Key="dir/b.txt", Body=b"bee")
        assert s3.get_object(Bucket=plenilune_bucket, Key="dir/a.bin")["Body"].read() == body
        listed = s3.list_objects_v2(Bucket=plenilune_bucket, Prefix="dir/")
        assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == \\
            [("dir/a.bin", len(body)), ("dir/b.txt", 3)]
        tree = []
        for pid in plenilune.pids.values():
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                tree.append([p.pid, p.create_time(), p.name()])
        with open({record!r}, "w") as f:
            json.dump({{"tree": tree, "bucket": plenilune_bucket,
                       "endpoint": plenilune.endpoint_url}}, f)

    def test_the_bucket_is_fresh_and_the_cluster_the_same(plenilune, plenilune_bucket):
        with open({record!r}) as f:
            first = json.load(f)
        assert plenilune_bucket != first["bucket"]
        assert plenilune.endpoint_url == first["endpoint"]
        assert plenilune.client.list_objects_v2(Bucket=plenilune_bucket)["KeyCount"] == 0
        names = [b["Name"] for b in plenilune.client.list_buckets()["Buckets"]]
        assert first["bucket"] not in names  # removed after the first test
''')


def still_running(pid: int, create_time: float) -> bool:
    """The same process (not a new one that reused the PID) is still there."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_fixture_serves_s3_and_leaves_no_process_behind(pytester: pytest.Pytester,
                                                        tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    pytester.makepyfile(test_user=USER_TESTS.format(record=str(record)))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    tree = json.loads(record.read_text())["tree"]
    names = " ".join(name for _, _, name in tree)
    # redis, the nameserver, three blockstores, the gateway (and its worker).
    assert len(tree) >= 6 and "redis" in names, tree
    left = [(pid, name) for pid, created, name in tree if still_running(pid, created)]
    assert left == []


def test_plugin_loads_without_starting_anything(pytester: pytest.Pytester) -> None:
    # -p names the plugin as autoloading does: both at once must not collide.
    pytester.makepyfile(test_quiet='''
        import psutil

        def test_nothing_started(request):
            plugin = request.config.pluginmanager.get_plugin("plen.pytest_plugin")
            assert plugin is not None and callable(plugin.plenilune)
            assert psutil.Process().children(recursive=True) == []
    ''')
    result = pytester.runpytest_subprocess("-p", "plen.pytest_plugin", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_without_boto3_the_fixture_fails_in_one_line_before_starting(
        pytester: pytest.Pytester) -> None:
    # The other project has no boto3: this conftest makes its import fail as it would.
    pytester.makeconftest('''
        import sys
        sys.modules["boto3"] = None
    ''')
    pytester.makepyfile(test_needs=textwrap.dedent('''
        import psutil

        def test_uses_it(plenilune):
            pass

        def test_after(request):
            assert psutil.Process().children(recursive=True) == []
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the plenilune fixture needs boto3*pip install boto3*"])
    assert "Traceback" not in result.stdout.str()


def test_the_projects_own_session_cluster_is_the_cli_s_too(plenilune, plenilune_bucket) -> None:
    """The fixture's cluster is a whole Plenilune: what boto3 writes, `plen` reads."""
    plenilune.client.put_object(Bucket=plenilune_bucket, Key="k", Body=b"both doors")
    got = subprocess.run([*plen_command(), "get", f"/{plenilune_bucket}/k", "-"],
                         capture_output=True, timeout=60,
                         env=child_env(plenilune.plen_env()))
    assert (got.returncode, got.stdout) == (0, b"both doors"), got.stderr
    assert all(psutil.pid_exists(pid) for pid in plenilune.pids.values())
