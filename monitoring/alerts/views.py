"""The alerts API: staff only, thin viewsets over selectors and services."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from aggregator.exceptions import Conflict, InvalidInput
from monitoring.alerts import filters, selectors, serializers, services
from monitoring.models import AlertStatus


class StaffViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAdminUser]
    lookup_value_regex = "[0-9]+"


class AlertRuleViewSet(StaffViewSet, viewsets.ModelViewSet):
    serializer_class = serializers.AlertRuleSerializer
    filterset_class = filters.AlertRuleFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "severity", "created_at", "last_evaluated_at"]

    def get_queryset(self):
        return selectors.rule_list()

    def perform_create(self, serializer):
        serializer.instance = services.rule_create(data=serializer.validated_data, actor=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.rule_update(rule=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        if instance.alerts.filter(status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED]).exists():
            raise Conflict("The rule has open alerts; resolve them (or disable the rule) before deleting it.")
        instance.delete()

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        result = services.rule_evaluate(rule=self.get_object())
        return Response(
            {
                "value": result.value,
                "fired": result.fired,
                "alert": serializers.AlertSerializer(result.alert).data if result.alert else None,
                "state": result.state,
                "error": result.error,
            }
        )


class AlertViewSet(StaffViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Without a status filter the list shows open alerts (active and
    acknowledged); `?status=resolved` etc. shows the others."""

    serializer_class = serializers.AlertSerializer
    filterset_class = filters.AlertFilter
    ordering_fields = ["triggered_at", "severity", "status", "last_seen_at"]

    def get_queryset(self):
        queryset = selectors.alert_list()
        if self.action == "list" and "status" not in self.request.query_params:
            queryset = queryset.filter(status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED])
        return queryset

    def _comment(self, request) -> str:
        body = serializers.CommentSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        return body.validated_data["comment"]

    @extend_schema(request=serializers.CommentSerializer, responses=serializers.AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = services.alert_acknowledge(alert=self.get_object(), actor=request.user, comment=self._comment(request))
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=serializers.CommentSerializer, responses=serializers.AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alert = services.alert_resolve(alert=self.get_object(), actor=request.user, comment=self._comment(request))
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=None, responses=serializers.AlertSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        alert = services.alert_escalate(alert=self.get_object(), actor=request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(responses=serializers.AlertActionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        actions = selectors.alert_history(alert=self.get_object())
        return Response(serializers.AlertActionSerializer(actions, many=True).data)

    # A free-form summary, not an Alert (the viewset's serializer).
    @extend_schema(parameters=[serializers.StatisticsQuerySerializer], responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def statistics(self, request):
        query = serializers.StatisticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        end = query.validated_data.get("end") or timezone.now()
        start = query.validated_data.get("start")
        if start and start >= end:
            raise InvalidInput("start must be before end.")
        return Response(selectors.alert_statistics(since=start, until=end, top=query.validated_data["top"]))


class EscalationPolicyViewSet(StaffViewSet, viewsets.ModelViewSet):
    serializer_class = serializers.EscalationPolicySerializer
    search_fields = ["name"]

    def get_queryset(self):
        return selectors.policy_list()

    def perform_create(self, serializer):
        serializer.instance = services.policy_create(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.policy_update(policy=serializer.instance, data=serializer.validated_data)


class NotificationChannelViewSet(StaffViewSet, viewsets.ModelViewSet):
    serializer_class = serializers.NotificationChannelSerializer
    filterset_class = filters.ChannelFilter
    search_fields = ["name"]

    def get_queryset(self):
        return selectors.channel_list()

    def perform_create(self, serializer):
        serializer.instance = services.channel_create(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.channel_update(channel=serializer.instance, data=serializer.validated_data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivered, error = services.channel_test_send(channel=self.get_object())
        return Response({"delivered": delivered, "error": error}, status=status.HTTP_200_OK)


class SilenceViewSet(StaffViewSet, viewsets.ModelViewSet):
    serializer_class = serializers.SilenceSerializer
    filterset_fields = ["rule"]

    def get_queryset(self):
        return selectors.silence_list()

    def perform_create(self, serializer):
        serializer.instance = services.silence_create(data=serializer.validated_data, actor=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.silence_update(silence=serializer.instance, data=serializer.validated_data)


class NotificationAttemptViewSet(StaffViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = serializers.NotificationAttemptSerializer
    filterset_fields = ["alert", "channel", "status", "event"]

    def get_queryset(self):
        return selectors.attempt_list()
