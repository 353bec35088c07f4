import datetime as dt
import ipaddress
import os
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from gateway.tls import TLSConfigError, local_certificate, server_context


def _verify(made, name: x509.GeneralName) -> None:
    """Strict, browser-grade chain verification of the server certificate for ``name``."""
    chain = x509.load_pem_x509_certificates(made.cert.read_bytes())
    store = Store(x509.load_pem_x509_certificates(made.ca.read_bytes()))
    subject = (x509.IPAddress(name.value) if isinstance(name, x509.IPAddress)
               else x509.DNSName(name.value))
    verifier = PolicyBuilder().store(store).time(dt.datetime.now(dt.timezone.utc)) \
        .build_server_verifier(subject)
    verifier.verify(chain[0], chain[1:])


def test_local_certificate_verifies_strictly_for_every_host(tmp_path):
    made = local_certificate(tmp_path, ["localhost", "127.0.0.1", "::1"])
    _verify(made, x509.DNSName("localhost"))
    _verify(made, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    _verify(made, x509.IPAddress(ipaddress.ip_address("::1")))
    with pytest.raises(Exception):
        _verify(made, x509.DNSName("elsewhere.example"))
    assert os.stat(made.key).st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.tmp"))
    server_context(made.cert, made.key)  # the pair loads


def test_local_certificate_is_kept_while_it_covers_the_hosts_and_remade_when_not(tmp_path):
    first = local_certificate(tmp_path, ["localhost", "127.0.0.1"])
    ca = first.ca.read_bytes()
    assert local_certificate(tmp_path, ["127.0.0.1"]).ca.read_bytes() == ca
    remade = local_certificate(tmp_path, ["127.0.0.1", "storage.example"])
    assert remade.ca.read_bytes() != ca
    _verify(remade, x509.DNSName("storage.example"))


def test_the_authority_key_is_not_kept(tmp_path):
    local_certificate(tmp_path, ["localhost"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert b"PRIVATE KEY" not in (tmp_path / "ca.pem").read_bytes()
    assert b"PRIVATE KEY" not in (tmp_path / "cert.pem").read_bytes()


def test_server_context_names_the_file_that_is_wrong(tmp_path):
    a = local_certificate(tmp_path / "a", ["localhost"])
    b = local_certificate(tmp_path / "b", ["localhost"])
    with pytest.raises(TLSConfigError, match="no such file"):
        server_context(tmp_path / "absent.pem", a.key)
    with pytest.raises(TLSConfigError, match="cannot load the certificate"):
        server_context(a.cert, b.key)


def test_gateway_refuses_a_bad_tls_flag_in_one_line(tmp_path):
    made = local_certificate(tmp_path, ["localhost"])
    base = [sys.executable, "-m", "gateway", "--nameserver", "http://127.0.0.1:9",
            "--root-user", "root", "--root-password", "password1"]
    cases = ((["--tls-cert", str(made.cert)], "--tls-cert and --tls-key go together"),
             (["--tls-cert", str(tmp_path / "x.pem"), "--tls-key", str(made.key)],
              "no such file"))
    for extra, message in cases:
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
