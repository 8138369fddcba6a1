"""Which real services this test run has, and what to do when one is absent.

On the embedded run a test that needs a service skips. With
AGG_REQUIRE_SERVICES=1 (the CI services run) a missing service is a
failure, so a broken environment cannot pass by skipping.
"""

import os
import socket
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("AGG_REQUIRE_SERVICES", "0") == "1"


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return os.path.exists(parsed.path)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def need(variable: str, default_port: int) -> str:
    """The URL of a configured, reachable service, or skip (fail when required)."""
    url = os.environ.get(variable, "")
    problem = None
    if not url:
        problem = f"{variable} is not set"
    elif not reachable(url, default_port):
        problem = f"{variable}={url} is not reachable"
    if problem:
        if REQUIRE_SERVICES:
            pytest.fail(f"required service missing: {problem}")
        pytest.skip(problem)
    return url
