"""Certificates and ACME HTTP-01 answers at runtime, for the certificates service: the TLS part of the driver."""

from __future__ import annotations

import re
from pathlib import Path

from deployments.router.files import write_atomic, write_private
from deployments.router.runtime import RouterError

CERT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
KEY_AUTHORIZATION = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")


class TlsMixin:
    """HAProxy's certificates (`new/set/commit ssl cert`, `add/del ssl crt-list`) and the ACME challenge map.

    Mixed into HAProxy, whose lock, state and runtime commands it uses.
    """

    def cert_put(self, name: str, pem_bundle: str) -> None:
        """Serve `pem_bundle` (certificate chain and private key, PEM) for the names it covers, by SNI."""
        path = self._cert_path(name)
        with self._locked():
            known = self._crt_list_entries()
            write_private(path, pem_bundle)
            if self._master_pid is not None:
                if str(path) not in known:
                    self._cmd(f"new ssl cert {path}", expect="New empty certificate store")
                self._cmd(f"set ssl cert {path}", payload=pem_bundle, expect="Transaction created")
                self._cmd(f"commit ssl cert {path}", expect="Success!")
                if str(path) not in known:
                    self._cmd(f"add ssl crt-list {self.layout.crt_list} {path}", expect="Success!")
            if str(path) not in known:
                write_atomic(self.layout.crt_list, "".join(f"{entry}\n" for entry in [*known, str(path)]))

    def cert_remove(self, name: str) -> None:
        """Stop serving certificate `name` (SNI for its names falls back to the default certificate)."""
        path = self._cert_path(name)
        with self._locked():
            known = self._crt_list_entries()
            if str(path) not in known:
                return
            write_atomic(self.layout.crt_list, "".join(f"{entry}\n" for entry in known if entry != str(path)))
            if self._master_pid is not None:
                self._cmd(f"del ssl crt-list {self.layout.crt_list} {path}", expect="deleted in crtlist")
                self._cmd(f"del ssl cert {path}", expect="deleted!")
            path.unlink(missing_ok=True)

    def certs(self) -> list[str]:
        """The names of the certificates served besides the default one."""
        return [Path(entry).stem for entry in self._crt_list_entries()]

    def _cert_path(self, name: str) -> Path:
        if not CERT_NAME.match(name):
            raise RouterError(f"{name!r} cannot name a certificate file.")
        return self.layout.certs_dir / f"{name}.pem"

    def _crt_list_entries(self) -> list[str]:
        try:
            return [line.strip() for line in self.layout.crt_list.read_text().splitlines() if line.strip()]
        except OSError:
            return []

    def challenge_set(self, token: str, key_authorization: str) -> None:
        """Answer `key_authorization` at /.well-known/acme-challenge/<token> on every hostname (ACME HTTP-01)."""
        if not TOKEN.match(token) or not KEY_AUTHORIZATION.match(key_authorization):
            raise RouterError("An ACME token and key authorization are base64url text.")
        self._challenge(token, key_authorization)

    def challenge_clear(self, token: str) -> None:
        if TOKEN.match(token):
            self._challenge(token, None)

    def _challenge(self, token: str, value: str | None) -> None:
        with self._locked():
            current = self._challenges.get(token)
            if current == value:
                return
            path = self.layout.map_path("challenges")
            if self._master_pid is not None and self._backends is not None:
                if value is None:
                    self._cmd(f"del map {path} {token}")
                else:
                    self._cmd(f"{'set' if current is not None else 'add'} map {path} {token} {value}")
            if value is None:
                self._challenges.pop(token, None)
            else:
                self._challenges[token] = value
            if self._backends is not None:
                self._maps["challenges"] = dict(self._challenges)
                self._persist([], maps=["challenges"])
            else:
                write_atomic(path, "".join(f"{k} {v}\n" for k, v in sorted(self._challenges.items())))
