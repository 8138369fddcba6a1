"""Stand-ins for the files, logs, alerts and alert-rules models, which are
being built on other branches: unmanaged models over the bench_* tables,
registered as search providers exactly as their real modules will be."""

from __future__ import annotations

from django.db import models

from search.providers import Provider, register


def _model(name: str, table: str, title: str, body: str) -> type[models.Model]:
    attrs = {
        "__module__": __name__,
        "owner_id": models.IntegerField(null=True),
        title: models.TextField(),
        body: models.TextField(),
        "Meta": type("Meta", (), {"app_label": "search", "managed": False, "db_table": table}),
    }
    return type(name, (models.Model,), attrs)


SPECS = {
    # type: (model name, table, title column, body column, staff only)
    "files": ("BenchFile", "bench_file", "filename", "description", False),
    "logs": ("BenchLog", "bench_log", "source", "message", True),
    "alerts": ("BenchAlert", "bench_alert", "title", "message", True),
    "alert-rules": ("BenchAlertRule", "bench_alert_rule", "name", "description", True),
}


def install() -> None:
    for type_name, (name, table, title, body, staff_only) in SPECS.items():
        _model(name, table, title, body)
        register(
            Provider(
                type=type_name,
                model_label=f"search.{name}",
                title=lambda obj, title=title: getattr(obj, title),
                body=lambda obj, body=body: getattr(obj, body),
                url=lambda obj, type_name=type_name: f"/api/v1/{type_name}/{obj.pk}/",
                staff_only=staff_only,
            )
        )
