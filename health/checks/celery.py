"""Celery: are workers answering, and how deep are the queues?

Redis and AMQP brokers support remote control, so workers are asked with
`inspect ping`. The embedded filesystem broker has none; there the worker
heartbeat (aggregator/heartbeat.py), stamped by a beat job, tells whether a
worker ran anything recently.
"""

from __future__ import annotations

import time

from django.conf import settings
from kombu.exceptions import ChannelError

from aggregator.celery import app
from aggregator.heartbeat import heartbeat_last
from health import conf
from health.checks.base import Check, Observation, Status


def uses_filesystem_broker() -> bool:
    return settings.CELERY_BROKER_URL.startswith("filesystem:")


def queue_depths() -> dict[str, int]:
    """Messages waiting in each configured queue.

    A passive declare asks the broker without creating anything; a queue the
    broker does not know yet (nothing was ever sent to it) holds nothing.

    The broker connection comes from Celery's pool and goes back to it, so
    a scrape does not pay for connecting (about 10 ms, and on Redis another
    connection per channel: a fresh connection for six queues cost 130 ms
    on a busy machine). A connection that failed is closed, not reused.
    """
    depths: dict[str, int] = {}
    connection = app.pool.acquire(block=True, timeout=conf.CHECK_TIMEOUT)
    try:
        connection.ensure_connection(max_retries=1, timeout=conf.CHECK_TIMEOUT)
        # What a refused passive declare raises: kombu's ChannelError for
        # virtual transports (Redis, filesystem), amqp's NotFound for AMQP.
        not_found = (ChannelError, *connection.channel_errors)
        # A refused passive declare closes the channel on AMQP, so there
        # each queue gets its own; virtual transports keep one channel.
        amqp = connection.transport.driver_type == "amqp"
        for name in settings.CELERY_TASK_QUEUES_NAMES:
            channel = connection.channel() if amqp else connection.default_channel
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except not_found:
                depths[name] = 0
            finally:
                if amqp:
                    _close_quietly(channel, connection)
    except BaseException:
        app.pool.replace(connection)
        raise
    connection.release()
    return depths


def _close_quietly(channel, connection) -> None:
    try:
        channel.close()
    except (*connection.channel_errors, *connection.connection_errors):
        pass  # Already closed by the broker after a refused declare.


def workers_answering() -> list[str]:
    replies = app.control.ping(timeout=conf.CELERY_PING_TIMEOUT) or []
    return sorted(name for reply in replies for name in reply)


class CeleryCheck(Check):
    name = "celery"
    component_type = "system"

    @property
    def extra_timeout(self) -> float:  # type: ignore[override]
        # The ping deliberately waits its whole timeout for replies, after
        # connecting to the broker; `ready` never waits for this check.
        return 0.0 if uses_filesystem_broker() else conf.CELERY_PING_TIMEOUT + 1.0

    def run(self) -> list[Observation]:
        return self._workers() + QueuesCheck().run()

    def _workers(self) -> list[Observation]:
        # No worker is a warning, not a failure: this instance still serves
        # requests; background work waits until a worker is back.
        if uses_filesystem_broker():
            beat = heartbeat_last()
            age = time.time() - beat["at"] if beat else None
            if age is None or age > conf.HEARTBEAT_MAX_AGE:
                output = "no worker heartbeat yet" if age is None else f"last worker heartbeat {age:.0f} s ago"
                return [Observation("workers", Status.WARN, 0, "workers", output=output)]
            return [
                Observation("workers", Status.PASS, 1, "workers", component_id=beat["hostname"]),
                Observation("heartbeatAge", Status.PASS, round(age, 1), "s"),
            ]
        names = workers_answering()
        if not names:
            return [Observation("workers", Status.WARN, 0, "workers", output="no worker answered the ping")]
        return [Observation("workers", Status.PASS, len(names), "workers", component_id=",".join(names))]


class QueuesCheck(Check):
    """Queue depths alone, without the ping: what a metrics scrape needs."""

    name = "queues"
    component_type = "system"

    def run(self) -> list[Observation]:
        return [
            Observation("queueDepth", Status.PASS, depth, "messages", component_id=queue)
            for queue, depth in queue_depths().items()
        ]
