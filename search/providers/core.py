"""The five core entities and users."""

from django.conf import settings

from search.providers import Provider, register


def _text(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part)


def _core(type_name: str, model: str, route: str, body, prepare=lambda queryset: queryset) -> Provider:
    return register(
        Provider(
            type=type_name,
            model_label=f"aggregator.{model}",
            title=lambda obj: obj.name,
            body=body,
            url=lambda obj: f"/api/v1/{route}/{obj.pk}/",
            prepare=prepare,
        )
    )


_core("pipelines", "Pipeline", "pipelines", lambda p: _text(p.description, p.status, p.schedule))
_core("connectors", "Connector", "connectors", lambda c: _text(c.description, c.kind, c.status))
_core(
    "transformations",
    "Transformation",
    "transformations",
    lambda t: _text(t.description, t.kind, t.pipeline.name),
    prepare=lambda queryset: queryset.select_related("pipeline"),
)
_core("templates", "PipelineTemplate", "pipeline-templates", lambda t: _text(t.description, t.category))
_core(
    "functions",
    "TransformationFunction",
    "transformation-functions",
    lambda f: _text(f.description, f.language, f.code),
)

# A user is "owned" by themselves: people find their own account, staff find everyone.
register(
    Provider(
        type="users",
        model_label=settings.AUTH_USER_MODEL,
        title=lambda user: user.get_username(),
        body=lambda user: _text(user.get_full_name(), user.email),
        url=lambda user: f"/admin/auth/user/{user.pk}/change/",
        owner_id=lambda user: user.pk,
        indexable=lambda user: user.is_active,
    )
)
