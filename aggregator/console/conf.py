"""Tunables of the operator console, read from the environment."""

from aggregator.env import env_int

# How long the dashboard's figures are reused. Short enough that an operator
# who just acknowledged an alert sees it within a refresh; long enough that a
# room of operators on a million-row log table costs one set of queries.
CACHE_SECONDS = env_int("CONSOLE_CACHE_SECONDS", 15)
# A file in validation (or a scan still pending) longer than this is backlog
# that looks stuck.
STUCK_MINUTES = env_int("CONSOLE_STUCK_MINUTES", 30)
