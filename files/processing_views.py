"""HTTP for previews, conversions and jobs: translate, call one service, answer."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.api import IsOwnerOrStaff
from files import processing_selectors as selectors
from files import processing_services as services
from files.processing_serializers import (
    ConversionRequestSerializer,
    ConversionSerializer,
    JobSerializer,
    PreviewQuerySerializer,
)


class FilePreviewView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[PreviewQuerySerializer],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A data/text preview, or an image thumbnail")},
    )
    def get(self, request, file_id):
        query = PreviewQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        upload = selectors.file_get_for(user=request.user, file_id=file_id)
        preview = services.file_preview_get(
            upload=upload,
            rows=params.get("rows"),
            columns=params.get("columns"),
            sheet=params.get("sheet"),
            refresh=params["refresh"],
        )
        if preview.thumbnail is not None and not params["meta"]:
            response = HttpResponse(preview.thumbnail, content_type=preview.thumbnail_content_type)
            response["Cache-Control"] = "private, max-age=300"
            response["X-Content-Type-Options"] = "nosniff"
            return response
        return Response(preview.data)


class FileConversionsView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ConversionSerializer

    def get(self, request, file_id):
        upload = selectors.file_get_for(user=request.user, file_id=file_id)
        page = self.paginate_queryset(selectors.conversion_list_for(user=request.user, source=upload))
        return self.get_paginated_response(ConversionSerializer(page, many=True).data)

    def post(self, request, file_id):
        upload = selectors.file_get_for(user=request.user, file_id=file_id)
        serializer = ConversionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversion = services.file_conversion_request(
            source=upload,
            target_format=serializer.validated_data["target_format"],
            sheet=serializer.validated_data["sheet"],
            user=request.user,
        )
        return Response(ConversionSerializer(conversion).data, status=status.HTTP_202_ACCEPTED)


class FileJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsOwnerOrStaff]
    serializer_class = JobSerializer
    filterset_fields = ["status", "kind", "file"]

    def get_queryset(self):
        return selectors.job_list_for(user=self.request.user)
