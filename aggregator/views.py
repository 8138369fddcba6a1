from django.http import HttpRequest, JsonResponse
from django.views import defaults
from rest_framework import viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated

from aggregator import filters, selectors, serializers, services
from aggregator.api import IsOwnerOrStaff
from aggregator.cache import CachedResponseMixin
from aggregator.throttling import ScopedRateThrottle


class TokenView(ObtainAuthToken):
    """POST username/password, get the user's API token. Throttled hard,
    since it is where passwords are guessed."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class EntityViewSet(CachedResponseMixin, viewsets.ModelViewSet):
    """CRUD for one core entity: reads through a selector scoped to the
    caller (another user's object is a 404), writes through the services.
    Reads are cached per caller; any core write invalidates (see apps.py)."""

    cache_scope = "core"
    permission_classes = [IsAuthenticated, IsOwnerOrStaff]
    selector = None
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self):
        return type(self).selector(user=self.request.user)

    def perform_create(self, serializer):
        model = serializer.Meta.model
        serializer.instance = services.entity_create(
            model=model, owner=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.entity_update(instance=serializer.instance, data=serializer.validated_data)


class PipelineViewSet(EntityViewSet):
    selector = staticmethod(selectors.pipeline_list_for)
    serializer_class = serializers.PipelineSerializer
    filterset_class = filters.PipelineFilter


class ConnectorViewSet(EntityViewSet):
    selector = staticmethod(selectors.connector_list_for)
    serializer_class = serializers.ConnectorSerializer
    filterset_class = filters.ConnectorFilter


class TransformationViewSet(EntityViewSet):
    selector = staticmethod(selectors.transformation_list_for)
    serializer_class = serializers.TransformationSerializer
    filterset_class = filters.TransformationFilter


class PipelineTemplateViewSet(EntityViewSet):
    selector = staticmethod(selectors.template_list_for)
    serializer_class = serializers.PipelineTemplateSerializer
    filterset_class = filters.PipelineTemplateFilter


class TransformationFunctionViewSet(EntityViewSet):
    selector = staticmethod(selectors.function_list_for)
    serializer_class = serializers.TransformationFunctionSerializer
    filterset_class = filters.TransformationFunctionFilter


def _json_error(request: HttpRequest, status: int, detail: str):
    return JsonResponse({"detail": detail}, status=status)


def not_found(request: HttpRequest, exception=None):
    # The operator console keeps Django's HTML page; the API answers JSON.
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return _json_error(request, 404, "Not found.")


def server_error(request: HttpRequest):
    return _json_error(request, 500, "Internal server error.")


def bad_request(request: HttpRequest, exception=None):
    return _json_error(request, 400, "Bad request.")


def permission_denied(request: HttpRequest, exception=None):
    return _json_error(request, 403, "You do not have permission to perform this action.")
