"""Counts and times every HTTP request for the Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from health.metrics.instruments import HTTP_LATENCY, HTTP_REQUESTS
from health.metrics.pool import publish_pool_stats
from health.warmup import ENVIRON_KEY

# Any other method becomes "other", so a client cannot mint label values.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class PrometheusMiddleware:
    """First in MIDDLEWARE, so it times the whole stack.

    Requests are labelled by Django view name (the URL pattern, never the
    raw path) so that ids in URLs cannot blow up the number of series;
    paths that match no pattern share the view name "unmatched", and the
    admin's pages share the view name "admin". The admin has some 175 named
    views. Each view costs 15 histogram samples per method in every scrape,
    and a scrape's time grows with its samples (about 70 µs each on a busy
    machine).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get(ENVIRON_KEY):  # a worker warming up, not a client
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else None) or "unmatched"
        if match is not None and match.namespace == "admin":
            view = "admin"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view, method).observe(elapsed)
        publish_pool_stats()
        return response
