import django_filters
from django_filters.rest_framework import DjangoFilterBackend

from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction


class EntityFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    owner = django_filters.CharFilter(field_name="owner__username")


class PipelineFilter(EntityFilter):
    class Meta:
        model = Pipeline
        fields = ["status", "template"]


class ConnectorFilter(EntityFilter):
    class Meta:
        model = Connector
        fields = ["kind", "status"]


class TransformationFilter(EntityFilter):
    class Meta:
        model = Transformation
        fields = ["pipeline", "function", "kind", "is_active"]


class PipelineTemplateFilter(EntityFilter):
    class Meta:
        model = PipelineTemplate
        fields = ["category"]


class TransformationFunctionFilter(EntityFilter):
    class Meta:
        model = TransformationFunction
        fields = ["language"]


class FilterBackend(DjangoFilterBackend):
    """django-filter's DRF backend, skipped when the request names none of
    the view's filters. Building a FilterSet deep-copies every filter and
    builds and validates a form, ~2 ms of CPU per request, which on a plain
    `GET files/` (most list requests carry no filter) was a sixth of the
    page's CPU (bench/load, docs/RELIABILITY.md). With no filter parameter
    every filter would return the queryset unchanged, so the answer is the
    same."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not _names_a_filter(request.query_params, filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _names_a_filter(params, filters) -> bool:
    # A filter's form field may span several parameters named after it
    # (a range filter's `<name>_min`/`<name>_max`, `<name>_after`…).
    return any(param == name or param.startswith(f"{name}_") for param in params for name in filters)
