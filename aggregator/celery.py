"""The Celery app. `celery -A aggregator worker|beat` finds it here."""

import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")

app = Celery("aggregator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the context that travelled in the message (correlation_id,
# request_id, user_id) to every log line the task writes.
app.steps["worker"].add(DjangoStructLogInitStep)


def _declare_queues() -> None:
    from django.conf import settings

    # Declared explicitly, each with its own routing key, so a plain
    # `celery -A aggregator worker` consumes every queue and `-Q files`
    # narrows a worker to one.
    app.conf.task_queues = [
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in settings.CELERY_TASK_QUEUES_NAMES
    ]


_declare_queues()
