from rest_framework import serializers

from aggregator import selectors
from aggregator.api import StrictFieldsMixin
from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction


class OwnedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to another core entity, limited to what the caller may see,
    so nobody can attach another user's object to their own."""

    def get_queryset(self):
        request = self.context.get("request")
        model = self.queryset.model
        return selectors.visible_to(model, user=getattr(request, "user", None))


_COMMON = ["id", "owner", "name", "description", "config", "created_at", "updated_at"]


class EntitySerializer(StrictFieldsMixin, serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class PipelineTemplateSerializer(EntitySerializer):
    class Meta:
        model = PipelineTemplate
        fields = [*_COMMON, "category"]


class TransformationFunctionSerializer(EntitySerializer):
    class Meta:
        model = TransformationFunction
        fields = [*_COMMON, "language", "code", "input_schema", "output_schema", "version"]


class ConnectorSerializer(EntitySerializer):
    class Meta:
        model = Connector
        fields = [*_COMMON, "kind", "status"]


class PipelineSerializer(EntitySerializer):
    template = OwnedRelatedField(queryset=PipelineTemplate.objects.all(), allow_null=True, required=False)
    connectors = OwnedRelatedField(queryset=Connector.objects.all(), many=True, required=False)

    class Meta:
        model = Pipeline
        fields = [*_COMMON, "status", "schedule", "template", "connectors"]


class TransformationSerializer(EntitySerializer):
    pipeline = OwnedRelatedField(queryset=Pipeline.objects.all())
    function = OwnedRelatedField(queryset=TransformationFunction.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Transformation
        fields = [*_COMMON, "pipeline", "function", "kind", "position", "is_active"]
