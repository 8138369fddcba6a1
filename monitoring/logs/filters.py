import django_filters

from monitoring.models import LogLevel, SystemLog


class SystemLogFilter(django_filters.FilterSet):
    """Query-string filters of GET logs/ (POST logs/search has the full set)."""

    level = django_filters.MultipleChoiceFilter(choices=LogLevel.choices)
    source = django_filters.CharFilter()
    correlation_id = django_filters.CharFilter()
    http_status = django_filters.NumberFilter()
    start = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    end = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = SystemLog
        fields = ["level", "source", "correlation_id", "http_status"]
