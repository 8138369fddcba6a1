"""Warms a web worker up before it takes its first request.

A fresh worker pays for everything Django and its libraries do lazily on
first use: the URL resolver, the middleware chain, the first connections
of the database pool, Redis and the storage. Under load those first
requests queue behind each other inside the new worker, and every worker
starts cold at once after a deploy: bench/load saw ~1 % of a minute's
requests take 0.5-1.6 s in its first second and none after (p99 347 ms
for the minute, 67 ms without that second). The Celery app is prepared
too, as the first task sent would.

gunicorn calls `warm_up` from `post_worker_init`, after the worker has
loaded the application and before it accepts a connection, so the other
workers take the traffic meanwhile. It sends the probes a load balancer
would (live, then ready) through the application itself, in process.
They are logged like any request, left out of the request metrics, and
their check results are forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from wsgiref.util import setup_testing_defaults

import structlog

from health import runner

log = structlog.get_logger(__name__)

# Anonymous and side-effect free: what a load balancer asks anyway.
PATHS = ("/api/v1/health/live", "/api/v1/health/ready")
# Set in the warm-up's requests: the metrics count clients' requests only
# (health.middleware), so a worker restart does not show as traffic.
ENVIRON_KEY = "aggregator.warmup"


def _host() -> str:
    """A host name the application accepts (an exact one from
    ALLOWED_HOSTS, or a name under a wildcard entry)."""
    from django.conf import settings

    for entry in settings.ALLOWED_HOSTS:
        if entry != "*":
            return entry.lstrip(".")
    return "localhost"


def _environ(path: str, host: str) -> dict:
    """A plain GET of `path` (the standard library fills in the rest)."""
    environ = {"PATH_INFO": path, "HTTP_HOST": host, "SERVER_NAME": host, "REMOTE_ADDR": "127.0.0.1", ENVIRON_KEY: True}
    setup_testing_defaults(environ)
    return environ


def _prepare_celery() -> None:
    """What the first task sent from this worker would do, without sending
    one: register every task (the app's finalize) and import the broker's
    transport. ~50 ms of the first upload otherwise. No connection is
    opened, so a broker that is down costs nothing here."""
    from aggregator.celery import app

    app.finalize(auto=True)
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018 - imports and builds the transport class


def warm_up(application: Callable[[dict, Callable], Iterable[bytes]]) -> dict[str, str]:
    """Sends each of PATHS through the WSGI application and returns their
    statuses. Never raises: a worker that cannot warm up still serves (a
    dependency that is down shows as a 503 from ready, as it would anyway)."""
    statuses: dict[str, str] = {}
    try:
        host = _host()
        for path in PATHS:

            def start_response(status, headers, exc_info=None, path=path):
                statuses[path] = status

            body = application(_environ(path, host), start_response)
            try:
                for _ in body:
                    pass
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        # The checks' results are cached for a few seconds; the first real
        # probe must see the dependencies as they are then, not at start-up.
        runner.reset()
        _prepare_celery()
    except Exception as exc:  # noqa: BLE001 - warming up must never stop the worker
        log.warning("worker_warm_up_failed", error=f"{type(exc).__name__}: {exc}")
    return statuses
