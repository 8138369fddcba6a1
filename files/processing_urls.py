from django.urls import include, re_path

from aggregator.api import Router
from files import processing_views as views

UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

router = Router()
router.register("files/jobs", views.FileJobViewSet, basename="file-job")

urlpatterns = [
    re_path(rf"^files/(?P<file_id>{UUID})/preview/?$", views.FilePreviewView.as_view(), name="file-preview"),
    re_path(
        rf"^files/(?P<file_id>{UUID})/conversions/?$", views.FileConversionsView.as_view(), name="file-conversions"
    ),
    re_path(r"", include(router.urls)),
]
