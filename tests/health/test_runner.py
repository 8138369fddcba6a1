"""The runner: checks run concurrently, each within its timeout, at most
one run per check at a time, results reused for a short while."""

import threading
import time

import pytest

from health import conf, runner
from health.checks import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_cache(settings, hang_server):
    """The cache pointed at a Redis that accepts and never answers."""
    server = hang_server()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            # Longer than the check timeout: the runner must not wait for it.
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 30, "SOCKET_TIMEOUT": 30},
        }
    }
    # The settings fixture resets Django's cache handlers on change and undo.
    return server


def test_a_hung_dependency_fails_its_check_at_the_timeout(hung_cache, monkeypatch):
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 0.5)
    cache, database = runner.run_checks(["cache", "database"])
    assert cache.status is Status.FAIL
    assert cache.output == "no answer within 0.5 s"
    # The other check, run at the same time, is unaffected.
    assert database.status is Status.PASS
    # It failed while the dependency still held the request unanswered.
    assert hung_cache.wait_for_connections(1) == 1


def test_a_check_still_hanging_is_not_started_again(hung_cache, monkeypatch):
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 0.3)
    for _ in range(3):
        assert runner.run_checks(["cache"])[0].status is Status.FAIL
    # Three callers, one run: they all waited on the same thread.
    assert len([thread for thread in threading.enumerate() if thread.name == "health-cache"]) == 1
    assert hung_cache.wait_for_connections(1) == 1


def test_checks_run_side_by_side_not_in_turn(hung_cache, monkeypatch, settings, hang_server):
    """GIVEN two hung dependencies and a long timeout, WHEN both are checked,
    THEN both are connected to while the other still hangs: the checks run
    side by side. In turn, the second connection would only come once the
    first check gave up, 60 s later. Closing the servers then lets both
    checks end at once, so the test does not wait for the timeout."""
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 60)
    clamd = hang_server()
    monkeypatch.setattr(conf, "CLAMAV_URL", f"tcp://127.0.0.1:{clamd.port}")
    results = []
    caller = threading.Thread(target=lambda: results.extend(runner.run_checks(["cache", "clamav"])))
    caller.start()
    both_connected = hung_cache.wait_for_connections(1, timeout=20) and clamd.wait_for_connections(1, timeout=20)
    for server in (hung_cache, clamd):
        server.close()  # refused from now on, so a retry cannot hang again
    caller.join()
    assert both_connected, "the second check only started after the first one ended"
    # An unreachable clamd is a warning by design (uploads go on, "not scanned").
    assert [result.status for result in results] == [Status.FAIL, Status.WARN]


def test_an_exception_in_a_check_is_a_failed_check_not_an_error(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings.MEDIA_ROOT = blocker / "media"
    (storage,) = runner.run_checks(["storage"])
    assert storage.status is Status.FAIL
    assert "not writable" in storage.output


def test_a_finished_result_is_reused_until_it_expires(monkeypatch):
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0.2)
    first = runner.run_checks(["system"])[0]
    assert runner.run_checks(["system"])[0] is first
    time.sleep(0.3)
    assert runner.run_checks(["system"])[0] is not first


def test_use_cache_false_runs_again():
    first = runner.run_checks(["system"])[0]
    assert runner.run_checks(["system"], use_cache=False)[0] is not first


@pytest.fixture
def slow_system_check(monkeypatch):
    """The system check, made to wait until the test releases it."""
    from health.checks.system import SystemCheck

    release = threading.Event()
    original = SystemCheck.run

    def run(self):
        release.wait(30)
        return original(self)

    def slow() -> threading.Event:
        monkeypatch.setattr(SystemCheck, "run", run)
        return release

    yield slow
    release.set()


def test_stale_ok_answers_with_the_last_result_and_refreshes_it_behind(monkeypatch, slow_system_check):
    """GIVEN an expired result, WHEN a scrape asks with stale_ok, THEN it gets
    the last result without waiting, and the next caller gets the refresh."""
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0.0)  # every result expires at once
    first = runner.run_checks(["system"])[0]
    release = slow_system_check()
    started = time.monotonic()
    assert runner.run_checks(["system"], stale_ok=True)[0] is first
    assert time.monotonic() - started < 5  # it did not wait for the held-up run (30 s)
    release.set()
    deadline = time.monotonic() + 10
    result = first
    while result is first and time.monotonic() < deadline:
        time.sleep(0.05)
        result = runner.run_checks(["system"], stale_ok=True)[0]
    assert result is not first
    assert result.status is not Status.FAIL


def test_stale_ok_reports_a_refresh_stuck_past_its_timeout_as_failed(monkeypatch, slow_system_check):
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0.0)
    monkeypatch.setattr(conf, "CHECK_TIMEOUT", 0.2)
    first = runner.run_checks(["system"])[0]
    slow_system_check()
    assert runner.run_checks(["system"], stale_ok=True)[0] is first
    time.sleep(0.3)
    stuck = runner.run_checks(["system"], stale_ok=True)[0]
    assert stuck.status is Status.FAIL
    assert stuck.output == "no answer within 0.2 s"
    # Still one run in flight, not one per caller.
    assert len([thread for thread in threading.enumerate() if thread.name == "health-system"]) == 1


def test_stale_ok_waits_for_a_fresh_result_when_the_last_is_too_old(monkeypatch):
    monkeypatch.setattr(conf, "CACHE_SECONDS", 0.0)
    monkeypatch.setattr(conf, "METRICS_MAX_STALE_SECONDS", 0.1)
    first = runner.run_checks(["system"])[0]
    time.sleep(0.2)
    fresh = runner.run_checks(["system"], stale_ok=True)[0]
    assert fresh is not first
    assert runner.age_seconds("system") < 0.1
