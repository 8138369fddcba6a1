"""Uploaded files: owner-scoped; a deleted file (status "deleted") is not found."""

import re

from search.providers import Provider, register

_SEPARATORS = re.compile(r"[\W_]+")


def _body(upload) -> str:
    # PostgreSQL's parser reads "q3-revenue.csv" as one file-name token;
    # the name split at its separators makes each word findable.
    words = _SEPARATORS.sub(" ", upload.filename)
    parts = (words, upload.file_type, upload.mime_type, upload.status, upload.failure_reason)
    return " ".join(part for part in parts if part)


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
