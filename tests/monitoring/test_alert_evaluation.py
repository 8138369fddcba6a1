"""Rule evaluation: thresholds, pending ("for"), no data, keep-firing,
cooldown, severity rises, auto-resolve and fresh breaches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerts import services
from monitoring.models import Alert, AlertAction, AlertRule, NotificationAttempt
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db

# Every test below runs twice: through rule_evaluate() (the API's "evaluate
# now") and through a round (rules_evaluate(), the beat job's grouped path),
# which must behave the same.
_PATH = {"name": "single"}


@pytest.fixture(autouse=True, params=["single", "round"])
def evaluation_path(request):
    _PATH["name"] = request.param
    yield request.param
    _PATH["name"] = "single"


def evaluate(rule: AlertRule, now=None):
    rule = AlertRule.objects.get(pk=rule.pk)
    if _PATH["name"] == "single":
        return services.rule_evaluate(rule=rule, now=now)
    return services.rules_evaluate(rules=[rule], now=now or timezone.now())[rule.pk]


def actions(alert: Alert) -> list[str]:
    return list(AlertAction.objects.filter(alert=alert).order_by("created_at", "id").values_list("action", flat=True))


@pytest.mark.parametrize(
    "comparison, value, fires",
    [
        (">", 11, True),
        (">", 10, False),
        (">=", 10, True),
        ("<", 9, True),
        ("<=", 11, False),
        ("==", 10, True),
        ("!=", 10, False),
    ],
)
def test_it_compares_the_value_with_the_threshold(test_metric, comparison, value, fires):
    rule = make_rule(comparison=comparison, threshold=10)
    test_metric.set(value)
    result = evaluate(rule)
    assert result.value == value
    assert result.fired is fires
    assert Alert.objects.filter(rule=rule).count() == int(fires)


def test_it_waits_for_the_pending_period_before_firing(test_metric):
    """GIVEN a rule with pending_seconds=120 WHEN the condition holds at t0,
    t0+60 and t0+120 THEN it is pending twice and fires on the third."""
    rule = make_rule(pending_seconds=120)
    test_metric.set(50)
    t0 = timezone.now()
    first = evaluate(rule, now=t0)
    assert (first.fired, first.state) == (False, "pending")
    assert evaluate(rule, now=t0 + timedelta(seconds=60)).state == "pending"
    third = evaluate(rule, now=t0 + timedelta(seconds=120))
    assert third.fired and third.state == "firing"
    assert Alert.objects.filter(rule=rule).count() == 1


def test_it_restarts_the_pending_period_when_the_condition_clears(test_metric):
    rule = make_rule(pending_seconds=120)
    t0 = timezone.now()
    test_metric.set(50)
    evaluate(rule, now=t0)
    test_metric.set(1)
    evaluate(rule, now=t0 + timedelta(seconds=60))
    test_metric.set(50)
    assert evaluate(rule, now=t0 + timedelta(seconds=130)).state == "pending"
    assert not Alert.objects.exists()


def test_it_counts_further_breaches_on_the_open_alert_instead_of_opening_another(test_metric):
    rule = make_rule()
    test_metric.set(50)
    first = evaluate(rule).alert
    test_metric.set(60)
    second = evaluate(rule).alert
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.occurrence_count == 2 and second.value == 60


@pytest.mark.parametrize("no_data, fires", [("alert", True), ("ok", False)])
def test_it_follows_the_no_data_behaviour(test_metric, no_data, fires):
    rule = make_rule(no_data=no_data)
    test_metric.set(None)
    result = evaluate(rule)
    assert result.value is None
    assert result.fired is fires
    if fires:
        assert "No data" in result.alert.message


def test_it_keeps_the_last_state_on_no_data_when_told_to(test_metric):
    rule = make_rule(no_data="keep")
    test_metric.set(50)
    alert = evaluate(rule).alert
    test_metric.set(None)
    kept = evaluate(rule)
    assert kept.fired and kept.alert.pk == alert.pk
    alert.refresh_from_db()
    assert alert.status == "active"


def test_a_failing_metric_is_no_data_with_the_reason_recorded(test_metric):
    rule = make_rule(no_data="alert")
    test_metric.fail("upstream down")
    result = evaluate(rule)
    assert result.fired
    rule.refresh_from_db()
    assert "upstream down" in rule.last_error


def test_it_auto_resolves_when_the_condition_clears(test_metric):
    rule = make_rule()
    test_metric.set(50)
    alert = evaluate(rule).alert
    test_metric.set(1)
    result = evaluate(rule)
    assert not result.fired and result.alert is None
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_automatically and alert.resolved_by is None
    assert actions(alert)[-1] == "auto_resolved"


def test_it_keeps_firing_for_the_keep_firing_period(test_metric):
    rule = make_rule(keep_firing_seconds=300)
    t0 = timezone.now()
    test_metric.set(50)
    alert = evaluate(rule, now=t0).alert
    test_metric.set(1)
    assert evaluate(rule, now=t0 + timedelta(seconds=60)).fired
    alert.refresh_from_db()
    assert alert.status == "active"
    assert not evaluate(rule, now=t0 + timedelta(seconds=301)).fired
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_fresh_breach_after_resolve_opens_a_new_alert(test_metric):
    rule = make_rule()
    test_metric.set(50)
    old = evaluate(rule).alert
    test_metric.set(1)
    evaluate(rule)
    test_metric.set(50)
    new = evaluate(rule).alert
    assert new.pk != old.pk
    old.refresh_from_db()
    assert old.status == "resolved" and new.status == "active"


def test_it_refuses_to_evaluate_a_disabled_rule(test_metric):
    from aggregator.exceptions import Conflict

    rule = make_rule(is_active=False)
    with pytest.raises(Conflict):
        services.rule_evaluate(rule=rule)


def test_a_round_evaluates_every_active_rule_and_skips_disabled_ones(test_metric):
    make_rule(name="a")
    make_rule(name="b")
    make_rule(name="off", is_active=False)
    test_metric.set(50)
    assert services.rules_evaluate_all() == {"evaluated": 2, "firing": 2, "failed": 0}
    assert Alert.objects.count() == 2


def test_it_snapshots_the_rule_threshold_and_severity_onto_the_alert(test_metric):
    rule = make_rule(severity="critical", threshold=7)
    test_metric.set(8)
    alert = evaluate(rule).alert
    assert (alert.severity, alert.threshold, alert.value) == ("critical", 7, 8)


class TestCooldown:
    def test_it_does_not_renotify_before_the_cooldown_passes(
        self, test_metric, http_target, django_capture_on_commit_callbacks
    ):
        channel = make_channel(url=http_target.url)
        rule = make_rule(cooldown_seconds=600, channels=[channel])
        test_metric.set(50)
        t0 = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            alert = evaluate(rule, now=t0).alert
            evaluate(rule, now=t0 + timedelta(seconds=300))
        assert NotificationAttempt.objects.filter(alert=alert).count() == 1
        assert [r.json()["type"] for r in http_target.requests] == ["alert.firing"]

    def test_it_renotifies_once_the_cooldown_has_passed(
        self, test_metric, http_target, django_capture_on_commit_callbacks
    ):
        channel = make_channel(url=http_target.url)
        rule = make_rule(cooldown_seconds=600, channels=[channel])
        test_metric.set(50)
        with django_capture_on_commit_callbacks(execute=True):
            alert = evaluate(rule).alert
        Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(seconds=601))
        with django_capture_on_commit_callbacks(execute=True):
            evaluate(rule)
        assert [r.json()["type"] for r in http_target.requests] == ["alert.firing", "alert.repeat"]
        assert "repeated" in actions(alert)

    def test_a_rise_in_severity_notifies_inside_the_cooldown(
        self, test_metric, http_target, django_capture_on_commit_callbacks
    ):
        channel = make_channel(url=http_target.url)
        rule = make_rule(severity="medium", cooldown_seconds=3600, channels=[channel])
        test_metric.set(50)
        with django_capture_on_commit_callbacks(execute=True):
            alert = evaluate(rule).alert
        AlertRule.objects.filter(pk=rule.pk).update(severity="critical")
        with django_capture_on_commit_callbacks(execute=True):
            evaluate(rule)
        alert.refresh_from_db()
        assert alert.severity == "critical"
        bodies = [r.json() for r in http_target.requests]
        assert [b["data"]["alert"]["severity"] for b in bodies] == ["medium", "critical"]
        assert bodies[1]["data"]["reason"] == "severity_raised"
        assert "severity_raised" in actions(alert)

    def test_an_acknowledged_alert_is_not_renotified(
        self, test_metric, http_target, django_capture_on_commit_callbacks, staff
    ):
        channel = make_channel(url=http_target.url)
        rule = make_rule(cooldown_seconds=60, channels=[channel])
        test_metric.set(50)
        with django_capture_on_commit_callbacks(execute=True):
            alert = evaluate(rule).alert
        services.alert_acknowledge(alert=alert, actor=staff)
        Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(hours=1))
        with django_capture_on_commit_callbacks(execute=True):
            evaluate(rule)
        assert len(http_target.requests) == 1


def test_auto_resolve_notifies_every_channel_that_heard_the_firing(
    test_metric, http_target, django_capture_on_commit_callbacks
):
    heard = make_channel(url=http_target.url, name="heard")
    rule = make_rule(channels=[heard])
    test_metric.set(50)
    with django_capture_on_commit_callbacks(execute=True):
        alert = evaluate(rule).alert
    # A channel added after the firing never heard of it: no resolve for it.
    late = make_channel(url=http_target.url.replace("/hook", "/late"), name="late")
    rule.channels.add(late)
    test_metric.set(1)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate(rule)
    assert [(r.path, r.json()["type"]) for r in http_target.requests] == [
        ("/hook", "alert.firing"),
        ("/hook", "alert.resolved"),
    ]
    resolved = http_target.requests[1].json()["data"]["alert"]
    assert resolved["id"] == alert.pk and resolved["status"] == "resolved"


def test_an_alert_left_under_old_labels_resolves_when_the_condition_clears(test_metric):
    rule = make_rule(labels={"env": "prod"})
    test_metric.set(50)
    old = evaluate(rule).alert
    AlertRule.objects.filter(pk=rule.pk).update(labels={"env": "production"})
    test_metric.set(1)
    evaluate(rule)
    old.refresh_from_db()
    assert old.status == "resolved" and old.resolved_automatically
