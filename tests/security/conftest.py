"""A Mosquitto with password auth and weft's ACL, and throwaway TLS certificates.

Each test gets its own broker (about 50 ms to start), so what one test's
clients publish or retain cannot leak into another's.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker, TlsListener
from weft.runtime.bus.mqtt.broker_auth import write_acl_file, write_password_file

PASSWORDS = {
    "alice": "alice-secret",
    "bob": "bob-secret",
    "sum-1": "sum-1-secret",
    "sum-2": "sum-2-secret",
    "orchestrator": "orch-secret",
    "cli": "cli-secret",
}
"""alice, bob, sum-1 and sum-2 are agents (user name = agent id), sum-1 and sum-2
replicas sharing the pool ``sum``; orchestrator has the admin block, cli the
caller block."""


@dataclass(frozen=True)
class SecuredBroker:
    broker: MosquittoBroker

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """The broker URL with ``user``'s credentials (its own password unless given)."""
        if user is None:
            return self.broker.url
        secret = PASSWORDS[user] if password is None else password
        return self.broker.url.replace("://", f"://{user}:{secret}@", 1)


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[SecuredBroker]:
    """Mosquitto with ``allow_anonymous false``, a password file and weft's ACL."""
    passwords = write_password_file(tmp_path / "passwd", PASSWORDS)
    acl = write_acl_file(
        tmp_path / "acl",
        orchestrators=["orchestrator"],
        callers=["cli"],
        pools={"sum-1": ["sum"], "sum-2": ["sum"]},
    )
    broker = MosquittoBroker(allow_anonymous=False, password_file=passwords, acl_file=acl)
    async with running(broker):
        yield SecuredBroker(broker)


# -- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """PEM files: a CA, a broker certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # an unrelated CA
    rogue_cert: Path  # a client certificate signed by other_ca
    rogue_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Throwaway certificates (EC P-256, valid for a day), made once per session."""
    base = tmp_path_factory.mktemp("pki")
    keys = {
        name: ec.generate_private_key(ec.SECP256R1()) for name in ("ca", "other", "s", "c", "r")
    }
    ca = _certificate("weft test CA", keys["ca"], None, ca=True)
    other = _certificate("some other CA", keys["other"], None, ca=True)
    signed_by_ca = (ca.subject, keys["ca"])
    _write(base / "ca.pem", ca, keys["ca"])
    _write(base / "other-ca.pem", other, keys["other"])
    _write(
        base / "server.pem",
        _certificate("127.0.0.1", keys["s"], signed_by_ca, server=True),
        keys["s"],
    )
    _write(base / "client.pem", _certificate("alice", keys["c"], signed_by_ca), keys["c"])
    _write(
        base / "rogue.pem",
        _certificate("mallory", keys["r"], (other.subject, keys["other"])),
        keys["r"],
    )
    return Pki(
        ca=base / "ca.pem",
        server_cert=base / "server.pem",
        server_key=base / "server.key",
        client_cert=base / "client.pem",
        client_key=base / "client.key",
        other_ca=base / "other-ca.pem",
        rogue_cert=base / "rogue.pem",
        rogue_key=base / "rogue.key",
    )


@pytest.fixture
async def tls_broker(pki: Pki) -> AsyncIterator[MosquittoBroker]:
    """Mosquitto with a TLS listener that requires a client certificate signed by the CA."""
    broker = MosquittoBroker(tls=TlsListener(pki.ca, pki.server_cert, pki.server_key))
    async with running(broker, "TLS Mosquitto"):
        yield broker


@asynccontextmanager
async def running(broker: MosquittoBroker, what: str = "Mosquitto") -> AsyncIterator[None]:
    """``broker`` started for a test (a clear failure when it cannot start), then stopped."""
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(f"cannot start a {what} for this test: {exc}", pytrace=False)
    try:
        yield
    finally:
        await broker.stop()
