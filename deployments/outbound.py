"""Connections Berth opens on a tenant's behalf (webhooks, drains), refused when they would reach inside.

A tenant names a URL; the host is resolved and every address it resolves to must be public (not loopback,
link-local such as the 169.254.169.254 metadata service, private, multicast, reserved or unspecified) unless it lies
inside the operator's BERTH_OUTBOUND_ALLOW. The check runs when the URL is saved and again before each connection,
and the connection goes to the address that was checked: a name that resolves elsewhere a second later (DNS
rebinding) reaches nothing it was not allowed to.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from portal.errors import Invalid


@dataclass(frozen=True)
class Target:
    """A checked destination: what the URL names and the address to connect to."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def _allowed_networks() -> list:
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in settings.BERTH_OUTBOUND_ALLOW if cidr.strip()]


def address_refusal(address: str) -> str:
    """Why `address` may not be reached, or '' when it may."""
    ip = ipaddress.ip_address(address)
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return ""
    for flag, what in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_unspecified", "an unspecified address"),
    ):
        if getattr(ip, flag):
            return what
    if not ip.is_global:
        return "a non-public address"
    return ""


def outbound_target(url: str, *, schemes: dict[str, int | None], field: str = "url") -> Target:
    """Parse `url` (its scheme one of `schemes`: scheme -> default port), resolve it and check every address.

    Raise Invalid, on `field`, when the URL is malformed, does not resolve or reaches an address it may not.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise Invalid(f"The URL must start with {' or '.join(f'{s}://' for s in schemes)}.", fields={field: [url]})
    try:
        port = parts.port or schemes[scheme]
    except ValueError:
        port = None
    host = parts.hostname or ""
    if not host or port is None:
        raise Invalid("The URL needs a host and a port.", fields={field: ["A host and a port are needed."]})
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Invalid(f"{host} does not resolve ({exc}).", code="unresolvable", fields={field: [str(exc)]}) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise Invalid(
                f"{host} resolves to {address}, {refusal}: Berth does not connect there.",
                code="outbound_refused",
                fields={field: [f"{address} is {refusal}."]},
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path)


def tls_context(ca_certificate: str = "") -> ssl.SSLContext:
    """A verifying client context trusting the system's CAs plus `ca_certificate` (PEM) when given."""
    context = ssl.create_default_context()
    if ca_certificate:
        context.load_verify_locations(cadata=ca_certificate)
    return context


def connect(target: Target, *, timeout: float, tls: ssl.SSLContext | None = None) -> socket.socket:
    """Open a TCP connection to the checked address (TLS with the URL's host name when `tls` is given)."""
    sock = socket.create_connection((target.address, target.port), timeout=timeout)
    if sock.getsockname() == sock.getpeername():
        # TCP's simultaneous open: with nothing listening on a local port of the ephemeral range, the kernel may pick
        # that very port as the source, and the socket talks to itself. Nothing listens: refuse as the kernel would.
        sock.close()
        raise ConnectionRefusedError(f"nothing listens on {target.address}:{target.port}")
    if tls is not None:
        try:
            sock = tls.wrap_socket(sock, server_hostname=target.host)
        except BaseException:
            sock.close()
            raise
    return sock


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to a checked address: the Host header and TLS name stay the URL's."""

    def __init__(self, target: Target, *, timeout: float, tls: ssl.SSLContext | None):
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target
        self._tls = tls

    def connect(self):
        self.sock = connect(self._target, timeout=self.timeout, tls=self._tls)


def http_post(
    target: Target, *, body: bytes, headers: dict[str, str], timeout: float, ca_certificate: str = ""
) -> tuple[int, bytes]:
    """POST `body` to the checked target, redirects not followed; return (status, the first 4 KiB of the answer)."""
    tls = tls_context(ca_certificate) if target.scheme == "https" else None
    conn = _PinnedConnection(target, timeout=timeout, tls=tls)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(4096)
    finally:
        conn.close()
