"""A clamd client speaking INSTREAM over a socket, chunk by chunk, so a
file is never held in memory. No ORM; the runner decides what a result means.

CLAMAV_URL is `tcp://host:port` or `unix:///path/to/clamd.ctl`.
"""

import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlparse


class ScannerUnavailable(Exception):
    """clamd could not be reached or did not answer sensibly."""


class ScanTooLarge(Exception):
    """clamd refused the stream: it is above its StreamMaxLength."""


@dataclass(frozen=True)
class ScanResult:
    infected: bool
    signature: str = ""


def _connect(url: str, timeout: float) -> socket.socket:
    parsed = urlparse(url)
    try:
        if parsed.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parsed.path)
        elif parsed.scheme == "tcp":
            sock = socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 3310), timeout=timeout)
        else:
            raise ScannerUnavailable(f"CLAMAV_URL scheme {parsed.scheme!r} is not tcp:// or unix://")
    except OSError as exc:
        raise ScannerUnavailable(f"clamd at {url} is unreachable: {exc}") from exc
    return sock


def _read_reply(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\0"):
        block = sock.recv(4096)
        if not block:
            break
        data += block
        if len(data) > 65536:
            break
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def ping(url: str, *, timeout: float = 5) -> bool:
    try:
        with _connect(url, timeout) as sock:
            sock.sendall(b"zPING\0")
            return _read_reply(sock) == "PONG"
    except (ScannerUnavailable, OSError):
        return False


def instream(stream: BinaryIO, *, url: str, chunk_size: int = 1 << 20, timeout: float = 120) -> ScanResult:
    """Scan a stream; raises ScannerUnavailable or ScanTooLarge."""
    with _connect(url, timeout) as sock:
        try:
            sock.sendall(b"zINSTREAM\0")
            while block := stream.read(chunk_size):
                sock.sendall(struct.pack("!L", len(block)) + block)
            sock.sendall(struct.pack("!L", 0))
        except (BrokenPipeError, ConnectionResetError):
            # clamd hangs up once a stream passes StreamMaxLength; its reason
            # is usually still waiting to be read.
            pass
        except OSError as exc:
            raise ScannerUnavailable(f"clamd stopped answering: {exc}") from exc
        try:
            reply = _read_reply(sock)
        except OSError as exc:
            raise ScannerUnavailable(f"clamd gave no answer: {exc}") from exc
    if "size limit exceeded" in reply:
        raise ScanTooLarge(reply)
    if reply.endswith("FOUND"):
        signature = reply.removeprefix("stream:").strip().removesuffix("FOUND").strip()
        return ScanResult(infected=True, signature=signature)
    if reply.endswith("OK"):
        return ScanResult(infected=False)
    raise ScannerUnavailable(f"clamd answered {reply[:200]!r}")
