"""The operator console for uploads: find, inspect, re-validate, delete."""

import json

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from aggregator.console.display import changelist_link
from aggregator.exceptions import DomainError
from files import services
from files.models import FileStatus, FileUpload, StoredBlob


@admin.register(FileUpload)
class FileUploadAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "owner",
        "status",
        "file_type",
        "readable_size",
        "progress_bar",
        "scan_status",
        "created_at",
        "related",
    ]
    list_filter = ["status", "file_type", "scan_status", ("owner", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["filename", "sha256", "=id"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    show_full_result_count = False
    actions = ["revalidate", "rescan", "delete_files"]
    readonly_fields = [
        "id",
        "owner",
        "pipeline",
        "source",
        "filename",
        "readable_size",
        "offset",
        "progress",
        "sha256",
        "status",
        "file_type",
        "mime_type",
        "declared_mime_type",
        "metadata",
        "blob",
        "scan_status",
        "scan_result",
        "failure_reason",
        "report",
        "related",
        "expires_at",
        "validation_started_at",
        "completed_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["validation_report", "temp_path", "hash_state", "size"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("hash_state")

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting rows would orphan bytes; use "delete files"
        return actions

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="size", ordering="size")
    def readable_size(self, obj: FileUpload) -> str:
        return filesizeformat(obj.size)

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, obj: FileUpload) -> str:
        return format_html('<progress max="100" value="{}"></progress> {}%', obj.progress, obj.progress)

    @admin.display(description="related")
    def related(self, obj: FileUpload) -> str:
        # Links only (no queries): the console's cross-links from a file.
        return format_html(
            "{} · {} · {}",
            changelist_link("files.fileprocessingjob", "jobs", file__id__exact=obj.pk),
            changelist_link("files.fileconversion", "conversions", source__id__exact=obj.pk),
            changelist_link("files.fileupload", "derived", source__id__exact=obj.pk),
        )

    @admin.display(description="validation report")
    def report(self, obj: FileUpload) -> str:
        checks = obj.validation_report.get("checks", []) if obj.validation_report else []
        if not checks:
            return "—"
        rows = format_html(
            "".join(["<tr><td>{}</td><td>{}</td><td>{}</td></tr>"] * len(checks)),
            *[
                value
                for check in checks
                for value in (
                    check.get("name"),
                    {True: "passed", False: "FAILED", None: "skipped"}[check.get("passed")],
                    check.get("detail")
                    or json.dumps({k: v for k, v in check.items() if k not in ("name", "passed", "detail")}),
                )
            ],
        )
        return format_html("<table><tr><th>check</th><th>result</th><th>detail</th></tr>{}</table>", rows)

    @admin.action(description="Re-validate and scan")
    def revalidate(self, request, queryset):
        done = 0
        for upload in queryset.exclude(status__in=[FileStatus.UPLOADING, FileStatus.DELETED]):
            try:
                services.file_upload_revalidate(upload=upload)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{upload}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"Queued {done} file(s) for validation.")

    @admin.action(description="Re-scan with ClamAV")
    def rescan(self, request, queryset):
        # Guarded by the console's action policy (change permission), like
        # every action here that declares none.
        done = 0
        for upload in queryset:
            try:
                services.file_upload_rescan(upload=upload, requested_by=str(request.user))
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{upload}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"Queued {done} file(s) for a virus scan.")

    @admin.action(description="Delete files (and their bytes)")
    def delete_files(self, request, queryset):
        count = 0
        for upload in queryset.exclude(status=FileStatus.DELETED):
            services.file_upload_delete(upload=upload, reason=f"Deleted by {request.user} in the admin.")
            count += 1
        self.message_user(request, f"Deleted {count} file(s).")


@admin.register(StoredBlob)
class StoredBlobAdmin(admin.ModelAdmin):
    list_display = ["sha256", "owner", "readable_size", "quarantined", "created_at"]
    list_filter = ["quarantined"]
    search_fields = ["sha256"]
    list_select_related = ["owner"]
    readonly_fields = ["owner", "sha256", "size", "storage_name", "quarantined", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="size", ordering="size")
    def readable_size(self, obj: StoredBlob) -> str:
        return filesizeformat(obj.size)


from files import processing_admin  # noqa: E402, F401  (processing admin and the operators' upload page)
