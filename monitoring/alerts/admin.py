"""The operator console for alerts: thin, every action calls a service and
is audited with the operator's name."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from aggregator.exceptions import DomainError
from monitoring.alerts import services
from monitoring.alerts.services.config import rule_check
from monitoring.models import (
    Alert,
    AlertAction,
    AlertEscalationLevel,
    AlertEscalationPolicy,
    AlertRule,
    AlertSilence,
    NotificationAttempt,
    NotificationChannel,
)

SEVERITY_COLOURS = {"low": "#4a90d9", "medium": "#e6a700", "high": "#e8590c", "critical": "#c92a2a"}
STATUS_COLOURS = {"active": "#c92a2a", "acknowledged": "#e6a700", "resolved": "#2b8a3e", "closed": "#868e96"}


def badge(text: str, colour: str):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-weight:600">{}</span>',
        colour,
        text,
    )


class AlertActionInline(admin.TabularInline):
    model = AlertAction
    fields = ["created_at", "action", "actor", "source", "old_status", "new_status", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    fields = ["created_at", "channel", "event", "attempt", "status", "response_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _each(modeladmin, request, queryset, verb: str, call) -> None:
    done, refused = 0, []
    for obj in queryset:
        try:
            call(obj)
            done += 1
        except DomainError as exc:
            refused.append(f"#{obj.pk}: {exc.detail}")
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)
    for line in refused[:20]:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "rule",
        "severity_badge",
        "status_badge",
        "triggered_at",
        "last_seen_at",
        "occurrence_count",
        "escalation_level",
        "acknowledged_by",
        "silenced",
    ]
    list_filter = ["status", "severity", "silenced", "resolved_automatically", "triggered_at"]
    list_select_related = ["rule", "acknowledged_by"]
    search_fields = ["rule__name", "message", "fingerprint"]
    date_hierarchy = "triggered_at"
    ordering = ["-triggered_at"]
    show_full_result_count = False
    actions = ["acknowledge", "resolve", "escalate"]
    inlines = [AlertActionInline, NotificationAttemptInline]
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # Alerts come from rules, never by hand.

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, obj: Alert):
        return badge(obj.get_severity_display(), SEVERITY_COLOURS.get(obj.severity, "#555"))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Alert):
        return badge(obj.get_status_display(), STATUS_COLOURS.get(obj.status, "#555"))

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Acknowledged",
            lambda alert: services.alert_acknowledge(alert=alert, actor=request.user, source="admin"),
        )

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Resolved",
            lambda alert: services.alert_resolve(alert=alert, actor=request.user, source="admin"),
        )

    @admin.action(description="Escalate selected alerts to their next level")
    def escalate(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            "Escalated",
            lambda alert: services.alert_escalate(alert=alert, actor=request.user, source="admin"),
        )


class AlertRuleForm(forms.ModelForm):
    """The same checks as the API: a known metric, its params, a threshold
    that means something."""

    class Meta:
        model = AlertRule
        fields = list(AlertRule.EDITABLE_FIELDS)

    def clean(self):
        data = super().clean()
        probe = AlertRule(
            metric=data.get("metric") or "",
            metric_params=data.get("metric_params") or {},
            threshold=data.get("threshold") if data.get("threshold") is not None else 0,
            window_seconds=data.get("window_seconds") or 1,
            labels=data.get("labels") or {},
        )
        try:
            rule_check(probe)
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from None
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "metric", "comparison", "threshold", "severity", "is_active", "state", "last_evaluated_at"]
    list_filter = ["is_active", "severity", "metric", "state"]
    search_fields = ["name", "description"]
    filter_horizontal = ["channels"]
    readonly_fields = AlertRule.EVALUATION_FIELDS
    actions = ["enable", "disable", "evaluate_now"]
    form = AlertRuleForm

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected rules")
    def enable(self, request, queryset):
        _each(self, request, queryset, "Enabled", lambda rule: services.rule_set_active(rule=rule, active=True))

    @admin.action(description="Disable selected rules")
    def disable(self, request, queryset):
        _each(self, request, queryset, "Disabled", lambda rule: services.rule_set_active(rule=rule, active=False))

    @admin.action(description="Evaluate selected rules now")
    def evaluate_now(self, request, queryset):
        for rule in queryset:
            try:
                result = services.rule_evaluate(rule=rule)
            except DomainError as exc:
                self.message_user(request, f"{rule.name}: {exc.detail}", messages.WARNING)
                continue
            verdict = "firing" if result.fired else result.state
            self.message_user(request, f"{rule.name}: value {result.value} → {verdict}", messages.INFO)


class LevelInline(admin.TabularInline):
    model = AlertEscalationLevel
    fields = ["position", "delay_seconds", "channels"]
    filter_horizontal = ["channels"]
    extra = 1
    ordering = ["position"]


@admin.register(AlertEscalationPolicy)
class AlertEscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "repeat", "ack_timeout_seconds", "updated_at"]
    search_fields = ["name"]
    inlines = [LevelInline]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "flag", "consecutive_failures", "last_success_at", "last_failure_at", "last_error"]
    list_filter = ["kind", "disabled"]
    search_fields = ["name"]
    readonly_fields = ["consecutive_failures", "last_error", "last_success_at", "last_failure_at", "disabled_reason"]
    actions = ["test_send"]

    @admin.display(description="health", ordering="disabled")
    def flag(self, obj: NotificationChannel):
        if obj.disabled:
            return badge("Flagged", "#c92a2a")
        if obj.consecutive_failures:
            return badge("Failing", "#e6a700")
        return badge("OK", "#2b8a3e")

    @admin.action(description="Send a test notification (clears the flag on success)")
    def test_send(self, request, queryset):
        for channel in queryset:
            delivered, error = services.channel_test_send(channel=channel)
            level = messages.SUCCESS if delivered else messages.ERROR
            self.message_user(request, f"{channel.name}: {'delivered' if delivered else error}", level)


@admin.register(NotificationAttempt)
class NotificationAttemptAdmin(admin.ModelAdmin):
    list_display = ["created_at", "alert", "channel", "event", "attempt", "status", "response_code", "duration_ms"]
    list_filter = ["status", "event", "channel"]
    list_select_related = ["channel", "alert"]
    search_fields = ["delivery_id", "error"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [field.name for field in NotificationAttempt._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AlertSilence)
class AlertSilenceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rule", "matchers", "starts_at", "ends_at", "created_by"]
    list_filter = ["rule"]
    list_select_related = ["rule", "created_by"]
    readonly_fields = ["created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
