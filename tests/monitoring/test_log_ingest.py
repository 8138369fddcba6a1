"""POST logs/: one entry or a batch, all or nothing, for log writers only."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from monitoring.logs import conf
from monitoring.models import SystemLog

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/"


def test_a_log_writer_posts_one_entry(log_writer_client):
    response = log_writer_client.post(
        URL,
        {
            "level": "ERROR",
            "message": "charge declined",
            "timestamp": "2026-01-02T03:04:05Z",
            "correlation_id": "abc-123",
            "http_status": 502,
            "duration_ms": 12.5,
            "client_ip": "10.0.0.7",
            "exception_type": "CardError",
            "stack_trace": "Traceback...\n  line 1",
            "context": {"order": 7},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 1
    log = SystemLog.objects.get(pk=response.json()["ids"][0])
    assert log.level == "error"
    assert log.source == "billing-service"  # the writer's name unless the entry names one
    assert log.timestamp.isoformat() == "2026-01-02T03:04:05+00:00"
    assert (log.correlation_id, log.http_status, log.client_ip, log.context) == (
        "abc-123",
        502,
        "10.0.0.7",
        {"order": 7},
    )
    assert log.has_exception


def test_a_log_writer_posts_ten_thousand_entries_in_one_request(log_writer_client):
    entries = [{"message": f"line {index}", "level": "info", "source": "batcher"} for index in range(10_000)]

    response = log_writer_client.post(URL, entries, format="json")

    assert response.status_code == 201
    assert response.json()["created"] == 10_000
    assert SystemLog.objects.filter(source="batcher").count() == 10_000


def test_it_rejects_the_whole_batch_naming_each_bad_item(log_writer_client):
    entries = [
        {"message": "fine"},
        {"message": "bad level", "level": "loud"},
        {"message": "fine too"},
        {"level": "info"},
        "not an object",
        {"message": "bad time", "timestamp": "yesterday"},
        {"message": "bad status", "http_status": 42},
        {"message": "unknown field", "colour": "red"},
        {"message": "bad ip", "client_ip": "999.1.1.1"},
    ]

    response = log_writer_client.post(URL, entries, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "nothing was stored" in body["detail"]
    assert [item["index"] for item in body["errors"]] == [1, 3, 4, 5, 6, 7, 8]
    assert "level" in body["errors"][0]["errors"]
    assert "message" in body["errors"][1]["errors"]
    assert SystemLog.objects.count() == 0


@pytest.mark.parametrize("body", [[], "just a string", 42])
def test_it_rejects_bodies_that_are_not_entries(log_writer_client, body):
    response = log_writer_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_rejects_malformed_json(log_writer_client):
    response = log_writer_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_it_answers_413_for_more_entries_than_allowed(log_writer_client, monkeypatch):
    monkeypatch.setattr(conf, "INGEST_MAX_ITEMS", 3)
    response = log_writer_client.post(URL, [{"message": "x"}] * 4, format="json")
    assert response.status_code == 413
    assert SystemLog.objects.count() == 0


def test_it_truncates_enormous_messages_and_contexts_with_a_marker(log_writer_client, monkeypatch):
    monkeypatch.setattr(conf, "MESSAGE_MAX_CHARS", 100)
    monkeypatch.setattr(conf, "CONTEXT_MAX_BYTES", 300)

    response = log_writer_client.post(
        URL, {"message": "m" * 5000, "context": {"blob": "b" * 1000, "other": 1}}, format="json"
    )

    assert response.status_code == 201
    log = SystemLog.objects.get()
    assert log.message.startswith("m" * 100)
    assert log.message.endswith("[truncated 4900 characters]")
    assert log.context["_truncated"] is True
    assert log.context["_keys"] == ["blob", "other"]


def test_it_stores_nul_characters_as_replacement_characters(log_writer_client):
    response = log_writer_client.post(URL, {"message": "a\x00b", "context": {"k": "v\x00"}}, format="json")
    assert response.status_code == 201
    log = SystemLog.objects.get()
    assert log.message == "a\ufffdb"
    assert log.context == {"k": "v\ufffd"}


def test_it_accepts_level_aliases_and_epoch_timestamps(log_writer_client):
    response = log_writer_client.post(URL, [{"message": "w", "level": "WARN", "timestamp": 0}], format="json")
    assert response.status_code == 201
    log = SystemLog.objects.get()
    assert log.level == "warning"
    assert log.timestamp == datetime(1970, 1, 1, tzinfo=UTC)


def test_it_refuses_users_without_the_add_permission(alice_client, anon_client):
    assert alice_client.post(URL, {"message": "x"}, format="json").status_code == 403
    assert anon_client.post(URL, {"message": "x"}, format="json").status_code in (401, 403)
    assert SystemLog.objects.count() == 0


def test_a_log_writer_reads_nothing(log_writer_client):
    SystemLog.objects.create(timestamp=timezone.now(), message="secret")
    assert log_writer_client.get(URL).status_code == 403
    assert log_writer_client.post("/api/v1/logs/search", {}, format="json").status_code == 403
    assert log_writer_client.get("/api/v1/logs/statistics").status_code == 403
    assert log_writer_client.get("/api/v1/logs/correlation/abc").status_code == 403


def test_staff_list_logs_with_filters(staff_client):
    SystemLog.objects.create(timestamp=timezone.now(), message="one", level="error", source="a")
    SystemLog.objects.create(timestamp=timezone.now(), message="two", level="info", source="b")

    response = staff_client.get(URL, {"level": "error"})

    assert response.status_code == 200
    assert [row["message"] for row in response.json()["results"]] == ["one"]
