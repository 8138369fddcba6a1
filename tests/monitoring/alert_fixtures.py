"""Fixtures of the alerts half: a test metric, real HTTP and SMTP servers.

Test modules import what they use (`from tests.monitoring.alert_fixtures
import *`), so the logs half's conftest stays untouched. Servers listen on
127.0.0.1 in this half's port range (8400-8499).
"""

import errno
import json
import queue
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from monitoring.alerts import conf, metrics
from monitoring.models import AlertRule, NotificationChannel

PORTS = range(8400, 8500)


class TestValue(metrics.Metric):
    """A metric whose value the test sets: `test_metric.value = 5`."""

    name = "test_value"
    params = {"key": str}
    values: dict[str, float | None] = {}
    failure: str | None = None

    def measure(self, *, params: dict[str, Any], window: metrics.Window) -> float | None:
        if TestValue.failure:
            raise metrics.MetricError(TestValue.failure)
        return TestValue.values.get(params.get("key", ""), None)


@dataclass
class TestMetric:
    def set(self, value: float | None, key: str = "") -> None:
        TestValue.values[key] = value

    def fail(self, why: str | None) -> None:
        TestValue.failure = why


@pytest.fixture
def test_metric():
    metrics.register(TestValue)
    TestValue.values = {}
    TestValue.failure = None
    yield TestMetric()
    metrics.unregister(TestValue.name)


def _bind(factory):
    """Starts a server on the first free port of our range."""
    for port in PORTS:
        try:
            return factory(port), port
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free port in 8400-8499")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int] = ("", 0)  # The sender's address and port.

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpTarget:
    """A real HTTP server on loopback. Answers are queued with `respond()`;
    once the queue is empty it answers `default`."""

    port: int
    requests: list[Received] = field(default_factory=list)
    answers: "queue.Queue[tuple[int, str, dict]]" = field(default_factory=queue.Queue)
    default: tuple[int, str, dict] = (200, "ok", {})
    arrived: threading.Condition = field(default_factory=threading.Condition)
    # HTTP/1.1 with persistent connections, as most real receivers; off by
    # default so a test's server never answers on another test's connection.
    keep_alive: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def respond(self, status: int, body: str = "", headers: dict | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.answers.put((status, body, headers or {}))

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
        return self.requests


def _handler_for(target: HttpTarget):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if target.keep_alive else "HTTP/1.0"
        disable_nagle_algorithm = True  # Or a kept-alive answer's body waits for a delayed ACK.

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            try:
                status, text, headers = target.answers.get_nowait()
            except queue.Empty:
                status, text, headers = target.default
            # Recorded before answering: once the sender has its answer, the
            # test must already see the request (recording after was a race).
            with target.arrived:
                received = {k.lower(): v for k, v in self.headers.items()}
                target.requests.append(Received(self.path, received, body, self.client_address))
                target.arrived.notify_all()
            payload = text.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The personas' PBKDF2 hashing costs seconds per test on two shared
    # cores; these tests never check passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setattr(conf, "WEBHOOK_ALLOWED_NETWORKS", ["127.0.0.0/8"])


def _serve(*, keep_alive: bool):
    holder: dict = {}

    def factory(port):
        target = HttpTarget(port=port, keep_alive=keep_alive)
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(target))
        holder["server"] = server
        return target

    target, _port = _bind(factory)
    server = holder["server"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield target
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_target(allow_loopback):
    yield from _serve(keep_alive=False)


@pytest.fixture
def keep_alive_target(allow_loopback):
    from monitoring.alerts.notifiers import http

    yield from _serve(keep_alive=True)
    # Drop this thread's pooled connection: the next test's server may get
    # the same port.
    http.session().close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real aiosmtpd SMTP server on loopback, with Django's SMTP backend
    pointed at it."""
    mailbox = _Mailbox()

    def factory(port):
        with socket.socket() as probe:  # Controller.start() hides bind errors in a thread.
            probe.bind(("127.0.0.1", port))
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        return controller

    controller, port = _bind(factory)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield mailbox
    controller.stop()


def make_rule(**fields) -> AlertRule:
    channels = fields.pop("channels", [])
    values = {
        "name": fields.pop("name", "errors"),
        "metric": "test_value",
        "comparison": ">",
        "threshold": 10,
        "window_seconds": 300,
        "severity": "high",
        "cooldown_seconds": 0,
        "no_data": "ok",
    }
    values.update(fields)
    rule = AlertRule.objects.create(**values)
    rule.channels.set(channels)
    return rule


def make_channel(kind: str = "webhook", **config) -> NotificationChannel:
    from monitoring.alerts.notifiers import validate_config

    name = config.pop("name", f"{kind}-{NotificationChannel.objects.count() + 1}")
    return NotificationChannel.objects.create(name=name, kind=kind, config=validate_config(kind, config))


__all__ = [
    "_fast_password_hashing",
    "HttpTarget",
    "allow_loopback",
    "http_target",
    "keep_alive_target",
    "make_channel",
    "make_rule",
    "smtp_server",
    "test_metric",
]
