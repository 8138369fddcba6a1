"""Depth of a Celery queue on whatever broker is configured.

A passive queue declare answers the message count on every kombu transport
we run on: RabbitMQ (the AMQP reply), Redis (LLEN of the list) and the
filesystem broker (files waiting in the folder). A queue the broker does not
know yet holds nothing.
"""

from amqp.exceptions import NotFound as AmqpNotFound
from kombu.exceptions import ChannelError


def _is_not_found(exc: Exception) -> bool:
    return isinstance(exc, AmqpNotFound) or (isinstance(exc, ChannelError) and "NOT_FOUND" in str(exc))


def queue_depth(queue: str) -> int:
    from aggregator.celery import app

    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        try:
            _name, count, _consumers = channel.queue_declare(queue=queue, passive=True)
        except Exception as exc:
            if _is_not_found(exc):
                return 0
            raise
        finally:
            try:
                channel.close()
            except Exception:  # RabbitMQ already closed the channel after a 404.
                pass
        return int(count)
