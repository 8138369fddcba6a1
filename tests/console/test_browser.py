"""The console in a real headless Chromium against a live server: log in,
read the dashboard, run an admin action, see its result."""

import os

import pytest
from django.contrib.auth.models import Group

from aggregator.console import browser as chromium
from aggregator.console.groups import READ_ONLY_OPERATORS
from aggregator.models import Pipeline
from monitoring.models import SystemLog
from tests.services import REQUIRE_SERVICES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def page(monkeypatch):
    if not chromium.chromium_available():
        if REQUIRE_SERVICES:
            pytest.fail(f"Chromium is required for the browser tests: {chromium.CHROMIUM} is missing")
        pytest.skip(f"no Chromium at {chromium.CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        context = browser.new_context(viewport=chromium.VIEWPORT)
        yield context.new_page()
        context.close()
        browser.close()


def test_an_operator_logs_in_and_reads_the_dashboard(page, live_server, staff):
    from django.utils import timezone

    SystemLog.objects.create(timestamp=timezone.now(), level="error", message="disk full")

    chromium.log_in(page, live_server.url, staff.username, PASSWORD)

    dashboard = page.locator("#console-dashboard")
    assert dashboard.is_visible()
    assert page.locator("#console-errors svg.console-chart").count() == 2
    assert page.locator("#console-errors figcaption").first.inner_text() == "Last 24 hours: 1 errors"
    assert page.locator("#console-health").inner_text().count("pass") >= 2


def test_an_operator_activates_a_pipeline_with_an_admin_action(page, live_server, staff, alice):
    pipeline = Pipeline.objects.create(owner=alice, name="nightly import")
    chromium.log_in(page, live_server.url, staff.username, PASSWORD)

    page.goto(f"{live_server.url}/admin/aggregator/pipeline/")
    page.check(f"input[name=_selected_action][value='{pipeline.pk}']")
    page.select_option("select[name=action]", "activate")
    page.click("button[name=index]")

    assert "1 pipeline(s) now active." in page.locator("ul.messagelist").inner_text()
    pipeline.refresh_from_db()
    assert pipeline.status == Pipeline.Status.ACTIVE
    assert page.locator("#result_list").inner_text().count("active") >= 1


def test_a_read_only_operator_gets_no_actions_and_no_add_button(page, live_server, make_user, alice):
    viewer = make_user("rita")
    viewer.is_staff, viewer.is_superuser = True, False
    viewer.save()
    viewer.groups.add(Group.objects.get(name=READ_ONLY_OPERATORS))
    Pipeline.objects.create(owner=alice, name="nightly import")

    chromium.log_in(page, live_server.url, "rita", PASSWORD)
    page.goto(f"{live_server.url}/admin/aggregator/pipeline/")

    assert "nightly import" in page.locator("#result_list").inner_text()
    assert page.locator("select[name=action]").count() == 0
    assert page.locator("a.addlink").count() == 0
