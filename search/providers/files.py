"""Uploaded files: owner-scoped; a deleted file (status "deleted") is not found."""

from search.providers import Provider, register


def _body(upload) -> str:
    return " ".join(part for part in (upload.file_type, upload.mime_type, upload.status, upload.failure_reason) if part)


register(
    Provider(
        type="files",
        model_label="files.FileUpload",
        title=lambda upload: upload.filename,
        body=_body,
        url=lambda upload: f"/api/v1/files/{upload.pk}/",
        indexable=lambda upload: upload.status != "deleted",
    )
)
