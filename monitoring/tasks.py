"""Celery finds tasks in <app>.tasks; each half keeps its own."""

from monitoring.alerts.tasks import *  # noqa: F403
from monitoring.logs.tasks import *  # noqa: F403
