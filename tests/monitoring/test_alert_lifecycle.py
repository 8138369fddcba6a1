"""One open alert per fingerprint (enforced by the database, also under
concurrent evaluation), closing after retention, and the beat jobs."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from monitoring.alerts import conf, services
from monitoring.alerts.beat import SCHEDULES
from monitoring.models import Alert, AlertAction, AlertRule
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_rule


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_alert_for_the_same_fingerprint(test_metric):
    test_metric.set(1000)
    alert = services.rule_evaluate(rule=make_rule()).alert
    twin = {
        "rule": alert.rule,
        "fingerprint": alert.fingerprint,
        "severity": "high",
        "triggered_at": timezone.now(),
        "last_seen_at": timezone.now(),
    }
    for status in ("active", "acknowledged"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(status=status, **twin)
    # Closed ones do not count: history can hold many.
    Alert.objects.create(status="resolved", **twin)
    Alert.objects.create(status="closed", **twin)


@pytest.mark.django_db
def test_a_different_label_set_is_a_different_alert(test_metric):
    test_metric.set(1000)
    first = services.rule_evaluate(rule=make_rule(name="a", labels={"env": "prod"})).alert
    second = services.rule_evaluate(rule=make_rule(name="b", labels={"env": "prod"})).alert
    assert first.fingerprint != second.fingerprint
    assert services.fingerprint_for(rule_id=1, labels={"a": "1", "b": "2"}) == services.fingerprint_for(
        rule_id=1, labels={"b": "2", "a": "1"}
    )


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_evaluations_open_one_alert(test_metric):
    """GIVEN a breached rule WHEN several threads (each with its own database
    connection) evaluate it at the same moment THEN exactly one alert opens
    and the other evaluations count as further occurrences."""
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (PostgreSQL); SQLite serialises writers")
    rule = make_rule(cooldown_seconds=0)
    test_metric.set(1000)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            barrier.wait()
            services.rule_evaluate(rule=AlertRule.objects.get(pk=rule.pk))
        except BaseException as exc:  # Reported below; a thread cannot fail the test itself.
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alert = Alert.objects.get(rule=rule)
    assert alert.occurrence_count == 4
    assert AlertAction.objects.filter(alert=alert, action="fired").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_race_on_the_constraint_and_only_one_wins():
    """Without any application lock, two transactions inserting the same
    open alert: the database lets one commit and rejects the other."""
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (PostgreSQL)")
    rule = make_rule(metric="cpu_percent")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def insert() -> None:
        try:
            with transaction.atomic():
                barrier.wait()
                Alert.objects.create(
                    rule_id=rule.pk,
                    fingerprint="f" * 64,
                    severity="high",
                    triggered_at=timezone.now(),
                    last_seen_at=timezone.now(),
                )
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]


@pytest.mark.django_db
def test_resolved_alerts_close_after_the_retention_period(test_metric, monkeypatch):
    monkeypatch.setattr(conf, "CLOSE_RESOLVED_AFTER_SECONDS", 3600)
    test_metric.set(1000)
    old = services.rule_evaluate(rule=make_rule(name="old")).alert
    recent = services.rule_evaluate(rule=make_rule(name="recent")).alert
    still_open = services.rule_evaluate(rule=make_rule(name="open")).alert
    for alert in (old, recent):
        services.alert_resolve(alert=alert, automatic=True)
    Alert.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(hours=2))

    assert services.alerts_close_resolved() == 1
    assert services.alerts_close_resolved() == 0
    statuses = dict(Alert.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "closed", recent.pk: "resolved", still_open.pk: "active"}
    closed = AlertAction.objects.get(alert=old, action="closed")
    assert (closed.old_status, closed.new_status, closed.actor) == ("resolved", "closed", None)


@pytest.mark.django_db
def test_the_beat_jobs_are_installed_after_migrate():
    from django_celery_beat.models import PeriodicTask

    installed = {task.name: task for task in PeriodicTask.objects.filter(name__startswith="alerts:")}
    assert set(installed) == {schedule.name for schedule in SCHEDULES}
    evaluate = installed["alerts: evaluate rules"]
    assert evaluate.task == "monitoring.alerts.tasks.alert_rules_evaluate_task"
    assert evaluate.interval.every == conf.EVALUATION_INTERVAL_SECONDS


@pytest.mark.django_db
def test_the_beat_evaluation_task_evaluates_every_active_rule(test_metric):
    from monitoring.alerts.tasks import alert_rules_evaluate_task

    make_rule(name="one")
    make_rule(name="two", threshold=5000)
    test_metric.set(1000)
    assert alert_rules_evaluate_task.delay().get() == {"evaluated": 2, "firing": 1, "failed": 0}
