"""Alert actions run from the console land in the alert's audit trail with
the operator's name, and the alert's page shows them."""

import re

import pytest
from django.urls import reverse

from monitoring.alerts import services
from monitoring.models import AlertAction
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_channel, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(test_metric, http_target):
    """An active alert whose rule has a two-level escalation policy, so
    there is a level to escalate to by hand."""
    base = http_target.url.rsplit("/", 1)[0]
    first, second = (make_channel(url=f"{base}/l{n}", name=f"l{n}") for n in (1, 2))
    policy = services.policy_create(
        data={
            "name": "oncall",
            "levels": [{"delay_seconds": 0, "channels": [first.pk]}, {"delay_seconds": 600, "channels": [second.pk]}],
            "repeat": 0,
            "ack_timeout_seconds": 1800,
        }
    )
    test_metric.set(1000)
    return services.rule_evaluate(rule=make_rule(severity="critical", escalation_policy=policy)).alert


def test_acknowledge_escalate_and_resolve_are_audited_with_the_operators_name(operator_browser, alert):
    """GIVEN an active alert and an operator (a member of the operators group, not a superuser)
    WHEN the operator acknowledges, escalates and resolves it from the alert list
    THEN each step is one audit-trail row naming the operator, and the alert's page lists them."""
    operator = operator_browser.session["_auth_user_id"]
    changelist = reverse("admin:monitoring_alert_changelist")

    for action in ("acknowledge", "escalate", "resolve"):
        response = operator_browser.post(changelist, {"action": action, "_selected_action": [alert.pk]})
        assert response.status_code == 302, action

    trail = AlertAction.objects.filter(alert=alert, source="admin").order_by("created_at", "id")
    assert [row.action for row in trail] == ["acknowledged", "escalated", "resolved"]
    assert {str(row.actor_id) for row in trail} == {operator}
    page = operator_browser.get(reverse("admin:monitoring_alert_change", args=[alert.pk])).content.decode()
    actors = re.findall(r'<td class="field-actor">(.*?)</td>', page, re.S)
    assert sum("olga" in cell for cell in actors) == 3
