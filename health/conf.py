"""Tunables of the health app, read from the environment once at import.

Tests override them with monkeypatch (`monkeypatch.setattr(conf, "X", ...)`),
which is why code reads them as `conf.X` at call time.
"""

from aggregator.env import env_bool, env_float, env_int, env_str

# Every check gets this long before it is reported as failed. A hung
# dependency must not hang the probe: `ready` has to answer well inside the
# 2 s an orchestrator typically allows.
CHECK_TIMEOUT = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 1.0)

# Results are reused for this long (per process), so that probes and scrapes
# from many clients cost at most one round of checks per interval. 0 = off.
CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 5.0)

# The metrics scrape answers with results up to this old while fresh ones
# are computed in the background (runner.run_checks(stale_ok=True)); older
# results are waited for. Prometheus scrapes every 15-60 s.
METRICS_MAX_STALE_SECONDS = env_float("HEALTH_METRICS_MAX_STALE_SECONDS", 60.0)

# Counts of pipelines, users, files and alerts scan big tables; they are
# reused for longer.
APPLICATION_CACHE_SECONDS = env_float("HEALTH_APPLICATION_CACHE_SECONDS", 30.0)

# When off (the default) a Redis outage leaves `ready` at 200: the cache is
# configured to degrade to "no cache" and the API keeps serving.
READY_REQUIRES_CACHE = env_bool("HEALTH_READY_REQUIRES_CACHE", False)

# Bearer token that may read `health/` details and `health/metrics`.
METRICS_TOKEN = env_str("METRICS_TOKEN")

CLAMAV_URL = env_str("CLAMAV_URL")

# Celery: how long `inspect ping` waits for replies, and how old the worker
# heartbeat (filesystem broker) may be before the workers count as gone.
# The heartbeat job runs every 30 s, so three missed beats.
CELERY_PING_TIMEOUT = env_float("HEALTH_CELERY_PING_TIMEOUT_SECONDS", 0.5)
HEARTBEAT_MAX_AGE = env_float("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", 90.0)

# Thresholds, in percent, at which a resource turns warn and fail.
CPU_WARN = env_float("HEALTH_CPU_WARN_PERCENT", 90.0)
MEMORY_WARN = env_float("HEALTH_MEMORY_WARN_PERCENT", 90.0)
MEMORY_FAIL = env_float("HEALTH_MEMORY_FAIL_PERCENT", 98.0)
DISK_WARN = env_float("HEALTH_DISK_WARN_PERCENT", 90.0)
DISK_FAIL = env_float("HEALTH_DISK_FAIL_PERCENT", 98.0)

# Latencies, in milliseconds, above which the database or cache turn warn.
DATABASE_SLOW_MS = env_float("HEALTH_DATABASE_SLOW_MS", 200.0)
CACHE_SLOW_MS = env_float("HEALTH_CACHE_SLOW_MS", 100.0)

# The operator page in the admin reloads itself this often.
ADMIN_REFRESH_SECONDS = env_int("HEALTH_ADMIN_REFRESH_SECONDS", 15, minimum=0)

# Shown as `releaseId` in `health/` (for example the deployed git commit).
RELEASE_ID = env_str("AGG_RELEASE_ID")
