"""Certificates made on the spot for the tests: a CA, an intermediate, and leaves with the names and dates asked for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class Issued:
    """A leaf certificate, its key, and the chain (leaf, intermediate) a server presents."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate
    root: x509.Certificate

    @property
    def leaf_pem(self) -> str:
        return _pem(self.cert)

    @property
    def chain_pem(self) -> str:
        return _pem(self.cert) + _pem(self.intermediate)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)

    @property
    def root_pem(self) -> str:
        return _pem(self.root)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(name: str, key, issuer_name: x509.Name, issuer_key, now: dt.datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


class TestCA:
    """A root and an intermediate that sign leaves for any names, valid when asked."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "Berth Test"):
        now = dt.datetime.now(dt.UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _ca(f"{name} Root", self.root_key, _name(f"{name} Root"), self.root_key, now)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _ca(f"{name} Intermediate", self.intermediate_key, self.root.subject, self.root_key, now)

    def issue(
        self,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> Issued:
        now = dt.datetime.now(dt.UTC)
        key = key or ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0] if names else "no-names"))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(hours=1))
            .not_valid_after(not_after or now + dt.timedelta(days=90))
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
            )
        cert = builder.sign(self.intermediate_key, hashes.SHA256())
        return Issued(cert=cert, key=key, intermediate=self.intermediate, root=self.root)


class FakeTlsRouter:
    """An in-memory router driver: what it serves, and every call it received, in order."""

    def __init__(self, refuse: set[str] | None = None):
        self.certificates: dict[str, str] = {}
        self.challenges: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.refuse = refuse or set()

    def cert_put(self, name: str, pem_bundle: str) -> None:
        self.calls.append(("cert_put", name))
        if name in self.refuse:
            raise RuntimeError(f"refused {name}")
        self.certificates[name] = pem_bundle

    def cert_remove(self, name: str) -> None:
        self.calls.append(("cert_remove", name))
        self.certificates.pop(name, None)

    def challenge_set(self, token: str, body: str) -> None:
        self.calls.append(("challenge_set", token))
        self.challenges[token] = body

    def challenge_clear(self, token: str) -> None:
        self.calls.append(("challenge_clear", token))
        self.challenges.pop(token, None)
