"""Health endpoints. Plain Django views: `live` must cost next to nothing,
and none of them needs DRF's content negotiation or throttling."""

from __future__ import annotations

import json
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from health import auth, conf, runner
from health.checks import CHECKS, READY_CHECKS, Status
from health.metrics import exposition
from health.report import CONTENT_TYPE, health_document

_LIVE_BODY = json.dumps({"status": "pass"}).encode()
# What never_cache would set, as a constant: live stays as cheap as a view can be.
_NO_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


def _health_response(document: dict, status: int) -> HttpResponse:
    return HttpResponse(json.dumps(document), status=status, content_type=CONTENT_TYPE)


def _method_not_allowed(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    response["Allow"] = "GET, HEAD"
    return response


def require_safe(view):
    """Django's require_safe, answering JSON like the rest of the API."""

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed(request)
        return view(request, *args, **kwargs)

    return inner


def _denied(code: int) -> JsonResponse:
    if code == 401:
        response = JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="health"'
        return response
    return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)


def live(request: HttpRequest) -> HttpResponse:
    """The process is up and answering. Touches no dependency."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request)
    response = HttpResponse(_LIVE_BODY, content_type=CONTENT_TYPE)
    response["Cache-Control"] = _NO_CACHE
    return response


@never_cache
@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """Can this instance serve? Public, so it says pass or fail and no more."""
    results = runner.run_checks(READY_CHECKS)
    failed = {result.name for result in results if result.status is Status.FAIL}
    if not conf.READY_REQUIRES_CACHE:
        # The cache degrades to "no cache"; requests still succeed.
        failed.discard("cache")
    if failed:
        return _health_response({"status": "fail"}, 503)
    return _health_response({"status": "pass"}, 200)


@never_cache
@require_safe
def health(request: HttpRequest, component: str | None = None) -> HttpResponse:
    """Every component (or one), in the IETF health-check format."""
    if component is not None and component not in CHECKS:
        return JsonResponse({"detail": f"Unknown health component {component!r}."}, status=404)
    allowed = auth.access(request)
    if allowed != 200:
        return _denied(allowed)
    names = [component] if component else list(CHECKS)
    results = runner.run_checks(names)
    description = f"Aggregator {component}" if component else "Aggregator"
    document = health_document(results, description=description)
    return _health_response(document, 503 if document["status"] == Status.FAIL.value else 200)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    allowed = auth.access(request)
    if allowed != 200:
        return _denied(allowed)
    return HttpResponse(exposition.render(), content_type=exposition.CONTENT_TYPE)
