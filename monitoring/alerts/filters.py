import django_filters

from monitoring.models import Alert, AlertRule, AlertSeverity, AlertStatus, NotificationChannel


class AlertFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=AlertSeverity.choices)
    rule = django_filters.ModelChoiceFilter(queryset=AlertRule.objects.all())
    triggered_after = django_filters.IsoDateTimeFilter(field_name="triggered_at", lookup_expr="gte")
    triggered_before = django_filters.IsoDateTimeFilter(field_name="triggered_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["status", "severity", "rule", "silenced"]


class AlertRuleFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = AlertRule
        fields = ["is_active", "severity", "metric", "state"]


class ChannelFilter(django_filters.FilterSet):
    class Meta:
        model = NotificationChannel
        fields = ["kind", "disabled"]
