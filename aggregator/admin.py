from django.contrib import admin

from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction


class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["owner"]
    ordering = ["-created_at"]


@admin.register(Pipeline)
class PipelineAdmin(EntityAdmin):
    list_display = ["name", "owner", "status", "template", "schedule", "created_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["owner", "template"]
    filter_horizontal = ["connectors"]


@admin.register(Connector)
class ConnectorAdmin(EntityAdmin):
    list_display = ["name", "owner", "kind", "status", "created_at"]
    list_filter = ["kind", "status", "created_at"]


@admin.register(Transformation)
class TransformationAdmin(EntityAdmin):
    list_display = ["name", "pipeline", "kind", "position", "is_active", "owner"]
    list_filter = ["kind", "is_active", "created_at"]
    list_select_related = ["owner", "pipeline"]
    autocomplete_fields = ["owner", "pipeline", "function"]


@admin.register(PipelineTemplate)
class PipelineTemplateAdmin(EntityAdmin):
    list_display = ["name", "owner", "category", "created_at"]
    list_filter = ["category", "created_at"]


@admin.register(TransformationFunction)
class TransformationFunctionAdmin(EntityAdmin):
    list_display = ["name", "owner", "language", "version", "created_at"]
    list_filter = ["language", "created_at"]
