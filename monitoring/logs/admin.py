"""Admin of the logs half: a read-only console over a very large SystemLog
table, and the archives with a restore action."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from monitoring.logs import conf, selectors, tasks
from monitoring.logs.fields import REQUEST_FIELDS
from monitoring.models import LogArchive, LogLevel, SystemLog


class EstimatedCountPaginator(Paginator):
    """An unfiltered changelist of millions of rows would COUNT(*) them on
    every page; PostgreSQL's planner estimate is good enough there."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if connection.vendor == "postgresql" and query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [SystemLog._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > 10_000:
                return int(row[0])
        return super().count


class SourceFilter(admin.SimpleListFilter):
    """The sources seen in the last week (a DISTINCT over the whole table would be slow)."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        recent = SystemLog.objects.filter(timestamp__gte=timezone.now() - timedelta(days=7))
        sources = recent.order_by("source").values_list("source", flat=True).distinct()[:50]
        return [(source, source) for source in sources]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(source=self.value()) if self.value() else queryset


class HasExceptionFilter(admin.SimpleListFilter):
    title = "exception"
    parameter_name = "has_exception"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "With exception"), ("no", "Without")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(exception_type="", stack_trace="")
        if self.value() == "no":
            return queryset.filter(exception_type="", stack_trace="")
        return queryset


_LEVEL_COLOURS = {
    LogLevel.DEBUG: "#888",
    LogLevel.INFO: "#2a6ebb",
    LogLevel.WARNING: "#b8860b",
    LogLevel.ERROR: "#c0392b",
    LogLevel.CRITICAL: "#8e0000",
}


def chain_url(correlation_id: str) -> str:
    # o=0: ordered by the first column (time), ascending: the chain in order.
    query = urlencode({"correlation_id": correlation_id, "o": "0"})
    return f"{reverse('admin:monitoring_systemlog_changelist')}?{query}"


@admin.register(SystemLog)
class SystemLogAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "level_badge", "source", "short_message", "chain", "http_status", "duration_ms"]
    list_display_links = ["timestamp", "short_message"]
    list_filter = ["level", SourceFilter, ("timestamp", admin.DateFieldListFilter), HasExceptionFilter]
    search_fields = ["message"]
    ordering = ["-timestamp", "-id"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = None  # read-only; also keeps column 0 the time for chain_url's ordering
    list_per_page = 100
    readonly_fields = [
        "timestamp",
        "level",
        "source",
        "logger",
        "message",
        "chain",
        *REQUEST_FIELDS,
        "user_id",
        "exception_type",
        "exception_message",
        "readable_stack_trace",
        "context",
        "restored_from",
    ]
    fieldsets = [
        (None, {"fields": ["timestamp", "level", "source", "logger", "message", "chain", "request_id"]}),
        ("Request", {"fields": ["http_method", "http_path", "http_status", "duration_ms", "client_ip", "user_id"]}),
        ("Exception", {"fields": ["exception_type", "exception_message", "readable_stack_trace"]}),
        ("More", {"fields": ["trace_id", "span_id", "memory_bytes", "context", "restored_from"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SystemLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SystemLog | None = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Full text (the indexed search) on PostgreSQL; a correlation ID also matches."""
        search_term = search_term.strip().replace("\x00", "")
        if not search_term:
            return queryset, False
        matches = selectors.log_search(selectors.LogSearch(query=search_term))
        by_correlation = queryset.filter(correlation_id=search_term[:128])
        return queryset.filter(pk__in=matches.values("pk")) | by_correlation, False

    @admin.display(description="level", ordering="level")
    def level_badge(self, obj: SystemLog) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>', _LEVEL_COLOURS.get(obj.level, "#000"), obj.level.upper()
        )

    @admin.display(description="message")
    def short_message(self, obj: SystemLog) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:120] + "…"

    @admin.display(description="correlation ID")
    def chain(self, obj: SystemLog) -> str:
        if not obj.correlation_id:
            return "—"
        return format_html(
            '<a href="{}" title="The whole chain, in order">{}</a>', chain_url(obj.correlation_id), obj.correlation_id
        )

    @admin.display(description="stack trace")
    def readable_stack_trace(self, obj: SystemLog) -> str:
        if not obj.stack_trace:
            return "—"
        return format_html(
            '<pre style="white-space:pre-wrap;font-size:12px;max-height:40em;overflow:auto">{}</pre>', obj.stack_trace
        )


@admin.register(LogArchive)
class LogArchiveAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "start_time",
        "end_time",
        "entry_count",
        "original",
        "compressed",
        "expires_at",
        "restored_count",
    ]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    actions = ["restore"]
    readonly_fields = [field.name for field in LogArchive._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LogArchive | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LogArchive | None = None) -> bool:
        # Retention deletes archives (file and record together): see cleanup.
        return False

    @admin.display(description="original size", ordering="original_size")
    def original(self, obj: LogArchive) -> str:
        return filesizeformat(obj.original_size)

    @admin.display(description="compressed", ordering="compressed_size")
    def compressed(self, obj: LogArchive) -> str:
        return filesizeformat(obj.compressed_size)

    def get_urls(self):
        archive_now = path(
            "archive-now/",
            self.admin_site.admin_view(self.archive_now_view),
            name="monitoring_logarchive_archive_now",
        )
        return [archive_now, *super().get_urls()]

    def archive_now_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """The "Archive now" button: the same background job as the nightly
        beat run and POST logs/archive, for lines older than N days."""
        if request.method != "POST" or not request.user.has_perm("monitoring.add_logarchive"):
            raise PermissionDenied
        try:
            days = int(request.POST.get("older_than_days", conf.ARCHIVE_AFTER_DAYS))
        except ValueError:
            days = -1
        if not 0 <= days <= 36500:
            self.message_user(request, "Give the age in whole days, 0 or more.", messages.ERROR)
        else:
            cutoff = timezone.now() - timedelta(days=days)
            transaction.on_commit(lambda: tasks.log_archive_task.delay(cutoff.isoformat()))
            self.message_user(
                request, f"Archiving log lines older than {days} day(s) in the background.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:monitoring_logarchive_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "can_archive_now": request.user.has_perm("monitoring.add_logarchive"),
            "archive_after_days": conf.ARCHIVE_AFTER_DAYS,
        }
        return super().changelist_view(request, extra_context)

    @admin.action(description="Restore the selected archives into the log (for an investigation)")
    def restore(self, request: HttpRequest, queryset: QuerySet[LogArchive]) -> None:
        ids = list(queryset.filter(status=LogArchive.Status.COMPLETE).values_list("pk", flat=True))
        for archive_id in ids:
            transaction.on_commit(lambda archive_id=archive_id: tasks.log_archive_restore_task.delay(archive_id))
        self.message_user(request, f"Restoring {len(ids)} archive(s) in the background.", messages.SUCCESS)
