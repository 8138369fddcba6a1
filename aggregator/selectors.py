"""Reads of the core entities, scoped to what the caller may see."""

from django.db.models import Model, QuerySet

from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction


def visible_to(model: type[Model], *, user) -> QuerySet:
    """Everything of `model` the user may see: their own, or all for staff."""
    queryset = model.objects.all()
    if getattr(user, "is_staff", False):
        return queryset
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(owner=user)


def pipeline_list_for(*, user) -> QuerySet[Pipeline]:
    return visible_to(Pipeline, user=user).select_related("owner", "template").prefetch_related("connectors")


def connector_list_for(*, user) -> QuerySet[Connector]:
    return visible_to(Connector, user=user).select_related("owner")


def transformation_list_for(*, user) -> QuerySet[Transformation]:
    return visible_to(Transformation, user=user).select_related("owner", "pipeline", "function")


def template_list_for(*, user) -> QuerySet[PipelineTemplate]:
    return visible_to(PipelineTemplate, user=user).select_related("owner")


def function_list_for(*, user) -> QuerySet[TransformationFunction]:
    return visible_to(TransformationFunction, user=user).select_related("owner")
