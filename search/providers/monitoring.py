"""System logs, alerts and alert rules: staff only."""

from search.providers import Provider, register


def _text(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part)


register(
    Provider(
        type="alert-rules",
        model_label="monitoring.AlertRule",
        title=lambda rule: rule.name,
        body=lambda rule: _text(rule.description, rule.metric, rule.severity),
        url=lambda rule: f"/api/v1/alerts/rules/{rule.pk}/",
        owner_id=lambda rule: None,
        staff_only=True,
    )
)

register(
    Provider(
        type="alerts",
        model_label="monitoring.Alert",
        title=lambda alert: alert.message or alert.rule.name,
        body=lambda alert: _text(alert.rule.name, alert.severity, alert.status),
        url=lambda alert: f"/api/v1/alerts/{alert.pk}/",
        owner_id=lambda alert: None,
        staff_only=True,
        prepare=lambda queryset: queryset.select_related("rule"),
    )
)

# Logs arrive through bulk_create and leave through a raw DELETE (archiving),
# neither of which sends signals, and connecting signals would slow both.
# They are indexed by the catch-up job instead (search.services.index_new,
# every minute), and a log archived away is dropped at read time.
register(
    Provider(
        type="logs",
        model_label="monitoring.SystemLog",
        title=lambda log: log.message.splitlines()[0] if log.message else f"{log.level} {log.source}",
        body=lambda log: _text(
            log.message, log.level, log.source, log.logger, log.exception_type, log.exception_message
        ),
        url=lambda log: (
            f"/api/v1/logs/correlation/{log.correlation_id}/"
            if log.correlation_id
            else f"/api/v1/logs/search?id={log.pk}"
        ),
        owner_id=lambda log: None,
        staff_only=True,
        signals=False,
    )
)
