"""`plen up` as a user runs it: a whole cluster in the foreground, stopped by Ctrl-C, and
brought back on the same data directory after every process was SIGKILLed."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.integration.harness import plen_command, wait_until

MiB = 1024 * 1024


class Up:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.data = tmp / "plen-data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLEN_")}
        self.env["PLEN_CONFIG"] = str(tmp / "config.json")
        self.env["COLUMNS"] = "200"
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self, *extra: str) -> None:
        self.runs += 1
        log = open(self.tmp / f"up-{self.runs}.log", "wb")
        # The block size is small so a few MiB make multi-block files.
        self.proc = subprocess.Popen(
            [*plen_command(), "up", "--data", str(self.data), "--block-size", str(MiB),
             "--gateway-port", "0", *extra],
            env=self.env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_until(self._ready, timeout=90, interval=0.2, message=self.output())

    def output(self) -> str:
        path = self.tmp / f"up-{self.runs}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"plen up exited {self.proc.returncode}:\n{self.output()}")
        return "ready" in self.output()

    def plen(self, *args: str, input: bytes | None = None, check: bool = True):
        result = subprocess.run([*plen_command(), *args], env=self.env, cwd=self.tmp,
                                input=input, capture_output=True, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"plen {args} -> {result.returncode}: {result.stderr!r}")
        return result

    def family(self) -> list[psutil.Process]:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def stop(self) -> None:
        if self.proc is None:
            return
        for p in self.family() if self.proc.poll() is None else []:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()


@pytest.fixture
def up(tmp_path: Path):
    u = Up(tmp_path)
    yield u
    u.stop()


def test_plen_up_serves_cli_with_no_flags_and_writes_config(up: Up) -> None:
    up.start()
    cfg = json.loads(Path(up.env["PLEN_CONFIG"]).read_text())
    assert cfg["nameserver"].startswith("http://")
    status = up.plen("status").stdout.decode()
    assert status.count("live") >= 3
    up.plen("mkdir", "/b")
    up.plen("put", "-", "/b/x", input=b"hello")
    assert up.plen("get", "/b/x", "-").stdout == b"hello"
    names = {p.name() for p in up.family()}
    assert any("redis" in n for n in names), names


def _s3_details(output: str) -> tuple[str, str, str]:
    fields = {}
    for line in output.splitlines():
        for label in ("S3 endpoint:", "S3 access key:", "S3 secret key:"):
            if line.startswith(label):
                fields[label] = line[len(label):].strip()
    assert len(fields) == 3, output
    return fields["S3 endpoint:"], fields["S3 access key:"], fields["S3 secret key:"]


def test_plen_up_starts_a_gateway_whose_printed_keys_work_and_survive_restart(up: Up) -> None:
    import boto3

    up.start()
    endpoint, access_key, secret_key = _s3_details(up.output())
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    s3.create_bucket(Bucket="both-doors")
    s3.put_object(Bucket="both-doors", Key="from-s3", Body=b"via the gateway")
    assert up.plen("get", "/both-doors/from-s3", "-").stdout == b"via the gateway"
    assert up.proc is not None
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0
    up.start()
    endpoint2, access_key2, secret_key2 = _s3_details(up.output())
    assert (access_key2, secret_key2) == (access_key, secret_key)
    s3 = boto3.client("s3", endpoint_url=endpoint2, region_name="us-east-1",
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    assert s3.get_object(Bucket="both-doors", Key="from-s3")["Body"].read() == \
        b"via the gateway"


def test_plen_up_tls_serves_https_that_clients_verify_with_the_printed_ca(up: Up) -> None:
    import ssl
    import urllib.request

    import boto3

    up.start("--tls")
    endpoint, access_key, secret_key = _s3_details(up.output())
    assert endpoint.startswith("https://127.0.0.1:"), endpoint
    ca = up.data / "tls" / "ca.pem"
    assert f"AWS_CA_BUNDLE={ca}" in up.output()
    assert (up.data / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=str(ca),
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    s3.create_bucket(Bucket="sealed")
    s3.put_object(Bucket="sealed", Key="k", Body=b"over tls")
    assert up.plen("get", "/sealed/k", "-").stdout == b"over tls"
    # Without the authority the certificate is not trusted; plain HTTP gets no S3 answer.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(endpoint + "/", timeout=10,
                               context=ssl.create_default_context())
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
        urllib.request.urlopen(endpoint.replace("https:", "http:") + "/", timeout=10)

    # A restart keeps the authority, so clients that trust it keep working.
    assert up.proc is not None
    before = ca.read_bytes()
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0
    up.start("--tls")
    assert ca.read_bytes() == before
    endpoint2, _, _ = _s3_details(up.output())
    s3 = boto3.client("s3", endpoint_url=endpoint2, region_name="us-east-1", verify=str(ca),
                      aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    assert s3.get_object(Bucket="sealed", Key="k")["Body"].read() == b"over tls"


def test_ctrl_c_stops_every_child_and_exits_zero(up: Up) -> None:
    up.start()
    children = up.family()[1:]
    assert len(children) >= 6  # redis, nameserver, three blockstores, the gateway
    assert up.proc is not None
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, alive


def test_every_acknowledged_file_survives_sigkill_of_all_processes(up: Up) -> None:
    up.start()
    up.plen("mkdir", "/d")
    written = {}
    for i, size in enumerate([0, 10, 4096, 4097, MiB, MiB + 1, 5 * MiB + 3]):
        data = os.urandom(size)
        up.plen("put", "-", f"/d/f{i}", input=data)
        written[f"/d/f{i}"] = data
    up.plen("mkdir", "-p", "/d/sub/deeper")
    up.plen("mv", "/d/f6", "/d/sub/deeper/moved")
    written["/d/sub/deeper/moved"] = written.pop("/d/f6")
    up.plen("cp", "/d/f5", "/d/copy")
    written["/d/copy"] = written["/d/f5"]

    victims = up.family()
    for p in victims:  # every process at once, as a power cut of the whole machine would
        p.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=30)

    up.start()
    for path, data in written.items():
        assert up.plen("get", path, "-").stdout == data, path
    assert up.plen("ls", "/d/sub/deeper").stdout.decode().split() == ["moved"]


def test_plen_up_json_announces_one_line_that_connects(up: Up) -> None:
    import boto3

    up.start("--json")
    first = up.output().splitlines()[0]
    announced = json.loads(first)
    names = {s["name"]: s for s in announced["services"]}
    assert set(names) == {"redis", "nameserver", "blockstore-0", "blockstore-1",
                          "blockstore-2", "gateway"}
    family = {p.pid for p in up.family()}
    assert {s["pid"] for s in names.values()} <= family
    assert announced["nameserver"] == names["nameserver"]["url"]
    assert json.loads(Path(up.env["PLEN_CONFIG"]).read_text())["nameserver"] == \
        announced["nameserver"]
    s3 = announced["s3"]
    client = boto3.client("s3", endpoint_url=s3["endpoint_url"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"],
                          aws_secret_access_key=s3["secret_key"])
    client.create_bucket(Bucket="announced")
    assert up.plen("ls", "/").stdout.decode().split() == ["announced/"]
    assert up.proc is not None
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0
    assert {"event": "stopping"} in [json.loads(line) for line in up.output().splitlines()[1:]]
