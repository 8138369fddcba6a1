from django.urls import re_path

from health import views

# Fixed names first, so `metrics`, `live` and `ready` are never taken for a
# component; every path answers with and without a trailing slash.
urlpatterns = [
    re_path(r"^health/?$", views.health, name="health"),
    re_path(r"^health/live/?$", views.live, name="health-live"),
    re_path(r"^health/ready/?$", views.ready, name="health-ready"),
    re_path(r"^health/metrics/?$", views.metrics, name="health-metrics"),
    re_path(r"^health/(?P<component>[A-Za-z0-9_-]+)/?$", views.health, name="health-component"),
]
