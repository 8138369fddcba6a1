from rest_framework import serializers

from aggregator.api import StrictFieldsMixin
from files.models import FileUpload


class FileUploadSerializer(serializers.ModelSerializer):
    """One file. A list page renders the same fields from column values
    (aggregator.api.ColumnRowsMixin), so every field here must be one column
    or a lookup across a relation."""

    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = FileUpload
        fields = [
            "id",
            "filename",
            "size",
            "offset",
            "sha256",
            "status",
            "file_type",
            "mime_type",
            "declared_mime_type",
            "progress",
            "owner",
            "pipeline",
            "source",
            "validation_report",
            "scan_status",
            "scan_result",
            "failure_reason",
            "expires_at",
            "completed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FileUploadCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Multipart POST files/: the file and an optional pipeline id."""

    file = serializers.FileField(allow_empty_file=True)
    pipeline = serializers.IntegerField(required=False, allow_null=True)
