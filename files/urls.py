from django.urls import include, re_path

from aggregator.api import Router
from files import views

app_name = "files"

router = Router()
router.register("files", views.FileUploadViewSet, basename="file")

urlpatterns = [
    re_path(r"", include("files.processing_urls")),
    re_path(r"^files/tus/?$", views.TusView.as_view(), name="tus-create"),
    re_path(rf"^files/tus/(?P<upload_id>{views.UUID_PATTERN})/?$", views.TusView.as_view(), name="tus-upload"),
    re_path(r"", include(router.urls)),
]
