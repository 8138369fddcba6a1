import django_filters

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
