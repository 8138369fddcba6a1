"""The operator console over logs and archives."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from monitoring.logs import archives, conf
from monitoring.models import LogArchive, SystemLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def lines():
    now = timezone.now()
    return [
        SystemLog.objects.create(timestamp=now - timedelta(minutes=2), message="payment started", correlation_id="c-9"),
        SystemLog.objects.create(
            timestamp=now - timedelta(minutes=1),
            message="payment crashed",
            level="error",
            source="billing",
            correlation_id="c-9",
            exception_type="builtins.ValueError",
            stack_trace='Traceback (most recent call last):\n  File "x.py", line 1\nValueError: <bad>',
        ),
        SystemLog.objects.create(timestamp=now, message="disk fine", source="infra"),
    ]


def test_the_log_list_filters_by_level_source_and_date(admin_client, lines):
    url = "/admin/monitoring/systemlog/"
    assert admin_client.get(url).status_code == 200
    page = admin_client.get(url, {"level__exact": "error"}).content.decode()
    assert "payment crashed" in page and "disk fine" not in page
    page = admin_client.get(url, {"source": "infra"}).content.decode()
    assert "disk fine" in page and "payment crashed" not in page
    page = admin_client.get(url, {"has_exception": "yes"}).content.decode()
    assert "payment crashed" in page and "payment started" not in page
    assert admin_client.get(url, {"timestamp__gte": timezone.now().isoformat()}).status_code == 200


def test_the_log_list_searches_messages_and_correlation_ids(admin_client, lines):
    page = admin_client.get("/admin/monitoring/systemlog/", {"q": "crashed"}).content.decode()
    assert "payment crashed" in page and "payment started" not in page
    page = admin_client.get("/admin/monitoring/systemlog/", {"q": "c-9"}).content.decode()
    assert "payment crashed" in page and "payment started" in page and "disk fine" not in page
    assert admin_client.get("/admin/monitoring/systemlog/", {"q": "a & (b | !c ' \\"}).status_code == 200


def test_a_log_line_links_to_its_whole_chain_and_shows_a_readable_stack_trace(admin_client, lines):
    crashed = lines[1]
    page = admin_client.get(f"/admin/monitoring/systemlog/{crashed.pk}/change/").content.decode()

    assert "<pre" in page
    assert "ValueError: &lt;bad&gt;" in page
    assert "correlation_id=c-9" in page
    chain = admin_client.get("/admin/monitoring/systemlog/", {"correlation_id": "c-9", "o": "0"}).content.decode()
    assert chain.index("payment started") < chain.index("payment crashed")
    assert "disk fine" not in chain


def test_log_lines_are_read_only_in_the_admin(admin_client, lines):
    assert admin_client.get("/admin/monitoring/systemlog/add/").status_code == 403
    response = admin_client.post(f"/admin/monitoring/systemlog/{lines[0].pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert SystemLog.objects.count() == 3


def test_archives_show_sizes_and_ranges_and_restore_from_an_action(
    admin_client, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(conf, "ARCHIVE_ROWS_PER_FILE", 1000)
    old = timezone.now() - timedelta(days=40)
    SystemLog.objects.bulk_create(SystemLog(timestamp=old, message=f"old {i}") for i in range(5))
    archives.log_archive_older_than(cutoff=timezone.now() - timedelta(days=30))
    archive = LogArchive.objects.get()

    page = admin_client.get("/admin/monitoring/logarchive/").content.decode()
    assert "complete" in page.lower() and "bytes" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/monitoring/logarchive/", {"action": "restore", "_selected_action": [archive.pk]}
        )
    assert response.status_code == 302
    archive.refresh_from_db()
    assert archive.restored_count == 5
    assert SystemLog.objects.filter(restored_from=archive).count() == 5


def test_an_operator_archives_old_lines_now_from_the_archive_list(client, staff, django_capture_on_commit_callbacks):
    """GIVEN lines older than the age the operator gives
    WHEN they press "Archive now" on the archive list
    THEN the lines are moved into a complete archive."""
    from datetime import timedelta

    from django.utils import timezone

    from monitoring.models import LogArchive, SystemLog

    SystemLog.objects.create(level="error", message="old", source="api", timestamp=timezone.now() - timedelta(days=9))
    SystemLog.objects.create(level="error", message="new", source="api", timestamp=timezone.now())
    client.force_login(staff)
    listing = client.get("/admin/monitoring/logarchive/")
    assert b"Archive now" in listing.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/monitoring/logarchive/archive-now/", {"older_than_days": "7"})
    assert response.status_code == 302
    assert list(SystemLog.objects.values_list("message", flat=True)) == ["new"]
    archive = LogArchive.objects.get()
    assert archive.status == LogArchive.Status.COMPLETE and archive.entry_count == 1


def test_archive_now_refuses_a_user_without_the_archive_permission(client, make_user):
    viewer = make_user("viewer")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    response = client.post("/admin/monitoring/logarchive/archive-now/", {"older_than_days": "7"})
    assert response.status_code == 403
