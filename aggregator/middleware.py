"""What every log line of a request carries: the correlation ID that ties a
request to every line and task it causes, and the client's address."""

import ipaddress
import re
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
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


def client_ip_from(request: HttpRequest) -> str | None:
    """The client's address. REMOTE_ADDR is the peer. Behind the trusted
    proxy (DJANGO_BEHIND_PROXY=1) the peer is that proxy, and the client is
    the last address of X-Forwarded-For, the one the proxy appended: the
    addresses before it are whatever the client sent, never trusted."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        address = forwarded.rsplit(",", 1)[-1].strip() or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class ClientIpMiddleware:
    """Binds `ip` (the SystemLog's client_ip) to every structlog line of the
    request. django-structlog's own binding is off (settings): it asks
    django-ipware, which prefers any public address found in the forwarding
    headers, so any client could write the address of its choice into the
    audit trail; and it was a fifth of a bare request's CPU."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.bind_contextvars(ip=client_ip_from(request))
        try:
            return self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("ip")
