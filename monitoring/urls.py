from django.urls import include, path

urlpatterns = [
    path("", include("monitoring.logs.urls")),
    path("", include("monitoring.alerts.urls")),
]
