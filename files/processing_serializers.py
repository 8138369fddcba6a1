from rest_framework import serializers

from aggregator.api import StrictFieldsMixin
from files.conversions import TARGETS
from files.models import FileConversion, FileProcessingJob
from files.previews import conf as preview_conf


class ConversionRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    target_format = serializers.ChoiceField(choices=TARGETS)
    sheet = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class ConversionSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)
    status = serializers.CharField(source="job.status", read_only=True)
    progress = serializers.IntegerField(source="job.progress", read_only=True)
    output_file = serializers.UUIDField(source="job.output_file_id", read_only=True, allow_null=True)
    error = serializers.CharField(source="job.error", read_only=True)

    class Meta:
        model = FileConversion
        fields = [
            "id",
            "job",
            "status",
            "target_format",
            "sheet",
            "source",
            "progress",
            "output_file",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    conversion = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = FileProcessingJob
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "result",
            "error",
            "file",
            "output_file",
            "conversion",
            "parameters",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_conversion(self, job: FileProcessingJob) -> str | None:
        conversion = getattr(job, "conversion", None)
        return str(conversion.pk) if conversion else None


class PreviewQuerySerializer(serializers.Serializer):
    rows = serializers.IntegerField(required=False, min_value=0, max_value=preview_conf.MAX_ROWS)
    columns = serializers.IntegerField(required=False, min_value=1, max_value=preview_conf.MAX_COLUMNS)
    sheet = serializers.CharField(required=False, max_length=255)
    refresh = serializers.BooleanField(required=False, default=False)
    # An image preview is served as the thumbnail itself; ?meta=1 gives its JSON.
    meta = serializers.BooleanField(required=False, default=False)
