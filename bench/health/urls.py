from django.http import HttpRequest, HttpResponse
from django.urls import path

from aggregator.urls import urlpatterns as project_urlpatterns


def ok(request: HttpRequest) -> HttpResponse:
    """The peer: the least a Django view can do, through the same middleware."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/ok", ok, name="bench-ok"), *project_urlpatterns]

handler400 = "aggregator.views.bad_request"
handler403 = "aggregator.views.permission_denied"
handler404 = "aggregator.views.not_found"
handler500 = "aggregator.views.server_error"
