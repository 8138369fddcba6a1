"""Delivery to real servers on loopback: signed webhooks, Slack JSON, SMTP
email; retries with backoff, attempts recorded, failing channels flagged,
SSRF guard, silences and queue routing."""

import base64
import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from aggregator.celery import app as celery_app
from monitoring.alerts import conf, services
from monitoring.alerts.notifiers import webhook
from monitoring.alerts.services.notifications import backoff_seconds
from monitoring.models import Alert, AlertAction, AlertRule, AlertSilence, NotificationAttempt, NotificationChannel
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def fire(test_metric, django_capture_on_commit_callbacks):
    """Fires a rule watching the test metric, delivering its notifications."""

    def fire_rule(rule: AlertRule) -> Alert:
        test_metric.set(1000)
        with django_capture_on_commit_callbacks(execute=True):
            return services.rule_evaluate(rule=rule).alert

    return fire_rule


def test_webhook_is_signed_per_standard_webhooks(fire, http_target):
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    channel = make_channel(url=http_target.url, secret=secret)
    alert = fire(make_rule(channels=[channel]))

    (request,) = http_target.requests
    msg_id, stamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    expected = base64.b64encode(
        hmac.new(b"k" * 32, f"{msg_id}.{stamp}.".encode() + request.body, hashlib.sha256).digest()
    ).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(stamp) - time.time()) < 300
    assert webhook.verify(secret=secret, headers=request.headers, body=request.body)
    body = request.json()
    assert body["type"] == "alert.firing"
    assert body["data"]["alert"]["id"] == alert.pk
    assert body["data"]["rule"]["name"] == "errors"
    assert {"timestamp", "data", "type"} <= set(body)


def test_a_tampered_webhook_body_fails_verification(fire, http_target):
    channel = make_channel(url=http_target.url, secret="a-plain-secret-of-some-length")
    fire(make_rule(channels=[channel]))
    (request,) = http_target.requests
    assert webhook.verify(secret="a-plain-secret-of-some-length", headers=request.headers, body=request.body)
    assert not webhook.verify(secret="a-plain-secret-of-some-length", headers=request.headers, body=request.body + b" ")


def test_the_webhook_id_stays_the_same_across_retries(fire, http_target):
    http_target.respond(503, "busy", times=2)
    channel = make_channel(url=http_target.url)
    alert = fire(make_rule(channels=[channel]))
    ids = {request.headers["webhook-id"] for request in http_target.requests}
    assert len(http_target.requests) == 3 and len(ids) == 1
    attempts = NotificationAttempt.objects.filter(alert=alert).order_by("attempt")
    assert [(a.attempt, a.status, a.response_code) for a in attempts] == [
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "sent", 200),
    ]
    assert all(a.duration_ms is not None for a in attempts)
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0 and channel.last_success_at is not None


def test_slack_gets_incoming_webhook_json(fire, http_target):
    channel = make_channel("slack", url=http_target.url)
    fire(make_rule(name="disk <full> & more", channels=[channel]))
    body = http_target.requests[0].json()
    assert "disk <full> & more is firing" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    assert "disk &lt;full&gt; &amp; more" in body["blocks"][0]["text"]["text"]


def test_a_revoked_slack_webhook_flags_the_channel_without_retrying(fire, http_target):
    http_target.respond(403, "invalid_token")
    channel = make_channel("slack", url=http_target.url)
    alert = fire(make_rule(channels=[channel]))
    assert len(http_target.requests) == 1
    channel.refresh_from_db()
    assert channel.disabled and "invalid_token" in channel.disabled_reason
    failed = AlertAction.objects.get(alert=alert, action="notification_failed")
    assert failed.details["permanent"] is True


def test_email_goes_through_a_real_smtp_server(fire, smtp_server):
    channel = make_channel("email", to=["oncall@example.com", "lead@example.com"])
    alert = fire(make_rule(channels=[channel], severity="critical"))
    (envelope,) = smtp_server.messages
    assert sorted(envelope.rcpt_tos) == ["lead@example.com", "oncall@example.com"]
    text = envelope.content.decode()
    assert "Subject: [CRITICAL] errors is firing" in text
    assert NotificationAttempt.objects.get(alert=alert).status == "sent"


def test_a_refused_recipient_is_a_permanent_email_failure(fire, smtp_server):
    smtp_server.refuse.add("gone@example.com")
    channel = make_channel("email", to=["gone@example.com"])
    alert = fire(make_rule(channels=[channel]))
    attempt = NotificationAttempt.objects.get(alert=alert)
    assert attempt.status == "failed" and attempt.permanent
    channel.refresh_from_db()
    assert channel.disabled


def test_it_retries_a_failing_endpoint_then_gives_up_and_records_each_attempt(fire, http_target, monkeypatch):
    monkeypatch.setattr(conf, "NOTIFY_MAX_RETRIES", 2)
    monkeypatch.setattr(conf, "CHANNEL_FAILURE_THRESHOLD", 2)
    http_target.default = (500, "boom", {})
    channel = make_channel(url=http_target.url)
    rule = make_rule(channels=[channel])
    first = fire(rule)
    assert NotificationAttempt.objects.filter(alert=first, status="failed").count() == 3
    assert AlertAction.objects.filter(alert=first, action="notification_failed").count() == 1
    channel.refresh_from_db()
    assert channel.consecutive_failures == 1 and not channel.disabled
    assert "HTTP 500" in channel.last_error

    # A second alert failing all its retries too: the channel is flagged.
    services.alert_resolve(alert=first, automatic=True)
    fire(rule)
    channel.refresh_from_db()
    assert channel.disabled and "2 failed deliveries" in channel.disabled_reason


def test_a_gone_endpoint_flags_the_channel_and_later_notifications_are_skipped(fire, http_target):
    http_target.respond(410, "gone")
    channel = make_channel(url=http_target.url)
    rule = make_rule(channels=[channel])
    alert = fire(rule)
    channel.refresh_from_db()
    assert channel.disabled
    services.alert_resolve(alert=alert, automatic=True)
    second = fire(rule)
    assert len(http_target.requests) == 1
    assert AlertAction.objects.filter(alert=second, action="notification_skipped").exists()


def test_a_successful_test_send_clears_the_flag(http_target):
    channel = make_channel(url=http_target.url)
    NotificationChannel.objects.filter(pk=channel.pk).update(disabled=True, disabled_reason="x", consecutive_failures=9)
    delivered, error = services.channel_test_send(channel=channel)
    assert delivered and error == ""
    channel.refresh_from_db()
    assert not channel.disabled and channel.consecutive_failures == 0
    assert http_target.requests[0].json()["type"] == "alert.test"


def test_backoff_grows_exponentially_is_capped_and_honours_retry_after(monkeypatch):
    monkeypatch.setattr(conf, "NOTIFY_BACKOFF_SECONDS", 5)
    monkeypatch.setattr(conf, "NOTIFY_BACKOFF_MAX_SECONDS", 100)
    assert 2.5 <= backoff_seconds(0) <= 5
    assert 20 <= backoff_seconds(3) <= 40
    assert 50 <= backoff_seconds(10) <= 100
    assert backoff_seconds(0, retry_after=60) >= 60


def test_it_refuses_loopback_targets_unless_allowed(fire, http_target, monkeypatch):
    channel = make_channel(url=http_target.url)
    monkeypatch.setattr(conf, "WEBHOOK_ALLOWED_NETWORKS", [])
    alert = fire(make_rule(channels=[channel]))
    assert http_target.requests == []
    attempt = NotificationAttempt.objects.get(alert=alert)
    assert attempt.permanent and "non-public address" in attempt.error


def test_a_hostname_resolving_to_loopback_is_refused(fire, http_target, monkeypatch):
    channel = make_channel(url=http_target.url.replace("127.0.0.1", "localhost"))
    monkeypatch.setattr(conf, "WEBHOOK_ALLOWED_NETWORKS", [])
    alert = fire(make_rule(channels=[channel]))
    assert http_target.requests == []
    assert "non-public address" in NotificationAttempt.objects.get(alert=alert).error


def test_redirects_are_not_followed(fire, http_target):
    http_target.respond(302, "", {"Location": "http://169.254.169.254/latest/meta-data"})
    channel = make_channel(url=http_target.url)
    alert = fire(make_rule(channels=[channel]))
    attempt = NotificationAttempt.objects.get(alert=alert)
    assert attempt.status == "failed" and attempt.response_code == 302


class TestSilences:
    def test_a_silenced_alert_is_recorded_but_not_notified(self, fire, http_target):
        channel = make_channel(url=http_target.url)
        rule = make_rule(channels=[channel], labels={"team": "data"})
        AlertSilence.objects.create(
            matchers={"team": "data"},
            starts_at=timezone.now() - timedelta(minutes=1),
            ends_at=timezone.now() + timedelta(hours=1),
        )
        alert = fire(rule)
        assert alert.silenced and http_target.requests == []
        assert list(AlertAction.objects.filter(alert=alert).values_list("action", flat=True)) == ["fired", "silenced"]

    def test_a_silence_for_another_rule_or_label_does_not_apply(self, fire, http_target):
        channel = make_channel(url=http_target.url)
        other = make_rule(name="other")
        rule = make_rule(channels=[channel], labels={"team": "data"})
        now = timezone.now()
        AlertSilence.objects.create(rule=other, starts_at=now, ends_at=now + timedelta(hours=1))
        AlertSilence.objects.create(matchers={"team": "web"}, starts_at=now, ends_at=now + timedelta(hours=1))
        AlertSilence.objects.create(rule=rule, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
        fire(rule)
        assert len(http_target.requests) == 1

    def test_the_alert_is_notified_when_its_silence_ends_while_it_still_fires(self, fire, http_target):
        channel = make_channel(url=http_target.url)
        rule = make_rule(channels=[channel])
        silence = AlertSilence.objects.create(
            rule=rule, starts_at=timezone.now() - timedelta(minutes=1), ends_at=timezone.now() + timedelta(hours=1)
        )
        alert = fire(rule)
        assert http_target.requests == []
        AlertSilence.objects.filter(pk=silence.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
        fire(rule)
        alert.refresh_from_db()
        assert not alert.silenced
        assert http_target.requests[0].json()["data"]["reason"] == "silence_ended"


def test_notification_tasks_go_to_the_notifications_queue_and_the_rest_to_alerts():
    route = celery_app.amqp.router.route
    assert route({}, "monitoring.alerts.tasks.alert_notification_send_task")["queue"].name == "notifications"
    for name in ("alert_rules_evaluate_task", "alert_escalate_task", "alerts_close_resolved_task"):
        assert route({}, f"monitoring.alerts.tasks.{name}")["queue"].name == "alerts"


def test_a_notification_for_a_deleted_alert_does_nothing(http_target):
    from monitoring.alerts.services import notification_deliver

    channel = make_channel(url=http_target.url)
    assert notification_deliver(alert_id=999999, channel_id=channel.pk, event="firing", delivery_id="msg_x") is None
    assert http_target.requests == []


def test_notifications_to_one_target_reuse_the_connection_and_keep_no_cookies(fire, keep_alive_target):
    """A worker keeps one session per thread: the second POST goes over the
    first one's connection, and a cookie the target sets is not sent back."""
    keep_alive_target.respond(200, "ok", {"Set-Cookie": "session=abc; Path=/"})
    channel = make_channel(url=keep_alive_target.url)
    alert = fire(make_rule(channels=[channel]))
    services.notification_deliver(alert_id=alert.pk, channel_id=channel.pk, event="repeat", delivery_id="msg_again")

    first, second = keep_alive_target.wait_for(2)
    assert first.client == second.client
    assert "cookie" not in second.headers
    assert NotificationAttempt.objects.filter(channel=channel, status="sent").count() == 2
