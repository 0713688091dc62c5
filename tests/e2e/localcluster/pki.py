"""Certificates and keys of the local test cluster, made with ``cryptography`` (no cfssl).

One CA signs everything: the API server's serving certificate, one client certificate per
component (the identity RBAC and the Node authorizer expect), and the service-account
signing key. EC P-256 keys: quick to make on a 2-core machine, accepted by every component.
Everything is written once per cluster directory and reused while it exists.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Client:
    """A client identity: file stem, user (CN) and groups (O)."""

    stem: str
    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Server:
    """A serving certificate: file stem, CN and the names and addresses it is valid for."""

    stem: str
    common_name: str
    names: tuple[str, ...]
    ips: tuple[str, ...]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common: str, groups: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _load(pki: Path, stem: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((pki / f"{stem}.crt").read_bytes())
    key = serialization.load_pem_private_key((pki / f"{stem}.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _issue(pki: Path, stem: str, subject: x509.Name, ca: x509.Certificate,
           ca_key: ec.EllipticCurvePrivateKey, *, server_names: tuple[str, ...] = (),
           server_ips: tuple[str, ...] = ()) -> None:
    now = dt.datetime.now(dt.UTC)
    key = _key()
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                            False, False), critical=True))
    if server_names or server_ips:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        builder = (builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    _write_key(pki / f"{stem}.key", key)
    _write_cert(pki / f"{stem}.crt", builder.sign(ca_key, hashes.SHA256()))


def ensure(pki: Path, *, clients: tuple[Client, ...], servers: tuple[Server, ...]) -> None:
    """Create whatever of CA, serving and client certificates and SA key is missing."""
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "ca.crt").exists():
        now = dt.datetime.now(dt.UTC)
        key = _key()
        name = _name("todo-localcluster-ca")
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True,
                                             False, False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_key(pki / "ca.key", key)
        _write_cert(pki / "ca.crt", cert)
    ca, ca_key = _load(pki, "ca")
    for server in servers:
        if not (pki / f"{server.stem}.crt").exists():
            _issue(pki, server.stem, _name(server.common_name), ca, ca_key,
                   server_names=server.names, server_ips=server.ips)
    for client in clients:
        if not (pki / f"{client.stem}.crt").exists():
            _issue(pki, client.stem, _name(client.user, client.groups), ca, ca_key)
    if not (pki / "sa.key").exists():
        sa = _key()
        _write_key(pki / "sa.key", sa)
        (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
