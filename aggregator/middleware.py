"""Correlation IDs: one ID ties a request to every log line and task it causes."""

import re
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

CORRELATION_HEADER = "X-Correlation-ID"
# Upstream IDs are trusted only when they look like IDs: a header is client
# input and ends up in logs, so anything long or odd is replaced.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def correlation_id_from(request: HttpRequest) -> str:
    for header in ("HTTP_X_CORRELATION_ID", "HTTP_X_REQUEST_ID"):
        candidate = request.META.get(header, "")
        if _VALID_ID.match(candidate):
            return candidate
    return uuid.uuid4().hex


class CorrelationIdMiddleware:
    """Accepts X-Correlation-ID (or X-Request-ID), makes one up otherwise,
    binds it to every structlog line of the request and echoes it back.

    django-structlog's middleware (later in the chain) adds request_id and
    user_id; its Celery integration carries all bound context, this ID
    included, into tasks queued while the request runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = correlation_id_from(request)
        request.correlation_id = correlation_id
        # django-structlog only binds the upstream header; bind ours so a
        # generated or sanitised ID is what every line carries.
        request.META["HTTP_X_CORRELATION_ID"] = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        response[CORRELATION_HEADER] = correlation_id
        return response
