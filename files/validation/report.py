"""The validation report: which checks ran, and each one's verdict."""

from dataclasses import dataclass, field
from typing import Any


class CheckFailed(Exception):
    """Raised inside a check to fail it with a human-readable reason."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass
class Report:
    checks: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, passed: bool, detail: str = "", **extra: Any) -> None:
        self.checks.append({"name": name, "passed": passed, "detail": detail, **extra})

    def skip(self, name: str, detail: str) -> None:
        self.checks.append({"name": name, "passed": None, "detail": detail})

    @property
    def passed(self) -> bool:
        return all(check["passed"] is not False for check in self.checks)

    @property
    def first_failure(self) -> str:
        for check in self.checks:
            if check["passed"] is False:
                return f"{check['name']}: {check['detail']}"
        return ""

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": self.checks, **self.facts}
