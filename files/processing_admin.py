"""Admin for processing jobs, conversions and previews, and the operators'
upload page (drag and drop, tus, live status)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from files.models import FileConversion, FilePreview, FileProcessingJob, UploadPage

_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@admin.register(UploadPage)
class UploadPageAdmin(admin.ModelAdmin):
    """Its changelist is the upload page; it lists and changes nothing."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload files",
            "opts": self.model._meta,
            "tus_url": reverse("files:tus-create"),
            "files_api": reverse("files:file-list").rstrip("/?") + "/",
            "admin_change": reverse("admin:files_fileupload_change", args=[_PLACEHOLDER]),
        }
        return TemplateResponse(request, "admin/files/upload.html", context)


@admin.register(FileProcessingJob)
class FileProcessingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress_display", "file", "output_file", "owner", "created_at"]
    list_filter = ["status", "kind", "created_at"]
    list_select_related = ["file", "output_file", "owner"]
    search_fields = ["id", "file__filename", "error"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [field.name for field in FileProcessingJob._meta.fields] + ["duration_seconds"]

    @admin.display(description="progress")
    def progress_display(self, job: FileProcessingJob) -> str:
        return format_html("<progress max='100' value='{}'></progress> {}%", job.progress, job.progress)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FileConversion)
class FileConversionAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "target_format", "job", "owner", "created_at"]
    list_filter = ["target_format", "created_at"]
    list_select_related = ["source", "job", "owner"]
    search_fields = ["id", "source__filename"]
    show_full_result_count = False
    readonly_fields = [field.name for field in FileConversion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FilePreview)
class FilePreviewAdmin(admin.ModelAdmin):
    list_display = ["file", "kind", "error", "generated_at"]
    list_filter = ["kind"]
    list_select_related = ["file"]
    search_fields = ["file__filename"]
    readonly_fields = ["file", "kind", "data", "thumbnail_content_type", "error", "generated_at"]
    exclude = ["thumbnail"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
