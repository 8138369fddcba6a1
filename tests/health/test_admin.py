"""The operator page in the admin."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGE = "/admin/health/componenthealth/"


@pytest.fixture
def staff_browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_the_admin_index_links_to_the_health_page(staff_browser):
    response = staff_browser.get("/admin/")
    assert response.status_code == 200
    assert PAGE.encode() in response.content
    assert b"Component health" in response.content


def test_the_health_page_shows_every_component_with_its_status(staff_browser):
    response = staff_browser.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for component in ("database", "cache", "celery", "clamav", "storage", "system", "application"):
        assert f'data-component="{component}"' in html
    assert 'data-component="database" data-status="pass"' in html
    assert "data-overall=" in html
    assert "pendingMigrations" in html


def test_it_shows_a_failed_component_as_failed(staff_browser, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings.MEDIA_ROOT = blocker / "media"
    html = staff_browser.get(PAGE).content.decode()
    assert 'data-component="storage" data-status="fail"' in html
    assert 'data-overall="fail"' in html
    assert "not writable" in html


def test_it_is_only_for_staff(alice):
    client = Client()
    assert client.get(PAGE).status_code == 302  # to the admin login
    client.force_login(alice)
    assert client.get(PAGE).status_code == 302
    assert b"componenthealth" not in client.get("/admin/", follow=True).content
