"""The one HTTP client for outbound requests: webhooks and every plugin's calls to a SaaS.

Timeouts are always set. Connections to private, loopback, link-local, multicast and reserved
addresses are refused, checked on the address actually connected to, after DNS resolution, so
a hostname that resolves (or re-resolves) to an internal address cannot slip through. The
operator opens exceptions with ``KEDAI_OUTBOUND_ALLOW`` (comma-separated CIDRs).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from plugin_sdk.errors import OutboundRefused

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Kedai/0.1 (+https://github.com/kedai)"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks(spec: str | None = None) -> list[Network]:
    spec = os.environ.get("KEDAI_OUTBOUND_ALLOW", "") if spec is None else spec
    networks = []
    for part in spec.split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return networks


def check_address(address: str, allow: Iterable[Network]) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allow):
        return
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified):
        raise OutboundRefused(
            f"refusing to connect to {ip}: private, loopback or reserved addresses are not "
            "reachable from Kedai (an operator can allow them with KEDAI_OUTBOUND_ALLOW)"
        )


class GuardedBackend(httpcore.SyncBackend):
    """Resolve, check every address, and connect to the checked address itself."""

    def __init__(self, allow: list[Network]) -> None:
        self.allow = allow

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [info[4][0] for info in infos]
        for address in addresses:
            check_address(address, self.allow)
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def client(*, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT, allow: str | None = None,
           **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` with timeouts and the address guard."""
    transport = httpx.HTTPTransport(retries=0)
    # httpx does not expose the network backend; the pool it builds takes one.
    transport._pool._network_backend = GuardedBackend(allowed_networks(allow))
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    return httpx.Client(transport=transport, timeout=timeout, headers=headers,
                        follow_redirects=False, **kwargs)
