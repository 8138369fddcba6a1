"""Monitoring has two halves, each with its own models module."""

from monitoring.models.alerts import *  # noqa: F403
from monitoring.models.logs import *  # noqa: F403
