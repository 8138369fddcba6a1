"""`{% console_dashboard %}`: the operator dashboard, drawn on the admin index."""

from django import template

from aggregator.console.views import dashboard_context

register = template.Library()


@register.inclusion_tag("admin/console/dashboard.html", takes_context=True)
def console_dashboard(context: template.Context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    # The admin index is staff-only already; this keeps the tag safe anywhere else.
    if not (user and user.is_active and user.is_staff):
        return {"visible": False}
    return {"visible": True, **dashboard_context()}
