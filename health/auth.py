"""Who may read component details and metrics: staff, or the metrics token."""

from __future__ import annotations

import hmac

from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from health import conf


def _bearer(request: HttpRequest) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer":
        return parts[1].decode("latin-1")
    return None


def _user(request: HttpRequest):
    """The session user, or the user of a DRF `Token` header."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def access(request: HttpRequest) -> int:
    """200 when allowed, 401 when the caller is unknown, 403 when not staff."""
    token = _bearer(request)
    if token is not None and conf.METRICS_TOKEN:
        # Constant time, so the token cannot be guessed byte by byte.
        return 200 if hmac.compare_digest(token.encode(), conf.METRICS_TOKEN.encode()) else 401
    user = _user(request)
    if user is None:
        return 401
    return 200 if user.is_active and user.is_staff else 403
