"""TLS for the gateway: the server context, and a local certificate authority for `plen up --tls`.

Rules:

1. The gateway serves HTTPS when given a certificate chain and its key (``--tls-cert``,
   ``--tls-key``); a file that is missing or does not load is one readable error at startup,
   never a traceback and never a silent fall back to plain HTTP.
2. ``local_certificate`` makes what `mkcert` would: a small certificate authority and a
   server certificate it signs for the given host names and addresses. Clients trust the
   authority (``ca.pem``: ``AWS_CA_BUNDLE``, ``--ca-bundle``, ``verify=``); its key is never
   written, so nothing on disk can sign another certificate. A server certificate that still
   covers the hosts and has more than ``RENEW_BEFORE`` left is kept, so a restart does not
   make clients trust a new authority.
3. Keys are written with mode 0600, through a temporary file and a rename.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


class TLSConfigError(Exception):
    """The certificate or key cannot be used; the message says which file and why."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if not path.is_file():
            raise TLSConfigError(f"{path}: no such file")
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TLSConfigError(f"cannot load the certificate {cert} with the key {key}: "
                             f"{exc}") from exc
    return context


@dataclass(frozen=True)
class LocalCertificate:
    ca: Path    # what clients trust
    cert: Path  # the server's certificate, then the authority's
    key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> LocalCertificate:
        return cls(ca=directory / "ca.pem", cert=directory / "cert.pem",
                   key=directory / "key.pem")


def local_certificate(directory: Path, hosts: Iterable[str]) -> LocalCertificate:
    """A server certificate for ``hosts`` signed by a local authority, made once in
    ``directory`` and kept while it is valid and covers ``hosts``."""
    wanted = sorted(set(hosts))
    files = LocalCertificate.in_directory(directory)
    if _still_good(files, wanted):
        return files
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Plenilune local"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Plenilune local CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256()))

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wanted[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in wanted]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    _write(files.key, server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), mode=0o600)
    _write(files.ca, ca_cert.public_bytes(pem), mode=0o644)
    _write(files.cert, server_cert.public_bytes(pem) + ca_cert.public_bytes(pem), mode=0o644)
    return files


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _still_good(files: LocalCertificate, hosts: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        if not (files.key.is_file() and files.ca.is_file()):
            return False
    except (OSError, ValueError):
        return False
    left = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    covered = {str(n) for n in names.get_values_for_type(x509.DNSName)}
    covered |= {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    return left > RENEW_BEFORE and set(hosts) <= covered


def _write(path: Path, data: bytes, *, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
