"""Default beat schedules, stored in the database by django-celery-beat.

Each app lists its periodic jobs and installs them after migrate. Existing
rows are left alone, so an operator's edits in the admin survive restarts
and deploys (which is why these are not in CELERY_BEAT_SCHEDULE: the
database scheduler rewrites those entries on every start).
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week"
    queue: str | None = None
    kwargs: str = "{}"


def install_schedules(schedules: list[Schedule], **_: Any) -> None:
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for item in schedules:
        if PeriodicTask.objects.filter(name=item.name).exists():
            continue
        fields: dict[str, Any] = {"task": item.task, "queue": item.queue, "kwargs": item.kwargs}
        if item.crontab:
            minute, hour, day_of_month, month_of_year, day_of_week = item.crontab.split()
            fields["crontab"], _created = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
                timezone="UTC",
            )
        else:
            fields["interval"], _created = IntervalSchedule.objects.get_or_create(
                every=item.every_seconds, period=IntervalSchedule.SECONDS
            )
        PeriodicTask.objects.create(name=item.name, **fields)


SCHEDULES = [Schedule(name="worker heartbeat", task="aggregator.tasks.worker_heartbeat_task", every_seconds=30)]
