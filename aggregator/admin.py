"""Admin of the core entities: what an operator needs at a glance (status
badges, owners, how much hangs off each entity) with links across the graph,
and one query per list page (joins and annotations, never a query per row).

Links to other apps' lists (a pipeline's files) are plain admin URLs, so the
core still imports none of them; without that app the link is plain text.
"""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from aggregator.console.display import badge, change_link, changelist_link
from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction
from aggregator.services import entity_update


class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_link", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["owner"]
    ordering = ["-created_at"]
    list_per_page = 50

    @admin.display(description="owner", ordering="owner__username")
    def owner_link(self, obj) -> str:
        return change_link(obj.owner, obj.owner.username)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj) -> str:
        return badge(obj.status)


@admin.register(Pipeline)
class PipelineAdmin(EntityAdmin):
    list_display = [
        "name",
        "owner_link",
        "status_badge",
        "template_link",
        "schedule",
        "steps",
        "connector_count",
        "files",
        "updated_at",
    ]
    list_filter = ["status", "template", "created_at"]
    list_select_related = ["owner", "template"]
    filter_horizontal = ["connectors"]
    autocomplete_fields = ["owner", "template"]
    actions = ["activate", "pause"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Pipeline]:
        # distinct: two joined to-many relations would multiply each other.
        return (
            super()
            .get_queryset(request)
            .annotate(
                transformation_count=Count("transformations", distinct=True),
                connectors_count=Count("connectors", distinct=True),
            )
        )

    @admin.display(description="template", ordering="template__name")
    def template_link(self, obj: Pipeline) -> str:
        return change_link(obj.template)

    @admin.display(description="steps", ordering="transformation_count")
    def steps(self, obj: Pipeline) -> str:
        return changelist_link("aggregator.transformation", obj.transformation_count, pipeline__id__exact=obj.pk)

    @admin.display(description="connectors", ordering="connectors_count")
    def connector_count(self, obj: Pipeline) -> int:
        return obj.connectors_count

    @admin.display(description="files")
    def files(self, obj: Pipeline) -> str:
        return changelist_link("files.fileupload", "files", pipeline__id__exact=obj.pk)

    @admin.action(description="Activate selected pipelines", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Pipeline]) -> None:
        self._set_status(request, queryset, Pipeline.Status.ACTIVE)

    @admin.action(description="Pause selected pipelines", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Pipeline]) -> None:
        self._set_status(request, queryset, Pipeline.Status.PAUSED)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Pipeline], status: str) -> None:
        changed = 0
        for pipeline in queryset.select_related(None).filter(status__in=self._from_statuses(status)):
            entity_update(instance=pipeline, data={"status": status})
            changed += 1
        self.message_user(request, f"{changed} pipeline(s) now {status}.")

    @staticmethod
    def _from_statuses(status: str) -> list[str]:
        # Archived pipelines stay archived; re-activating one is an edit.
        return [value for value in Pipeline.Status.values if value not in (status, Pipeline.Status.ARCHIVED)]


@admin.register(Connector)
class ConnectorAdmin(EntityAdmin):
    list_display = ["name", "owner_link", "kind", "status_badge", "used_by", "updated_at"]
    list_filter = ["kind", "status", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connector]:
        return super().get_queryset(request).annotate(pipeline_count=Count("pipelines"))

    @admin.display(description="pipelines", ordering="pipeline_count")
    def used_by(self, obj: Connector) -> str:
        return changelist_link("aggregator.pipeline", obj.pipeline_count, connectors__id__exact=obj.pk)


@admin.register(Transformation)
class TransformationAdmin(EntityAdmin):
    list_display = ["name", "pipeline_link", "position", "kind", "function_link", "is_active", "owner_link"]
    list_filter = ["kind", "is_active", "created_at"]
    list_select_related = ["owner", "pipeline", "function"]
    autocomplete_fields = ["owner", "pipeline", "function"]
    ordering = ["pipeline__name", "position", "id"]
    search_fields = ["name", "description", "owner__username", "pipeline__name"]

    @admin.display(description="pipeline", ordering="pipeline__name")
    def pipeline_link(self, obj: Transformation) -> str:
        return change_link(obj.pipeline)

    @admin.display(description="function", ordering="function__name")
    def function_link(self, obj: Transformation) -> str:
        return change_link(obj.function)


@admin.register(PipelineTemplate)
class PipelineTemplateAdmin(EntityAdmin):
    list_display = ["name", "owner_link", "category", "used_by", "updated_at"]
    list_filter = ["category", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PipelineTemplate]:
        return super().get_queryset(request).annotate(pipeline_count=Count("pipelines"))

    @admin.display(description="pipelines", ordering="pipeline_count")
    def used_by(self, obj: PipelineTemplate) -> str:
        return changelist_link("aggregator.pipeline", obj.pipeline_count, template__id__exact=obj.pk)


@admin.register(TransformationFunction)
class TransformationFunctionAdmin(EntityAdmin):
    list_display = ["name", "owner_link", "language", "version", "used_by", "updated_at"]
    list_filter = ["language", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransformationFunction]:
        return super().get_queryset(request).annotate(transformation_count=Count("transformations"))

    @admin.display(description="used in", ordering="transformation_count")
    def used_by(self, obj: TransformationFunction) -> str:
        return changelist_link("aggregator.transformation", obj.transformation_count, function__id__exact=obj.pk)
