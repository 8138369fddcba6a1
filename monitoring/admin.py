import monitoring.alerts.admin  # noqa: F401
import monitoring.logs.admin  # noqa: F401
