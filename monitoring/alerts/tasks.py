"""Celery tasks of the alerts half."""
