"""The platform's core entities, which the other apps refer to.

Each belongs to a user; users see their own and staff see all (see
aggregator.selectors). None of them imports another app.
"""

from django.conf import settings
from django.db import models


class OwnedEntity(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PipelineTemplate(OwnedEntity):
    category = models.CharField(max_length=100, blank=True)

    class Meta(OwnedEntity.Meta):
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="uniq_template_owner_name")]


class TransformationFunction(OwnedEntity):
    class Language(models.TextChoices):
        PYTHON = "python"
        SQL = "sql"
        JSONATA = "jsonata"

    language = models.CharField(max_length=20, choices=Language.choices, default=Language.PYTHON)
    code = models.TextField(blank=True)
    input_schema = models.JSONField(default=dict, blank=True)
    output_schema = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta(OwnedEntity.Meta):
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="uniq_function_owner_name")]


class Connector(OwnedEntity):
    class Kind(models.TextChoices):
        POSTGRES = "postgres"
        MYSQL = "mysql"
        S3 = "s3"
        HTTP = "http"
        SFTP = "sftp"
        KAFKA = "kafka"
        FILE = "file"

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"
        ERROR = "error"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)

    class Meta(OwnedEntity.Meta):
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="uniq_connector_owner_name")]


class Pipeline(OwnedEntity):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        FAILED = "failed"
        ARCHIVED = "archived"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron expression; empty for manual runs.")
    template = models.ForeignKey(
        PipelineTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="pipelines"
    )
    connectors = models.ManyToManyField(Connector, blank=True, related_name="pipelines")

    class Meta(OwnedEntity.Meta):
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="uniq_pipeline_owner_name")]


class Transformation(OwnedEntity):
    class Kind(models.TextChoices):
        MAP = "map"
        FILTER = "filter"
        AGGREGATE = "aggregate"
        JOIN = "join"
        CUSTOM = "custom"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="transformations")
    function = models.ForeignKey(
        TransformationFunction, null=True, blank=True, on_delete=models.SET_NULL, related_name="transformations"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MAP)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta(OwnedEntity.Meta):
        ordering = ["pipeline_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_transformation_pipeline_name")]
