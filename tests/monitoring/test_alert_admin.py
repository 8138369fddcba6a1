"""The operator console: badges, audited actions, inlines, rule actions."""

import pytest
from django.test import Client

from monitoring.alerts import services
from monitoring.models import AlertAction, AlertRule, NotificationAttempt
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def alert(test_metric):
    test_metric.set(1000)
    return services.rule_evaluate(rule=make_rule(severity="critical")).alert


def test_the_alert_list_shows_coloured_severity_and_status_badges(console, alert):
    page = console.get("/admin/monitoring/alert/?status__exact=active&severity__exact=critical")
    assert page.status_code == 200
    html = page.content.decode()
    assert "#c92a2a" in html and ">Critical<" in html and ">Active<" in html


def test_admin_acknowledge_is_audited_with_the_operators_name(console, alert, staff):
    response = console.post(
        "/admin/monitoring/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]}, follow=True
    )
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == staff
    action = AlertAction.objects.get(alert=alert, action="acknowledged")
    assert (action.actor, action.source) == (staff, "admin")


def test_an_admin_action_the_alert_cannot_take_is_reported_not_crashed(console, alert):
    services.alert_resolve(alert=alert, automatic=True)
    response = console.post(
        "/admin/monitoring/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "only an active alert can be acknowledged" in response.content.decode()


def test_admin_resolve_and_escalate(console, alert, staff):
    console.post("/admin/monitoring/alert/", {"action": "escalate", "_selected_action": [alert.pk]}, follow=True)
    console.post("/admin/monitoring/alert/", {"action": "resolve", "_selected_action": [alert.pk]}, follow=True)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == staff


def test_the_alert_page_shows_its_history_and_attempts_inline(console, alert, http_target):
    channel = make_channel(url=http_target.url, name="ops-hook")
    NotificationAttempt.objects.create(alert=alert, channel=channel, event="firing", delivery_id="msg_1", status="sent")
    page = console.get(f"/admin/monitoring/alert/{alert.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Fired" in html and "ops-hook" in html


def test_rules_can_be_disabled_enabled_and_evaluated_from_the_admin(console, test_metric):
    rule = make_rule()
    test_metric.set(1000)
    console.post("/admin/monitoring/alertrule/", {"action": "disable", "_selected_action": [rule.pk]})
    assert AlertRule.objects.get(pk=rule.pk).is_active is False
    refused = console.post(
        "/admin/monitoring/alertrule/", {"action": "evaluate_now", "_selected_action": [rule.pk]}, follow=True
    )
    assert "disabled" in refused.content.decode()
    console.post("/admin/monitoring/alertrule/", {"action": "enable", "_selected_action": [rule.pk]})
    done = console.post(
        "/admin/monitoring/alertrule/", {"action": "evaluate_now", "_selected_action": [rule.pk]}, follow=True
    )
    assert "firing" in done.content.decode()
    assert rule.alerts.count() == 1


def test_the_rule_form_refuses_an_unknown_metric(console):
    response = console.post(
        "/admin/monitoring/alertrule/add/",
        {
            "name": "bad",
            "metric": "nope",
            "metric_params": "{}",
            "comparison": ">",
            "threshold": "1",
            "window_seconds": "60",
            "pending_seconds": "0",
            "keep_firing_seconds": "0",
            "severity": "low",
            "labels": "{}",
            "cooldown_seconds": "0",
            "no_data": "ok",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "Unknown metric" in response.content.decode()
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/monitoring/alertescalationpolicy/add/",
        "/admin/monitoring/notificationchannel/",
        "/admin/monitoring/notificationattempt/",
        "/admin/monitoring/alertsilence/add/",
        "/admin/monitoring/alertrule/add/",
    ],
)
def test_the_other_admin_pages_render(console, url):
    assert console.get(url).status_code == 200


def test_a_flagged_channel_stands_out_in_the_list(console, http_target):
    channel = make_channel(url=http_target.url, name="broken")
    channel.disabled = True
    channel.save()
    html = console.get("/admin/monitoring/notificationchannel/").content.decode()
    assert ">Flagged<" in html
