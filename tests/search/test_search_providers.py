"""Files, alerts, alert rules and logs in the search: who may find what."""

import pytest
from django.utils import timezone

from files.models import FileUpload
from monitoring.models import Alert, AlertRule, SystemLog
from search import services
from search.models import SearchEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _titles(client, path="/api/v1/search/", **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def test_files_are_found_by_their_owner_only(alice, bob, alice_client, bob_client, staff_client):
    upload = FileUpload.objects.create(owner=alice, filename="quarterly-revenue.csv", size=10)
    assert _titles(alice_client, q="quarterly") == ["quarterly-revenue.csv"]
    assert _titles(bob_client, q="quarterly") == []
    assert _titles(staff_client, "/api/v1/search/files", q="quarterly") == ["quarterly-revenue.csv"]
    result = alice_client.get("/api/v1/search/", {"q": "quarterly"}).json()["results"][0]
    assert result["id"] == str(upload.pk) and result["url"] == f"/api/v1/files/{upload.pk}/"


def test_a_deleted_file_is_never_found(alice, alice_client):
    upload = FileUpload.objects.create(owner=alice, filename="obsolete-export.json", size=10)
    upload.status = "deleted"
    upload.save()
    assert _titles(alice_client, q="obsolete") == []
    assert not SearchEntry.objects.filter(type="files").exists()


def test_alerts_and_rules_are_for_staff_only(alice_client, staff_client):
    rule = AlertRule.objects.create(name="Disk nearly full", metric="disk_percent", threshold=90)
    now = timezone.now()
    Alert.objects.create(
        rule=rule, fingerprint="f1", severity="high", message="Disk 95% on worker", triggered_at=now, last_seen_at=now
    )
    assert _titles(alice_client, q="disk") == []
    staff = _titles(staff_client, q="disk")
    assert sorted(staff) == ["Disk 95% on worker", "Disk nearly full"]
    assert _titles(staff_client, "/api/v1/search/alert-rules", q="disk") == ["Disk nearly full"]


def test_logs_written_in_bulk_are_indexed_by_the_catch_up_job(alice_client, staff_client):
    SystemLog.objects.bulk_create(
        [
            SystemLog(timestamp=timezone.now(), level="ERROR", message=f"checksum mismatch in batch {n}")
            for n in range(3)
        ]
    )
    assert _titles(staff_client, "/api/v1/search/logs", q="checksum") == []
    assert services.index_new()["logs"] == 3
    assert len(_titles(staff_client, "/api/v1/search/logs", q="checksum")) == 3
    assert services.index_new()["logs"] == 0
    assert _titles(alice_client, q="checksum") == []


def test_an_archived_log_disappears_from_results(staff_client):
    log = SystemLog.objects.create(timestamp=timezone.now(), level="INFO", message="rotation finished")
    services.index_new()
    SystemLog.objects.filter(pk=log.pk).delete()
    assert _titles(staff_client, q="rotation") == []
