"""What the routers serve of TLS: every certificate by name, and the ACME HTTP-01 answers, read from the database.

A router driver (deployments/router) offers the `TlsRouter` methods; the router loop calls `tls_sync` with each routes
version, so a certificate or a challenge reaches every router at runtime like a route. Kept apart from the
certificate writes (services/certificates.py) because the routes service calls it and the writes bump the routes.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from deployments import crypto
from deployments.models import AcmeChallenge, Certificate, DefaultCertificate

logger = logging.getLogger(__name__)

# A wildcard domain's first label (deployments/services/domains.py stores it so).
WILDCARD = "*."

# The name the routers give the default certificate; never a hostname (a hostname has at least two labels).
DEFAULT_CERTIFICATE_NAME = "default"
# How a wildcard's "*." is spelled in a certificate's name: router drivers keep certificates in files named after
# them, and "_" is in no stored hostname, so the name cannot collide with another domain's.
WILDCARD_NAME = "wildcard_."


class TlsRouter(Protocol):
    """What a router driver offers for TLS: certificates by name (see certificate_name) and HTTP-01 answers."""

    def cert_put(self, name: str, pem_bundle: str) -> None:
        """Serve `pem_bundle` (the chain, leaf first, then the key) for the names its certificate covers, by SNI.

        `name` is a domain's certificate_name, or DEFAULT_CERTIFICATE_NAME for the certificate given to a client
        whose name has none (and to clients sending no SNI).
        """

    def cert_remove(self, name: str) -> None: ...

    def challenge_set(self, token: str, body: str) -> None:
        """Answer GET /.well-known/acme-challenge/<token> with `body` on every hostname, over plain HTTP."""

    def challenge_clear(self, token: str) -> None: ...


@dataclass
class TlsApplied:
    """What one router serves: a stamp per certificate name (what changed is sent again) and the challenge answers."""

    certificates: dict[str, str] = field(default_factory=dict)
    challenges: dict[str, str] = field(default_factory=dict)


def certificate_name(hostname: str) -> str:
    """The name a router serves a domain's certificate under: the hostname, a wildcard's "*." spelled WILDCARD_NAME."""
    return WILDCARD_NAME + hostname[len(WILDCARD) :] if hostname.startswith(WILDCARD) else hostname


def _materials(pks: list[int], batch: int = 500) -> dict:
    """The chains and keys of the certificates `pks`, in a query per `batch`."""
    found = {}
    for start in range(0, len(pks), batch):
        rows = Certificate.objects.filter(pk__in=pks[start : start + batch]).only("chain", "private_key")
        found.update((row.pk, row) for row in rows)
    return found


def _bundle(material) -> str:
    return material.chain + crypto.decrypt(material.private_key)


def tls_apply(*, router: TlsRouter, applied: TlsApplied | None = None) -> TlsApplied:
    """Bring a router's certificates and challenge answers in line with the database; return what it now serves.

    Only what changed since `applied` is sent (a key is decrypted only then). A certificate the router refuses is
    logged and keeps its previous stamp in the result (none if it was new), so the next call tries it again.
    """
    applied = applied or TlsApplied()
    stamps: dict[str, tuple[str, object]] = {}
    default = DefaultCertificate.objects.exclude(chain="").only("updated_at").first()
    if default is not None:
        stamps[DEFAULT_CERTIFICATE_NAME] = (f"default:{default.updated_at.isoformat()}", None)
    for pk, hostname, updated_at in Certificate.objects.exclude(chain="").values_list(
        "pk", "domain__hostname", "updated_at"
    ):
        stamps[certificate_name(hostname)] = (f"{pk}:{updated_at.isoformat()}", pk)
    served = TlsApplied(challenges=dict(applied.challenges))
    changed = []
    for name, (stamp, pk) in stamps.items():
        if applied.certificates.get(name) == stamp:
            served.certificates[name] = stamp
        else:
            changed.append((name, stamp, pk))
    materials = _materials([pk for _name, _stamp, pk in changed if pk is not None])
    if any(pk is None for _name, _stamp, pk in changed):
        materials[None] = DefaultCertificate.objects.filter(pk=1).first()
    for name, stamp, pk in changed:
        material = materials.get(pk)
        try:
            if material is None:  # removed since the stamps were read
                continue
            router.cert_put(name, _bundle(material))
        except Exception:
            logger.exception("the router refused the certificate of %s", name)
            continue
        finally:
            # Not sent: the router still has what it had, under its old stamp, so the next sync sends or removes it.
            if name in applied.certificates:
                served.certificates[name] = applied.certificates[name]
        served.certificates[name] = stamp
    for name in set(applied.certificates) - set(stamps):
        router.cert_remove(name)
    challenges = dict(AcmeChallenge.objects.values_list("token", "key_authorization"))
    for token, body in challenges.items():
        if applied.challenges.get(token) != body:
            router.challenge_set(token, body)
            served.challenges[token] = body
    for token in set(applied.challenges) - set(challenges):
        router.challenge_clear(token)
        del served.challenges[token]
    return served


# What each router driver of this process serves, so a sync sends only what changed (a driver lives as long as the
# process, and keeps what it was given across HAProxy restarts in its generated config).
_served: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_served_lock = threading.Lock()


def tls_sync(*, router: TlsRouter) -> None:
    """Apply the TLS state to a router driver of this process (the router loop calls it with each routes version)."""
    with _served_lock:
        _served[router] = tls_apply(router=router, applied=_served.get(router))
