"""The request and trace fields a log line carries, named once.

The capture handler (which must not import models: logging is configured
before the apps load), the API serializer and the admin all list them.
"""

REQUEST_FIELDS = (
    "correlation_id",
    "request_id",
    "trace_id",
    "span_id",
    "duration_ms",
    "memory_bytes",
    "http_method",
    "http_path",
    "http_status",
    "client_ip",
)
