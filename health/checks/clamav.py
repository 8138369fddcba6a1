"""ClamAV: clamd answers PING and tells its VERSION.

Scanning is optional (files are recorded as "not scanned" without it), so
clamd unset or down is a warning, never a failure of the instance.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from health import conf
from health.checks.base import Check, Observation, Status


def clamd_command(url: str, command: str, *, timeout: float) -> str:
    """Send one null-terminated command (`zPING`) to clamd, return the reply."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: object = parsed.path
    elif parsed.scheme == "tcp":
        sock = socket.socket(socket.AF_INET6 if ":" in (parsed.hostname or "") else socket.AF_INET)
        address = (parsed.hostname or "127.0.0.1", parsed.port or 3310)
    else:
        raise ValueError(f"CLAMAV_URL must be tcp://host:port or unix:///path, got {url!r}")
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(f"z{command}\0".encode())
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.rstrip(b"\0").decode(errors="replace").strip()


class ClamAVCheck(Check):
    name = "clamav"
    component_type = "component"

    def run(self) -> list[Observation]:
        url = conf.CLAMAV_URL
        if not url:
            return [Observation("reachable", Status.WARN, False, output="not configured (CLAMAV_URL is unset)")]
        try:
            pong = clamd_command(url, "PING", timeout=conf.CHECK_TIMEOUT)
            version = clamd_command(url, "VERSION", timeout=conf.CHECK_TIMEOUT)
        except (OSError, ValueError) as exc:
            return [Observation("reachable", Status.WARN, False, output=f"clamd at {url} is unreachable: {exc}")]
        if pong != "PONG":
            return [Observation("reachable", Status.WARN, False, output=f"clamd answered {pong!r} to PING")]
        return [
            Observation("reachable", Status.PASS, True, component_id=url),
            Observation("version", Status.PASS, version, component_id=url),
        ]
