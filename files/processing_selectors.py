"""Reads for previews, conversions and jobs, scoped to what the caller may see."""

from django.db.models import QuerySet

from aggregator.exceptions import NotFound
from aggregator.selectors import visible_to
from files.models import FileConversion, FileProcessingJob, FileStatus, FileUpload


def file_get_for(*, user, file_id) -> FileUpload:
    """A live file the user may see, or 404 (also for another user's file)."""
    try:
        return (
            visible_to(FileUpload, user=user)
            .exclude(status=FileStatus.DELETED)
            .select_related("blob", "pipeline", "owner")
            .get(pk=file_id)
        )
    except (FileUpload.DoesNotExist, ValueError):
        raise NotFound("No such file.") from None


def job_list_for(*, user) -> QuerySet[FileProcessingJob]:
    return visible_to(FileProcessingJob, user=user).select_related("conversion")


def conversion_list_for(*, user, source: FileUpload) -> QuerySet[FileConversion]:
    return visible_to(FileConversion, user=user).filter(source=source).select_related("job")
