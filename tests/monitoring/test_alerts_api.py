"""The alerts API: staff only, CRUD of rules/policies/channels/silences,
the alert lifecycle endpoints, history and statistics, and bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerts import services
from monitoring.models import Alert, AlertAction, AlertRule, NotificationChannel
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db

RULE = {
    "name": "too many errors",
    "description": "errors in the API",
    "metric": "log_count",
    "metric_params": {"level": "error", "source": "api"},
    "comparison": ">",
    "threshold": 10,
    "window_seconds": 300,
    "pending_seconds": 60,
    "severity": "high",
    "labels": {"team": "data"},
    "cooldown_seconds": 600,
    "no_data": "ok",
}


@pytest.fixture
def firing(test_metric):
    test_metric.set(1000)
    return services.rule_evaluate(rule=make_rule()).alert


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/v1/alerts/"),
        ("get", "/api/v1/alerts/rules"),
        ("post", "/api/v1/alerts/rules"),
        ("get", "/api/v1/alerts/statistics"),
        ("get", "/api/v1/alerts/channels/"),
        ("get", "/api/v1/alerts/silences"),
        ("post", "/api/v1/alerts/escalation-policies"),
    ],
)
def test_alert_endpoints_are_for_staff_only(alice_client, anon_client, method, url):
    assert getattr(alice_client, method)(url, {}, format="json").status_code == 403
    assert getattr(anon_client, method)(url, {}, format="json").status_code in (401, 403)


def test_it_creates_reads_updates_and_deletes_a_rule(staff_client, http_target):
    channel = make_channel(url=http_target.url)
    created = staff_client.post("/api/v1/alerts/rules", {**RULE, "channels": [channel.pk]}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {key: body[key] for key in RULE} == RULE
    assert body["channels"] == [channel.pk] and body["state"] == "inactive" and body["is_active"] is True
    url = f"/api/v1/alerts/rules/{body['id']}"
    assert staff_client.get(url).json()["name"] == RULE["name"]
    assert staff_client.get("/api/v1/alerts/rules/").json()["count"] == 1
    patched = staff_client.patch(url + "/", {"threshold": 20, "is_active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["threshold"] == 20
    assert staff_client.delete(url).status_code == 204
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metric": "nope"}, "Unknown metric"),
        ({"comparison": "=>"}, "comparison"),
        ({"threshold": -1}, "negative"),
        ({"threshold": "lots"}, "threshold"),
        ({"metric_params": {"colour": "red"}}, "does not take colour"),
        ({"metric_params": {"level": 5}}, "metric_params.level"),
        ({"window_seconds": 0}, "window_seconds"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"no_data": "panic"}, "no_data"),
        ({"labels": {"team": 1}}, "labels.team"),
        ({"channels": [999]}, "channels"),
        ({"escalation_policy": 999}, "escalation_policy"),
        ({"surprise": True}, "Unknown field"),
    ],
)
def test_it_rejects_a_bad_rule_with_a_clear_400(staff_client, change, message):
    response = staff_client.post("/api/v1/alerts/rules", {**RULE, **change}, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not AlertRule.objects.exists()


def test_a_duplicate_rule_name_is_a_conflict(staff_client):
    assert staff_client.post("/api/v1/alerts/rules", RULE, format="json").status_code == 201
    assert staff_client.post("/api/v1/alerts/rules", RULE, format="json").status_code == 409


def test_evaluate_answers_value_fired_and_the_alert(staff_client, test_metric):
    rule = make_rule()
    test_metric.set(3)
    quiet = staff_client.post(f"/api/v1/alerts/rules/{rule.pk}/evaluate")
    assert quiet.status_code == 200
    assert (quiet.json()["value"], quiet.json()["fired"], quiet.json()["alert"]) == (3, False, None)
    test_metric.set(30)
    loud = staff_client.post(f"/api/v1/alerts/rules/{rule.pk}/evaluate/").json()
    assert loud["fired"] is True
    assert {"id", "rule", "severity", "status", "triggered_at", "escalation_level"} <= set(loud["alert"])
    assert loud["alert"]["status"] == "active" and loud["alert"]["severity"] == "high"


def test_a_rule_shows_its_evaluation_state_and_a_client_cannot_write_it(staff_client, test_metric):
    rule = make_rule()
    url = f"/api/v1/alerts/rules/{rule.pk}"
    assert staff_client.get(url).json()["last_breach_at"] is None
    test_metric.set(30)
    staff_client.post(url + "/evaluate")
    shown = staff_client.get(url).json()
    assert shown["last_value"] == 30 and shown["last_breach_at"] is not None and shown["last_evaluated_at"]
    staff_client.patch(url + "/", {"state": "inactive", "last_breach_at": None}, format="json")
    rule.refresh_from_db()
    assert rule.state == shown["state"] != "inactive" and rule.last_breach_at is not None


def test_evaluating_a_disabled_rule_is_refused(staff_client, test_metric):
    rule = make_rule(is_active=False)
    response = staff_client.post(f"/api/v1/alerts/rules/{rule.pk}/evaluate")
    assert response.status_code == 409 and "disabled" in response.json()["detail"]


def test_the_alert_list_shows_open_alerts_and_filters(staff_client, test_metric):
    test_metric.set(1000)
    open_alert = services.rule_evaluate(rule=make_rule(name="a", severity="critical")).alert
    closed = services.rule_evaluate(rule=make_rule(name="b", severity="low")).alert
    services.alert_resolve(alert=closed, automatic=True)
    listed = staff_client.get("/api/v1/alerts/").json()
    assert [row["id"] for row in listed["results"]] == [open_alert.pk]
    assert staff_client.get("/api/v1/alerts?status=resolved").json()["results"][0]["id"] == closed.pk
    assert staff_client.get("/api/v1/alerts/?severity=low&status=resolved").json()["count"] == 1
    assert staff_client.get(f"/api/v1/alerts/?rule={open_alert.rule_id}").json()["count"] == 1
    assert staff_client.get("/api/v1/alerts/?status=bogus").status_code == 400
    assert staff_client.get(f"/api/v1/alerts/{open_alert.pk}").json()["rule_name"] == "a"


def test_acknowledge_then_resolve_records_who_and_when(staff_client, staff, firing):
    acked = staff_client.post(f"/api/v1/alerts/{firing.pk}/acknowledge", {"comment": "on it"}, format="json")
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "operator"
    resolved = staff_client.post(f"/api/v1/alerts/{firing.pk}/resolve/")
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolved_by"] == "operator"
    assert body["resolved_automatically"] is False


def test_acknowledging_a_resolved_alert_is_a_conflict(staff_client, firing):
    staff_client.post(f"/api/v1/alerts/{firing.pk}/resolve")
    response = staff_client.post(f"/api/v1/alerts/{firing.pk}/acknowledge")
    assert response.status_code == 409 and "resolved" in response.json()["detail"]
    assert staff_client.post(f"/api/v1/alerts/{firing.pk}/resolve").status_code == 409
    assert staff_client.post(f"/api/v1/alerts/{firing.pk}/escalate").status_code == 409


def test_escalating_without_a_policy_or_past_the_last_level_is_a_clear_4xx(staff_client, firing):
    response = staff_client.post(f"/api/v1/alerts/{firing.pk}/escalate")
    assert response.status_code == 409 and "escalation policy" in response.json()["detail"]


def test_an_unknown_alert_is_a_404(staff_client):
    assert staff_client.post("/api/v1/alerts/999/acknowledge").status_code == 404
    assert staff_client.get("/api/v1/alerts/999/history").status_code == 404


def test_history_lists_every_action_oldest_first(staff_client, firing):
    staff_client.post(f"/api/v1/alerts/{firing.pk}/acknowledge", {"comment": "looking"}, format="json")
    staff_client.post(f"/api/v1/alerts/{firing.pk}/resolve")
    history = staff_client.get(f"/api/v1/alerts/{firing.pk}/history").json()
    assert [entry["action"] for entry in history] == ["fired", "acknowledged", "resolved"]
    assert all(set(entry) == {"action", "actor", "created_at", "details"} for entry in history)
    assert [entry["actor"] for entry in history] == [None, "operator", "operator"]
    assert history[1]["details"]["comment"] == "looking"
    assert history[1]["details"]["old_status"] == "active" and history[1]["details"]["new_status"] == "acknowledged"
    stamps = [entry["created_at"] for entry in history]
    assert stamps == sorted(stamps)


def test_an_unknown_body_field_on_acknowledge_is_rejected(staff_client, firing):
    response = staff_client.post(f"/api/v1/alerts/{firing.pk}/acknowledge", {"coment": "x"}, format="json")
    assert response.status_code == 400
    firing.refresh_from_db()
    assert firing.status == "active"


class TestChannels:
    @pytest.mark.parametrize(
        "kind, config, message",
        [
            ("email", {"to": ["not-an-address"]}, "not a valid email"),
            ("email", {"to": []}, "non-empty"),
            ("slack", {"url": "ftp://hooks.example.com/x"}, "http or https"),
            ("slack", {"url": "file:///etc/passwd"}, "http or https"),
            ("webhook", {"url": "not a url"}, "http or https"),
            ("webhook", {"url": "http://10.0.0.5/hook"}, "non-public address"),
            ("webhook", {"url": "http://169.254.169.254/latest"}, "non-public address"),
            ("webhook", {"url": "https://hooks.example.com", "secret": "short"}, "secret"),
            ("webhook", {"url": "https://hooks.example.com", "secret": "whsec_!!!notbase64!!!"}, "base64"),
            ("webhook", {"url": "https://hooks.example.com", "extra": 1}, "unknown keys"),
            ("pager", {"url": "https://hooks.example.com"}, "kind"),
        ],
    )
    def test_it_rejects_an_invalid_channel_config(self, staff_client, kind, config, message):
        response = staff_client.post("/api/v1/alerts/channels", {"name": "c", "kind": kind, "config": config})
        assert response.status_code == 400
        assert message in response.json()["detail"]
        assert not NotificationChannel.objects.exists()

    def test_a_webhook_channel_gets_a_whsec_secret_when_none_is_given(self, staff_client):
        response = staff_client.post(
            "/api/v1/alerts/channels",
            {"name": "hook", "kind": "webhook", "config": {"url": "https://hooks.example.com/x"}},
        )
        assert response.status_code == 201, response.json()
        assert response.json()["config"]["secret"].startswith("whsec_")

    def test_clearing_the_flag_resets_the_failure_count(self, staff_client):
        channel = NotificationChannel.objects.create(
            name="s", kind="slack", config={"url": "https://hooks.example.com"}, disabled=True, consecutive_failures=7
        )
        response = staff_client.patch(f"/api/v1/alerts/channels/{channel.pk}", {"disabled": False})
        assert response.status_code == 200
        assert response.json()["consecutive_failures"] == 0 and response.json()["disabled_reason"] == ""

    def test_a_test_send_reports_the_outcome(self, staff_client, http_target):
        channel = make_channel(url=http_target.url)
        http_target.respond(500, "down")
        response = staff_client.post(f"/api/v1/alerts/channels/{channel.pk}/test")
        assert response.json() == {"delivered": False, "error": "HTTP 500: down"}
        assert staff_client.post(f"/api/v1/alerts/channels/{channel.pk}/test").json()["delivered"] is True


class TestPolicies:
    def test_it_creates_a_policy_with_levels(self, staff_client, http_target):
        one, two = make_channel(url=http_target.url), make_channel(url=http_target.url)
        payload = {
            "name": "oncall",
            "levels": [{"delay_seconds": 0, "channels": [one.pk]}, {"delay_seconds": 900, "channels": [two.pk]}],
            "repeat": 2,
        }
        response = staff_client.post("/api/v1/alerts/escalation-policies", payload, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["levels"] == payload["levels"] and body["repeat"] == 2
        listed = staff_client.get("/api/v1/alerts/escalation-policies/").json()
        assert listed["results"][0]["levels"] == payload["levels"]
        updated = staff_client.patch(
            f"/api/v1/alerts/escalation-policies/{body['id']}",
            {"levels": [{"delay_seconds": 60, "channels": [two.pk]}]},
            format="json",
        )
        assert updated.json()["levels"] == [{"delay_seconds": 60, "channels": [two.pk]}]

    @pytest.mark.parametrize(
        "payload, message",
        [
            ({"name": "p", "levels": []}, "levels"),
            ({"name": "p", "levels": [{"delay_seconds": 0, "channels": [999]}]}, "unknown channel"),
            ({"name": "p", "levels": [{"delay_seconds": -5, "channels": []}]}, "delay_seconds"),
            ({"name": "p", "levels": [{"delay_seconds": 0, "channels": []}]}, "at least one channel"),
            ({"name": "p", "levels": [{"delay_seconds": 0, "channels": [1]}], "repeat": 50}, "repeat"),
        ],
    )
    def test_it_rejects_a_bad_policy(self, staff_client, payload, message):
        response = staff_client.post("/api/v1/alerts/escalation-policies", payload, format="json")
        assert response.status_code == 400 and message in response.json()["detail"]


SOON = (timezone.now() + timedelta(days=1)).isoformat()


class TestSilences:
    def test_it_creates_a_silence_for_labels(self, staff_client):
        ends = (timezone.now() + timedelta(hours=2)).isoformat()
        response = staff_client.post(
            "/api/v1/alerts/silences", {"matchers": {"team": "data"}, "ends_at": ends, "comment": "deploy"}
        )
        assert response.status_code == 201, response.json()
        assert response.json()["active"] is True and response.json()["created_by"] == "operator"

    @pytest.mark.parametrize(
        "payload, message",
        [
            ({"ends_at": SOON}, "silence everything"),
            ({"matchers": {"a": "b"}, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "after"),
            ({"matchers": {"a": "b"}, "ends_at": "yesterday"}, "ends_at"),
            ({"matchers": ["a"], "ends_at": SOON}, "matchers"),
            ({"matchers": {"a": "b"}, "ends_at": "2099-01-01T00:00:00Z"}, "at most a year"),
        ],
    )
    def test_it_rejects_a_bad_silence(self, staff_client, payload, message):
        response = staff_client.post("/api/v1/alerts/silences", payload, format="json")
        assert response.status_code == 400 and message in response.json()["detail"]


def test_statistics_count_alerts_and_time_to_acknowledge_and_resolve(staff_client, staff, test_metric):
    test_metric.set(1000)
    noisy = make_rule(name="noisy", severity="critical")
    quiet = make_rule(name="quiet", severity="low")
    first = services.rule_evaluate(rule=noisy).alert
    services.alert_acknowledge(alert=first, actor=staff)
    services.alert_resolve(alert=first, actor=staff)
    Alert.objects.filter(pk=first.pk).update(
        acknowledged_at=first.triggered_at + timedelta(seconds=60),
        resolved_at=first.triggered_at + timedelta(seconds=600),
    )
    second = services.rule_evaluate(rule=noisy).alert
    services.alert_resolve(alert=second, automatic=True)
    Alert.objects.filter(pk=second.pk).update(resolved_at=second.triggered_at + timedelta(seconds=200))
    services.rule_evaluate(rule=quiet)

    response = staff_client.get("/api/v1/alerts/statistics")
    assert response.status_code == 200
    stats = response.json()
    assert stats["total"] == 3
    assert stats["by_status"] == {"active": 1, "acknowledged": 0, "resolved": 2, "closed": 0}
    assert stats["by_severity"] == {"low": 1, "medium": 0, "high": 0, "critical": 2}
    assert stats["mtta_seconds"]["count"] == 1 and stats["mtta_seconds"]["mean"] == pytest.approx(60, abs=1)
    assert stats["mttr_seconds"]["mean"] == pytest.approx(400, abs=1)
    assert stats["mttr_seconds"]["automatic"]["count"] == 1 and stats["mttr_seconds"]["manual"]["count"] == 1
    assert stats["noisy_rules"][0] == {"rule": noisy.pk, "name": "noisy", "alerts": 2, "occurrences": 2}
    assert set(stats["notifications"]) >= {"sent", "failed"}


def test_statistics_reject_a_bad_range(staff_client):
    assert staff_client.get("/api/v1/alerts/statistics?start=nonsense").status_code == 400
    bad = staff_client.get("/api/v1/alerts/statistics?start=2030-01-02T00:00:00Z&end=2030-01-01T00:00:00Z")
    assert bad.status_code == 400
    future = staff_client.get("/api/v1/alerts/statistics?start=2099-01-01T00:00:00Z")
    assert future.status_code == 400


def test_statistics_count_notifications_sent_and_failed(
    staff_client, test_metric, http_target, monkeypatch, django_capture_on_commit_callbacks
):
    from monitoring.alerts import conf

    monkeypatch.setattr(conf, "NOTIFY_MAX_RETRIES", 1)
    good = make_channel(url=http_target.url)
    rule = make_rule(channels=[good])
    http_target.respond(500, "x")
    test_metric.set(1000)
    with django_capture_on_commit_callbacks(execute=True):
        services.rule_evaluate(rule=rule)
    stats = staff_client.get("/api/v1/alerts/statistics").json()
    assert (stats["notifications"]["sent"], stats["notifications"]["failed"]) == (1, 1)


def test_deleting_a_rule_with_open_alerts_is_refused(staff_client, firing):
    response = staff_client.delete(f"/api/v1/alerts/rules/{firing.rule_id}")
    assert response.status_code == 409
    assert AlertAction.objects.filter(alert=firing).exists()
