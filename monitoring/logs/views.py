"""HTTP endpoints of the logs half. Thin: validate, call a selector or a
service, shape the answer."""

import base64
import binascii
from datetime import timedelta

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.exceptions import Conflict, InvalidInput
from aggregator.throttling import ScopedRateThrottle
from monitoring.logs import archives, capture, conf, selectors, services, tasks
from monitoring.logs.filters import SystemLogFilter
from monitoring.logs.serializers import (
    ArchiveRequestSerializer,
    ErrorTrendQuerySerializer,
    LogArchiveSerializer,
    LogSearchSerializer,
    RecentErrorsQuerySerializer,
    SystemLogSerializer,
    TimeRangeQuerySerializer,
    log_lines_data,
    valid_correlation_id,
)
from monitoring.models import LogArchive, SystemLog


class CanWriteLogs(BasePermission):
    """Log writers (and superusers) hold monitoring.add_systemlog."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("monitoring.add_systemlog"))


class LogListView(generics.ListAPIView):
    """GET: staff browse lines (query-string filters). POST: writers add one
    entry or a list of them, all or nothing."""

    serializer_class = SystemLogSerializer
    filterset_class = SystemLogFilter
    search_fields: list[str] = []
    throttle_scope = "log_ingest"

    def get_permissions(self):
        return [CanWriteLogs()] if self.request.method == "POST" else [IsAdminUser()]

    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        return SystemLog.objects.order_by("-timestamp", "-id")

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        ids = services.log_ingest(entries=request.data, default_source=request.user.get_username()[:100])
        return Response({"created": len(ids), "ids": ids}, status=status.HTTP_201_CREATED)


def _encode_cursor(line: dict) -> str:
    return base64.urlsafe_b64encode(f"{line['timestamp'].isoformat()}|{line['id']}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple:
    try:
        moment, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parsed = parse_datetime(moment)
        if parsed is None:
            raise ValueError
        return parsed, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput("cursor: not a cursor from an earlier answer.") from None


class LogSearchView(APIView):
    """POST logs/search: filters and a full-text query, newest first by
    default; pages with limit/offset or with the `next` cursor."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=LogSearchSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = LogSearchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        search = body.to_search()
        limit = body.validated_data.get("limit") or conf.SEARCH_DEFAULT_LIMIT
        cursor = body.validated_data.get("cursor")
        offset = 0 if cursor else body.validated_data["offset"]
        page = selectors.log_search_page(
            search,
            limit=limit,
            cap=conf.SEARCH_COUNT_LIMIT,
            offset=offset,
            after=_decode_cursor(cursor) if cursor else None,
        )
        rows, more = page.rows, page.more
        next_cursor = _encode_cursor(rows[-1]) if more and rows and search.order != "relevance" else None
        return Response(
            {
                "count": page.count,
                "count_is_exact": page.count_is_exact,
                "next": next_cursor,
                "next_offset": offset + limit if more and not cursor else None,
                "previous": None,
                "full_text": selectors.full_text_supported(),
                "results": log_lines_data(rows),
            }
        )


class CorrelationChainView(generics.ListAPIView):
    """Every line of one request/task chain, oldest first."""

    permission_classes = [IsAdminUser]
    serializer_class = SystemLogSerializer
    filter_backends: list = []

    def get_queryset(self):
        correlation_id = self.kwargs["correlation_id"]
        if not valid_correlation_id(correlation_id):
            raise InvalidInput("Not a correlation ID (letters, digits and ._:- only, at most 128).")
        return selectors.log_correlation_chain(correlation_id=correlation_id)


class RecentErrorsView(generics.ListAPIView):
    """Error and critical lines of the last `hours` (24 by default), newest first."""

    permission_classes = [IsAdminUser]
    serializer_class = SystemLogSerializer
    filter_backends: list = []

    def get_queryset(self):
        params = RecentErrorsQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        since = timezone.now() - timedelta(hours=params.validated_data["hours"])
        return selectors.log_recent_errors(since=since, source=params.validated_data.get("source"))


class StatisticsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[TimeRangeQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        params = TimeRangeQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        statistics = selectors.log_statistics(**params.validated_data)
        # How the platform's own capture is doing: lines lost show up here.
        statistics["capture"] = {**capture.capture_stats(), "dropped_total": capture.dropped_total()}
        return Response(statistics)


class ErrorTrendView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[ErrorTrendQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        params = ErrorTrendQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(selectors.log_error_trend(now=timezone.now(), **params.validated_data))


class ArchiveView(APIView):
    """POST logs/archive: archive lines older than N days, in the background."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=ArchiveRequestSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        body = ArchiveRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        days = body.validated_data.get("older_than_days", conf.ARCHIVE_AFTER_DAYS)
        cutoff = timezone.now() - timedelta(days=days)
        transaction.on_commit(lambda: tasks.log_archive_task.delay(cutoff.isoformat()))
        pending = archives.log_archive_backlog(cutoff=cutoff)
        return Response(
            {"status": "queued", "older_than_days": days, "cutoff": cutoff, "pending": pending},
            status=status.HTTP_202_ACCEPTED,
        )


class ArchiveCleanupView(APIView):
    """DELETE logs/archives/cleanup: delete archives past their retention."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def delete(self, request: Request) -> Response:
        deleted = archives.log_archive_cleanup(now=timezone.now())
        return Response({"deleted": deleted})


class ArchiveListView(generics.ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = LogArchiveSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.log_archive_list()


class ArchiveDetailView(generics.RetrieveAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = LogArchiveSerializer

    def get_queryset(self):
        return selectors.log_archive_list()


class ArchiveRestoreView(APIView):
    """POST logs/archives/{id}/restore: bring an archive's lines back for an
    investigation, in the background (restoring twice adds nothing)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={202: LogArchiveSerializer})
    def post(self, request: Request, pk: int) -> Response:
        archive = get_object_or_404(selectors.log_archive_list(), pk=pk)
        if archive.status != LogArchive.Status.COMPLETE:
            raise Conflict("Only a complete archive can be restored.")
        transaction.on_commit(lambda: tasks.log_archive_restore_task.delay(archive.pk))
        return Response(LogArchiveSerializer(archive).data, status=status.HTTP_202_ACCEPTED)
