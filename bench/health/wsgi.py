"""The project's WSGI app with one extra URL, /bench/ok: the bare Django
view that health/live is compared against. Same settings, same middleware."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
# Read per request by Django's URL resolver, so setting it here is enough.
settings.ROOT_URLCONF = "bench.health.urls"
