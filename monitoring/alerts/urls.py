from django.urls import include, path

from aggregator.api import Router
from monitoring.alerts import views

router = Router()
# The sub-resources come first; alert ids are digits only, so "rules" or
# "statistics" never reads as an alert id.
router.register("alerts/rules", views.AlertRuleViewSet, basename="alert-rule")
router.register("alerts/escalation-policies", views.EscalationPolicyViewSet, basename="alert-escalation-policy")
router.register("alerts/channels", views.NotificationChannelViewSet, basename="alert-channel")
router.register("alerts/silences", views.SilenceViewSet, basename="alert-silence")
router.register("alerts/notification-attempts", views.NotificationAttemptViewSet, basename="alert-attempt")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [path("", include(router.urls))]
