"""The operator page: every component at a glance, in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from health import conf, runner
from health.checks import CHECKS
from health.models import ComponentHealth


def _display(value, unit: str | None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "bytes" and isinstance(value, int | float):
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024 or suffix == "TiB":
                return f"{value:.1f} {suffix}" if suffix != "B" else f"{value} B"
            value /= 1024
    if value is None:
        return "—"
    return f"{value} {unit}" if unit else str(value)


@admin.register(ComponentHealth)
class ComponentHealthAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        # The "changelist" of this table-less model is the health page.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.health_view), name=name)]

    def health_view(self, request: HttpRequest) -> TemplateResponse:
        results = runner.run_checks(CHECKS)
        components = [
            {
                "name": result.name,
                "status": result.status.value,
                "duration_ms": result.duration_ms,
                "output": result.output,
                "time": result.time,
                "observations": [
                    {
                        "measurement": item.measurement,
                        "component_id": item.component_id,
                        "status": item.status.value,
                        "value": _display(item.value, item.unit),
                        "output": item.output,
                    }
                    for item in result.observations
                ],
            }
            for result in results
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Component health",
            "opts": self.opts,
            "overall": runner.overall(results).value,
            "components": components,
            "refresh_seconds": conf.ADMIN_REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/health/component_health.html", context)
