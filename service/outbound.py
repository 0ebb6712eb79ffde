"""Service: rules for the URLs the service itself calls on a caller's behalf (CDS Hooks ``fhirServer``).

A CDS Hooks caller names the FHIR server the service then fetches from, with the caller's token: that
makes the service a request forger (SSRF) unless the URL is checked. The rules:

* https only; plain http only for a host on ``CDSS_FHIR_SERVER_ALLOWLIST``;
* never a loopback, link-local (cloud metadata 169.254.169.254 included), unspecified or multicast
  address, by IP literal or by what the name resolves to, nor this service's own address, unless the
  host is on the allowlist (private networks are allowed: EHRs live there);
* one total deadline for all the fetches of a call (``CDSS_FHIR_TIMEOUT_S``) and a size limit on each
  answer (``CDSS_FHIR_MAX_BYTES``), read in chunks so a larger one is never held whole.

The name is resolved when it is checked; a resolver that answers differently at connect time (DNS
rebinding) is not caught here: put the service behind an egress proxy where that matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]


class Refused(ValueError):
    """The URL may not be called (the message says why, for a 400)."""


class TooLarge(Exception):
    """An answer was larger than the limit."""


async def resolve(host: str, port: int) -> list[str]:
    """The addresses of a host name (empty when it does not resolve: the fetch then fails by itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({info[4][0] for info in infos})


def _forbidden(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name in ("loopback", "link_local", "unspecified", "multicast"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return None


def _host_port(netloc_host: str | None, port: int | None, scheme: str) -> tuple[str, int]:
    return (netloc_host or "").lower().strip("[]"), port or (443 if scheme == "https" else 80)


async def check_url(url: str, *, allowlist: Iterable[str], own: Iterable[str] = (),
                    resolver: Resolver = resolve) -> None:
    """Refuse a fhirServer URL the service must not call.

    Args:
        url: the URL as the caller gave it.
        allowlist: `host` or `host:port` entries exempt from every rule but the scheme being http(s).
        own: `host:port` of this service (its public URL and its listening address).
        resolver: host, port -> addresses (tests pass their own).

    Raises:
        Refused: the reason, for a 400 answer.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("is not an absolute http(s) URL")
    try:
        host, port = _host_port(parts.hostname, parts.port, parts.scheme)
    except ValueError:
        raise Refused("has an invalid port") from None
    allowed = {a.lower() for a in allowlist}
    if host in allowed or f"{host}:{port}" in allowed:
        return
    if parts.scheme != "https":
        raise Refused("is plain http; fhirServer must be https (or its host on CDSS_FHIR_SERVER_ALLOWLIST)")
    if f"{host}:{port}" in {o.lower() for o in own} or host == "localhost" or host.endswith(".localhost"):
        raise Refused("is this service itself or localhost")
    for address in [host] if _is_ip(host) else await resolver(host, port):
        why = _forbidden(address)
        if why:
            raise Refused(f"resolves to a {why} address ({address}); such hosts need CDSS_FHIR_SERVER_ALLOWLIST")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def own_addresses(public_url: str, host: str, port: int) -> set[str]:
    """`host:port` forms of this service, to refuse a fhirServer that would call it back."""
    out = {f"{host.lower().strip('[]')}:{port}"}
    parts = urlsplit(public_url)
    if parts.hostname:
        out.add(f"{parts.hostname.lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}")
    if host in ("0.0.0.0", "::"):
        out |= {f"127.0.0.1:{port}", f"localhost:{port}", f"::1:{port}"}
    return out


async def bounded_get(http: httpx.AsyncClient, url: str, *, headers: dict[str, str], max_bytes: int,
                      timeout_s: float) -> tuple[int, bytes]:
    """GET: (status, body), the body read in chunks up to `max_bytes` (the total deadline is the caller's).

    Raises:
        TooLarge: the answer is larger than `max_bytes`.
        httpx.HTTPError: the request failed.
    """
    return await bounded_request(http, "GET", url, headers=headers, max_bytes=max_bytes, timeout_s=timeout_s)


async def bounded_request(http: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str],
                          max_bytes: int, timeout_s: float,
                          data: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request (a form in `data` for a POST): (status, body), read in chunks up to `max_bytes`.

    Raises:
        TooLarge: the answer is larger than `max_bytes`.
        httpx.HTTPError: the request failed.
    """
    async with http.stream(method, url, headers=headers, timeout=timeout_s, data=data) as response:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(f"{declared} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"more than {max_bytes} bytes")
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)
