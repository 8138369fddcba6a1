from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aggregator import views
from aggregator.api import Router

router = Router()
router.register("pipelines", views.PipelineViewSet, basename="pipeline")
router.register("connectors", views.ConnectorViewSet, basename="connector")
router.register("transformations", views.TransformationViewSet, basename="transformation")
router.register("pipeline-templates", views.PipelineTemplateViewSet, basename="pipeline-template")
router.register("transformation-functions", views.TransformationFunctionViewSet, basename="transformation-function")

api_v1 = [
    # Health first: probes arrive every few seconds and must not pay for
    # trying every other pattern before theirs.
    path("", include("health.urls")),
    re_path(r"^auth/token/?$", views.TokenView.as_view(), name="auth-token"),
    path("", include("files.urls")),
    path("", include("monitoring.urls")),
    path("", include("search.urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
]

handler400 = "aggregator.views.bad_request"
handler403 = "aggregator.views.permission_denied"
handler404 = "aggregator.views.not_found"
handler500 = "aggregator.views.server_error"
