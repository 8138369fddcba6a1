import structlog
from celery import shared_task

from aggregator.heartbeat import heartbeat_record

logger = structlog.get_logger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def worker_heartbeat_task() -> None:
    beat = heartbeat_record()
    logger.info("worker_heartbeat", hostname=beat["hostname"], pid=beat["pid"])
