"""Metrics updated as things happen (requests, tasks, pool use).

Under gunicorn these live in prometheus-client's multiprocess mode: every
process writes its samples to files in PROMETHEUS_MULTIPROC_DIR and the
scrape, in whichever worker it lands, sums them. Counters and histograms
keep the samples of dead workers (nothing is lost); gauges here are
`livesum`, the total over the processes alive now.
"""

from prometheus_client import Counter, Gauge, Histogram

# Buckets from 5 ms to 30 s: API calls, exports and uploads in one family.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

HTTP_REQUESTS = Counter(
    "aggregator_http_requests",
    "HTTP requests answered, by Django view name, method and status code.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "aggregator_http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it.",
    ["view", "method"],
    buckets=HTTP_BUCKETS,
)

CELERY_TASKS = Counter(
    "aggregator_celery_tasks",
    "Celery tasks finished, by task name and final state (SUCCESS, FAILURE, RETRY...).",
    ["task", "state"],
)
CELERY_TASK_DURATION = Histogram(
    "aggregator_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)

DB_POOL_SIZE = Gauge(
    "aggregator_db_pool_connections",
    "Connections held by the psycopg pools of all live processes.",
    ["alias"],
    multiprocess_mode="livesum",
)
DB_POOL_AVAILABLE = Gauge(
    "aggregator_db_pool_available_connections",
    "Idle connections ready in the psycopg pools of all live processes.",
    ["alias"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "aggregator_db_pool_waiting_requests",
    "Requests waiting for a pooled connection, over all live processes.",
    ["alias"],
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "aggregator_db_pool_max_connections",
    "Maximum size of the psycopg pools of all live processes.",
    ["alias"],
    multiprocess_mode="livesum",
)
DB_POOL_ERRORS = Gauge(
    "aggregator_db_pool_errors",
    "Failed connection attempts and failed requests of the pools since each process started.",
    ["alias"],
    multiprocess_mode="livesum",
)

# psycopg's own counters, turned into Prometheus counters (see pool.py):
# how many connections the pools handed out, how many of those requests had
# to queue because no connection was free, and how long they queued.
DB_POOL_REQUESTS = Counter(
    "aggregator_db_pool_requests",
    "Connections requested from the psycopg pools.",
    ["alias"],
)
DB_POOL_REQUESTS_QUEUED = Counter(
    "aggregator_db_pool_requests_queued",
    "Connection requests that had to wait because no pooled connection was free.",
    ["alias"],
)
DB_POOL_WAIT = Counter(
    "aggregator_db_pool_requests_wait_seconds",
    "Time connection requests spent waiting for a pooled connection.",
    ["alias"],
)
