"""Outgoing HTTP for Slack and webhooks, guarded against SSRF.

Only http(s) URLs; a host that resolves to a private, loopback, link-local,
multicast or reserved address is refused unless its network is listed in
ALERT_WEBHOOK_ALLOWED_NETWORKS. Redirects are not followed (a 3xx is a
failure), so an allowed host cannot bounce us onto a forbidden one.
"""

import ipaddress
import os
import socket
import threading
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests

from monitoring.alerts import conf
from monitoring.alerts.notifiers.base import DeliveryError

MAX_URL_LENGTH = 2000


def url_validate(url: object) -> str:
    """Shape only (no DNS): for saving a channel. Raises ValueError."""
    if not isinstance(url, str) or not url:
        raise ValueError("url is required.")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"url is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("url must use http or https.")
    if not parts.hostname:
        raise ValueError("url has no host.")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("url has an invalid port.") from None
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if not address_allowed(address):
        raise ValueError(f"url points to a non-public address ({address}) that is not allowed.")
    return url


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in conf.WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return True
    return any(address in network for network in _allowed_networks() if network.version == address.version)


def url_check_target(url: str) -> None:
    """At send time: every address the host resolves to must be allowed."""
    try:
        url_validate(url)
    except ValueError as exc:
        raise DeliveryError(str(exc), permanent=True) from None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise DeliveryError(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address_allowed(address):
            raise DeliveryError(f"{parts.hostname} resolves to a non-public address ({address})", permanent=True)


_local = threading.local()


def session() -> requests.Session:
    """This thread's session. Notifications to one target reuse its open
    connection instead of a TCP (and TLS) handshake each. One per thread,
    since a Session is not thread-safe, and per process, since a forked
    worker must not share its parent's sockets. It keeps no cookies: a
    cookie one target sets must never travel to another."""
    if getattr(_local, "pid", None) != os.getpid():
        fresh = requests.Session()
        fresh.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _local.session, _local.pid = fresh, os.getpid()
    return _local.session


def post(url: str, *, body: bytes, headers: dict[str, str]) -> requests.Response:
    """POST the exact bytes; transport errors are transient DeliveryErrors."""
    url_check_target(url)
    try:
        return session().post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "Aggregator-Alerts/1.0", **headers},
            timeout=conf.NOTIFY_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise DeliveryError(f"timed out after {conf.NOTIFY_TIMEOUT_SECONDS:g} s") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}") from None


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_status(response: requests.Response, *, permanent_codes: tuple[int, ...] = (404, 410)) -> None:
    """2xx succeeds; 429 and 5xx are worth retrying; other codes are not."""
    code = response.status_code
    if 200 <= code < 300:
        return
    snippet = response.text[:200].strip()
    message = f"HTTP {code}" + (f": {snippet}" if snippet else "")
    if code == 429 or code >= 500:
        raise DeliveryError(message, status_code=code, retry_after=retry_after(response))
    # 3xx (redirects are not followed) and other 4xx will not fix themselves;
    # 404/410 mean the endpoint is gone and the channel gets flagged.
    raise DeliveryError(message, status_code=code, permanent=code in permanent_codes, retryable=False)
