"""health/warmup.py: a new gunicorn worker sends the probes through the
application before it accepts a connection (post_worker_init)."""

import os
import subprocess
import sys

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


def test_the_celery_app_is_ready_to_send_without_a_broker_connection(settings):
    # In a fresh process: this one has long finalized the app. The broker
    # address is a closed port: preparing must not connect.
    code = (
        "import sys, django; django.setup()\n"
        "from aggregator.celery import app\n"
        "assert not app.finalized\n"
        "from health.warmup import _prepare_celery\n"
        "_prepare_celery()\n"
        "print(app.finalized, 'kombu.transport.pyamqp' in sys.modules)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "DJANGO_DEBUG": "1",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:9//",
    }
    answer = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.strip().splitlines()[-1] == "True True"


def test_the_warm_up_is_not_counted_as_client_traffic():
    from health.metrics.instruments import HTTP_REQUESTS

    def live_count() -> float:
        return HTTP_REQUESTS.labels("health-live", "GET", "200")._value.get()

    before = live_count()
    warm_up(get_wsgi_application())
    assert live_count() == before


def test_the_first_real_probe_checks_afresh():
    # A dependency that goes down right after start-up must show at once, not
    # after the results of the warm-up's own ready expire.
    from health import runner

    warm_up(get_wsgi_application())
    assert runner.age_seconds("database") is None
    assert runner.age_seconds("storage") is None
