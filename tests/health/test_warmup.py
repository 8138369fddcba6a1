"""health/warmup.py: a new gunicorn worker sends the probes through the
application before it accepts a connection (post_worker_init)."""

import pytest
from django.core.wsgi import get_wsgi_application

from health.warmup import PATHS, warm_up

pytestmark = pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections


def test_the_probes_pass_through_the_whole_application():
    statuses = warm_up(get_wsgi_application())
    assert statuses == {path: "200 OK" for path in PATHS}


def test_a_wildcard_allowed_host_is_answered_not_refused(settings):
    # A host the application refuses would answer 400 and warm nothing.
    settings.ALLOWED_HOSTS = [".example.org"]
    assert warm_up(get_wsgi_application()) == {path: "200 OK" for path in PATHS}


def test_a_dependency_down_shows_as_ready_failing_not_as_an_error(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = blocker / "media"  # storage cannot be written
    statuses = warm_up(get_wsgi_application())
    assert statuses == {"/api/v1/health/live": "200 OK", "/api/v1/health/ready": "503 Service Unavailable"}


def test_an_application_that_raises_never_stops_the_worker():
    def broken(environ, start_response):
        raise RuntimeError("boom")

    assert warm_up(broken) == {}
