"""The registry of health checks.

Each check is a small class in this package. To add one, write the class
and list it in CHECKS; it then appears in `health/`, as `health/<name>`, in
the admin page, and (through its observations) to the metrics collectors.
"""

from health.checks.application import ApplicationCheck
from health.checks.base import Check, CheckFailed, CheckResult, Observation, Status
from health.checks.cache import CacheCheck
from health.checks.celery import CeleryCheck, QueuesCheck
from health.checks.clamav import ClamAVCheck
from health.checks.database import DatabaseCheck
from health.checks.storage import StorageCheck
from health.checks.system import SystemCheck

CHECKS: dict[str, type[Check]] = {
    check.name: check
    for check in (
        DatabaseCheck,
        CacheCheck,
        CeleryCheck,
        ClamAVCheck,
        StorageCheck,
        SystemCheck,
        ApplicationCheck,
    )
}

# Checks the runner knows but `health/` does not list: parts of a component
# that other readers (the metrics scrape) want without the rest.
ALL_CHECKS: dict[str, type[Check]] = {**CHECKS, QueuesCheck.name: QueuesCheck}

# What `health/ready` asks: can this instance serve requests? Only its own
# dependencies; workers and clamd being down does not stop it serving.
READY_CHECKS = ("database", "cache", "storage")

__all__ = ["ALL_CHECKS", "CHECKS", "READY_CHECKS", "Check", "CheckFailed", "CheckResult", "Observation", "Status"]
