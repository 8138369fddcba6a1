"""The one headless Chromium setup shared by the browser tests and the
screenshot script (scripts/console_screenshots.py): Debian's `chromium`
driven by Playwright from PyPI, no downloaded browser builds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# --no-sandbox: CI containers run as root, where Chromium's sandbox cannot
# start. The rest keeps a headless run quiet and off the network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1360, "height": 900}


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the admin's own login form."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
