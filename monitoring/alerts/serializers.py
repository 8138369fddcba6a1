"""Shapes of the alerts API. Validation of business rules lives in services."""

from django.utils import timezone
from rest_framework import serializers

from aggregator.api import StrictFieldsMixin
from monitoring.models import (
    Alert,
    AlertAction,
    AlertEscalationLevel,
    AlertEscalationPolicy,
    AlertRule,
    AlertSilence,
    NotificationAttempt,
    NotificationChannel,
)

WEEK = 7 * 24 * 3600
YEAR = 365 * 24 * 3600


class AlertRuleSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    channels = serializers.PrimaryKeyRelatedField(many=True, queryset=NotificationChannel.objects.all(), required=False)
    escalation_policy = serializers.PrimaryKeyRelatedField(
        queryset=AlertEscalationPolicy.objects.all(), allow_null=True, required=False
    )
    metric = serializers.CharField(max_length=64)
    metric_params = serializers.JSONField(required=False)
    labels = serializers.JSONField(required=False)
    threshold = serializers.FloatField()
    window_seconds = serializers.IntegerField(min_value=1, max_value=WEEK, required=False)
    pending_seconds = serializers.IntegerField(min_value=0, max_value=WEEK, required=False)
    keep_firing_seconds = serializers.IntegerField(min_value=0, max_value=WEEK, required=False)
    cooldown_seconds = serializers.IntegerField(min_value=0, max_value=WEEK, required=False)

    class Meta:
        model = AlertRule
        fields = ["id", *AlertRule.EDITABLE_FIELDS, *AlertRule.EVALUATION_FIELDS, "created_at", "updated_at"]
        read_only_fields = [*AlertRule.EVALUATION_FIELDS, "created_at", "updated_at"]
        # Uniqueness is the service's job (a 409), not a serializer 400.
        validators: list = []
        extra_kwargs = {"name": {"validators": []}}


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    escalation_policy = serializers.JSONField(source="escalation_policy_snapshot", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "severity",
            "status",
            "message",
            "value",
            "threshold",
            "labels",
            "fingerprint",
            "triggered_at",
            "last_seen_at",
            "occurrence_count",
            "acknowledged_at",
            "acknowledged_by",
            "ack_expires_at",
            "resolved_at",
            "resolved_by",
            "resolved_automatically",
            "closed_at",
            "silenced",
            "escalation_level",
            "escalation_policy",
            "next_escalation_at",
        ]
        read_only_fields = fields


class AlertActionSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    details = serializers.SerializerMethodField()

    class Meta:
        model = AlertAction
        fields = ["action", "actor", "created_at", "details"]

    def get_details(self, obj: AlertAction) -> dict:
        extra = {"source": obj.source}
        if obj.old_status or obj.new_status:
            extra.update(old_status=obj.old_status or None, new_status=obj.new_status or None)
        return {**obj.details, **extra}


class CommentSerializer(StrictFieldsMixin, serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class StatisticsQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    top = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "must be after start."})
        return attrs


class LevelSerializer(StrictFieldsMixin, serializers.Serializer):
    delay_seconds = serializers.IntegerField(min_value=0, max_value=WEEK, default=0)
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=50)

    def to_representation(self, instance):
        if isinstance(instance, AlertEscalationLevel):
            return {"delay_seconds": instance.delay_seconds, "channels": sorted(c.pk for c in instance.channels.all())}
        return super().to_representation(instance)


class EscalationPolicySerializer(StrictFieldsMixin, serializers.ModelSerializer):
    levels = LevelSerializer(many=True)
    repeat = serializers.IntegerField(min_value=0, max_value=9, required=False)
    ack_timeout_seconds = serializers.IntegerField(min_value=1, max_value=WEEK, allow_null=True, required=False)

    class Meta:
        model = AlertEscalationPolicy
        fields = ["id", "name", "description", "levels", "repeat", "ack_timeout_seconds", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}


class NotificationChannelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    config = serializers.JSONField()

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "disabled",
            "disabled_reason",
            "consecutive_failures",
            "last_error",
            "last_success_at",
            "last_failure_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "disabled_reason",
            "consecutive_failures",
            "last_error",
            "last_success_at",
            "last_failure_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"validators": []}}


class NotificationAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationAttempt
        fields = [
            "id",
            "alert",
            "channel",
            "event",
            "delivery_id",
            "attempt",
            "status",
            "response_code",
            "error",
            "permanent",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields


class SilenceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    matchers = serializers.JSONField(required=False)
    starts_at = serializers.DateTimeField(required=False)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = AlertSilence
        fields = ["id", "comment", "rule", "matchers", "starts_at", "ends_at", "created_by", "created_at", "active"]
        read_only_fields = ["created_by", "created_at"]
        validators: list = []

    def get_active(self, obj: AlertSilence) -> bool:
        now = timezone.now()
        return obj.starts_at <= now < obj.ends_at

    def validate(self, attrs):
        if self.instance is None:
            attrs.setdefault("starts_at", timezone.now())
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and (ends - starts).total_seconds() > YEAR:
            raise serializers.ValidationError({"ends_at": "a silence lasts at most a year."})
        return attrs
