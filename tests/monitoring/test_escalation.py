"""Escalation along the policy snapshotted onto the alert: levels by delay,
repeats, manual escalation, acknowledgement stops it, ack timeout resumes
it, stale tasks do nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aggregator.exceptions import Conflict
from monitoring.alerts import services
from monitoring.alerts.tasks import alert_escalate_task
from monitoring.models import Alert, AlertAction, AlertEscalationPolicy
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def ladder(http_target):
    """Three channels (paths /l1, /l2, /l3) and a two-level policy:
    level 1 at once, level 2 after 10 minutes."""
    base = http_target.url.rsplit("/", 1)[0]
    l1, l2, l3 = (make_channel(url=f"{base}/l{n}", name=f"l{n}") for n in (1, 2, 3))
    policy = services.policy_create(
        data={
            "name": "oncall",
            "levels": [{"delay_seconds": 0, "channels": [l1.pk]}, {"delay_seconds": 600, "channels": [l2.pk]}],
            "repeat": 0,
            "ack_timeout_seconds": 1800,
        }
    )
    return policy, (l1, l2, l3)


@pytest.fixture
def fired(test_metric, ladder, django_capture_on_commit_callbacks):
    policy, _channels = ladder
    rule = make_rule(escalation_policy=policy)
    test_metric.set(1000)
    with django_capture_on_commit_callbacks(execute=True):
        alert = services.rule_evaluate(rule=rule).alert
    alert.refresh_from_db()
    return alert


def run_beat(now, capture):
    with capture(execute=True):
        return services.escalations_run(now=now)


def paths(target) -> list[str]:
    return [request.path for request in target.requests]


def test_level_one_is_notified_when_the_alert_fires_and_level_two_is_scheduled(fired, http_target):
    assert fired.escalation_level == 1
    assert paths(http_target) == ["/l1"]
    assert fired.next_escalation_at == pytest.approx(
        fired.triggered_at + timedelta(seconds=600), abs=timedelta(seconds=2)
    )
    escalated = AlertAction.objects.get(alert=fired, action="escalated")
    assert escalated.details["level"] == 1 and escalated.actor is None


def test_the_beat_escalates_once_the_delay_has_passed(fired, http_target, django_capture_on_commit_callbacks):
    assert run_beat(timezone.now() + timedelta(seconds=300), django_capture_on_commit_callbacks) == 0
    assert run_beat(timezone.now() + timedelta(seconds=601), django_capture_on_commit_callbacks) == 1
    fired.refresh_from_db()
    assert fired.escalation_level == 2 and fired.next_escalation_at is None
    assert paths(http_target) == ["/l1", "/l2"]
    assert http_target.requests[1].json()["type"] == "alert.escalation"
    assert AlertAction.objects.filter(alert=fired, action="escalation_finished").exists()


def test_the_policy_repeats_the_whole_ladder(test_metric, http_target, django_capture_on_commit_callbacks):
    channel = make_channel(url=http_target.url)
    policy = services.policy_create(
        data={"name": "loop", "levels": [{"delay_seconds": 60, "channels": [channel.pk]}], "repeat": 2}
    )
    rule = make_rule(escalation_policy=policy)
    test_metric.set(1000)
    with django_capture_on_commit_callbacks(execute=True):
        alert = services.rule_evaluate(rule=rule).alert
    later = timezone.now()
    for _ in range(5):
        later += timedelta(seconds=61)
        run_beat(later, django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    # One pass plus two repeats of a one-level ladder: three notifications.
    assert len(http_target.requests) == 3
    assert alert.escalation_repeats_done == 2 and alert.next_escalation_at is None


def test_editing_the_policy_does_not_change_an_open_alert(
    fired, ladder, http_target, django_capture_on_commit_callbacks
):
    policy, (_l1, _l2, l3) = ladder
    services.policy_update(policy=policy, data={"levels": [{"delay_seconds": 0, "channels": [l3.pk]}]})
    run_beat(timezone.now() + timedelta(seconds=601), django_capture_on_commit_callbacks)
    assert paths(http_target) == ["/l1", "/l2"]
    fired.refresh_from_db()
    assert len(fired.escalation_policy_snapshot["levels"]) == 2


def test_acknowledging_stops_escalation(fired, staff, http_target, django_capture_on_commit_callbacks):
    services.alert_acknowledge(alert=fired, actor=staff)
    # Past level 2's delay (600 s) but inside the ack timeout (1800 s).
    assert run_beat(timezone.now() + timedelta(seconds=1000), django_capture_on_commit_callbacks) == 0
    assert paths(http_target) == ["/l1"]


def test_a_stale_escalation_task_does_nothing(fired, staff, http_target, django_capture_on_commit_callbacks):
    """GIVEN an escalation task queued for the alert's current step WHEN the
    alert is acknowledged before the task runs THEN the task is a no-op."""
    queued_step = fired.escalation_step
    Alert.objects.filter(pk=fired.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    services.alert_acknowledge(alert=fired, actor=staff)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_escalate_task.delay(fired.pk, queued_step).get() is False
    fired.refresh_from_db()
    assert fired.escalation_level == 1
    assert not AlertAction.objects.filter(alert=fired, action="escalated", details__level=2).exists()


def test_a_duplicate_escalation_task_runs_once(fired, http_target, django_capture_on_commit_callbacks):
    step = fired.escalation_step
    Alert.objects.filter(pk=fired.pk).update(next_escalation_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_escalate_task.delay(fired.pk, step).get() is True
        assert alert_escalate_task.delay(fired.pk, step).get() is False
    assert paths(http_target) == ["/l1", "/l2"]


def test_manual_escalation_notifies_the_next_level_and_is_audited(
    fired, staff, http_target, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.alert_escalate(alert=fired, actor=staff)
    fired.refresh_from_db()
    assert fired.escalation_level == 2
    assert paths(http_target) == ["/l1", "/l2"]
    action = AlertAction.objects.filter(alert=fired, action="escalated").last()
    assert action.actor == staff and action.details["manual"] is True


def test_it_refuses_to_escalate_past_the_last_level(fired, staff):
    services.alert_escalate(alert=fired, actor=staff)
    with pytest.raises(Conflict, match="last escalation level"):
        services.alert_escalate(alert=fired, actor=staff)


def test_it_refuses_to_escalate_an_alert_without_a_policy(test_metric, staff):
    test_metric.set(1000)
    alert = services.rule_evaluate(rule=make_rule()).alert
    with pytest.raises(Conflict, match="no escalation policy"):
        services.alert_escalate(alert=alert, actor=staff)


def test_an_acknowledgement_times_out_back_to_active_and_escalation_resumes(
    fired, staff, http_target, django_capture_on_commit_callbacks
):
    services.alert_acknowledge(alert=fired, actor=staff)
    fired.refresh_from_db()
    assert fired.ack_expires_at is not None
    timeout_at = timezone.now() + timedelta(seconds=1801)
    run_beat(timeout_at, django_capture_on_commit_callbacks)
    fired.refresh_from_db()
    assert fired.status == "active"
    last = AlertAction.objects.filter(alert=fired).last()
    assert (last.action, last.old_status, last.new_status) == ("ack_timeout", "acknowledged", "active")
    # The next level (2, after 600 s) is scheduled from the timeout.
    assert fired.next_escalation_at == timeout_at + timedelta(seconds=600)


def test_a_policy_may_repeat_at_most_nine_times():
    from aggregator.exceptions import InvalidInput

    with pytest.raises(InvalidInput):
        services.policy_create(data={"name": "x", "levels": [{"delay_seconds": 0, "channels": []}], "repeat": 10})
    assert not AlertEscalationPolicy.objects.exists()
