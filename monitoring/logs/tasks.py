"""Celery tasks of the logs half."""
