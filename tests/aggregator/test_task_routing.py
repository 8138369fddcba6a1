"""Slow work has its own queues, so it never starves quick work."""

import pytest

from aggregator.celery import app

ROUTES = {
    "files.processing_tasks.file_conversion_run_task": "conversions",
    "files.tasks.file_upload_validate_task": "files",
    "monitoring.logs.tasks.log_archive_task": "archives",
    "monitoring.alerts.tasks.alert_notification_send_task": "notifications",
    "monitoring.alerts.tasks.alert_rules_evaluate_task": "alerts",
    "aggregator.tasks.worker_heartbeat_task": "default",
}


@pytest.fixture(autouse=True, scope="module")
def _discovered_tasks():
    # Celery discovers app tasks lazily; a worker does this at start.
    app.loader.import_default_modules()


@pytest.mark.parametrize("task, queue", ROUTES.items())
def test_each_task_goes_to_its_queue(task, queue):
    assert task in app.tasks, f"{task} is not registered"
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_queue_is_consumed_by_a_plain_worker():
    assert {queue.name for queue in app.conf.task_queues} == set(ROUTES.values()) | {"default"}
