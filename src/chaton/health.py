"""Health of a host's services as an outsider sees it: HTTPS, the service's own health endpoint, certificates."""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import ssl
from dataclasses import dataclass


@dataclass
class Probe:
    name: str
    url: str
    healthy: bool
    status: str
    detail: str = ""
    cert_days_left: int | None = None
    body: str = ""


def _context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Connection(http.client.HTTPSConnection):
    """HTTPS to a given address with the service's name in SNI and Host (before DNS points at the host)."""

    def __init__(self, name: str, address: str, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__(name, port, context=context, timeout=timeout)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def probe(
    name: str,
    path: str,
    expect: str = "",
    *,
    address: str | None = None,
    port: int = 443,
    cafile: str | None = None,
    verify: bool = True,
    timeout: float = 15.0,
) -> Probe:
    url = f"https://{name}{'' if port == 443 else f':{port}'}{path}"
    try:
        conn = _Connection(name, address or name, port, _context(cafile, verify), timeout)
        conn.request("GET", path, headers={"User-Agent": "chaton-status"})
        resp = conn.getresponse()
        body = resp.read(65536).decode("utf-8", "replace")
        cert = conn.sock.getpeercert() if verify else None
        conn.close()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return Probe(name, url, False, "unreachable", str(exc))
    days = None
    if cert and cert.get("notAfter"):
        expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), dt.UTC)
        days = (expires - dt.datetime.now(dt.UTC)).days
    healthy = resp.status < 400 and (not expect or expect in body)
    detail = "" if healthy else (f"'{expect}' not in the answer" if resp.status < 400 else body[:200])
    return Probe(name, url, healthy, str(resp.status), detail, days, body)
