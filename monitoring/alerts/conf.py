"""Tunables of the alerts half, read from the environment once.

Tests override them with monkeypatch (`monkeypatch.setattr(conf, "X", v)`),
so code reads `conf.X` at call time rather than importing the value.
"""

from aggregator.env import env_float, env_int, env_list, env_str

# Beat: how often every active rule is evaluated, escalations are checked,
# and resolved alerts past retention are closed.
EVALUATION_INTERVAL_SECONDS = env_int("ALERT_EVALUATION_INTERVAL_SECONDS", 60, minimum=1)
ESCALATION_INTERVAL_SECONDS = env_int("ALERT_ESCALATION_INTERVAL_SECONDS", 30, minimum=1)
CLOSE_INTERVAL_SECONDS = env_int("ALERT_CLOSE_INTERVAL_SECONDS", 3600, minimum=1)
CLOSE_RESOLVED_AFTER_SECONDS = env_int("ALERT_CLOSE_RESOLVED_AFTER_SECONDS", 7 * 24 * 3600, minimum=0)

# Notifications: retries with exponential backoff (base * 2**n, jittered,
# capped), the HTTP timeout, and how many failed deliveries in a row flag a
# channel.
NOTIFY_MAX_RETRIES = env_int("ALERT_NOTIFY_MAX_RETRIES", 5, minimum=0)
NOTIFY_BACKOFF_SECONDS = env_int("ALERT_NOTIFY_BACKOFF_SECONDS", 5, minimum=1)
NOTIFY_BACKOFF_MAX_SECONDS = env_int("ALERT_NOTIFY_BACKOFF_MAX_SECONDS", 3600, minimum=1)
NOTIFY_TIMEOUT_SECONDS = env_float("ALERT_NOTIFY_TIMEOUT_SECONDS", 10.0)
CHANNEL_FAILURE_THRESHOLD = env_int("ALERT_CHANNEL_FAILURE_THRESHOLD", 5, minimum=1)

# Webhook and Slack targets on private, loopback or link-local addresses are
# refused (SSRF) unless their network is listed here, e.g. "10.0.0.0/8,127.0.0.1/32".
WEBHOOK_ALLOWED_NETWORKS = env_list("ALERT_WEBHOOK_ALLOWED_NETWORKS", [])

EMAIL_FROM = env_str("ALERT_EMAIL_FROM", "")  # empty: Django's DEFAULT_FROM_EMAIL
# Where links in notifications point (the admin change page of the alert).
BASE_URL = env_str("ALERT_BASE_URL", "")

# psutil samples the CPU over this long for the cpu_percent metric.
CPU_SAMPLE_SECONDS = env_float("ALERT_CPU_SAMPLE_SECONDS", 0.2)
