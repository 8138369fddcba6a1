"""CRUD of the core entities, owner scoping, auth and bad input."""

import pytest

from aggregator.models import Connector, Pipeline

pytestmark = pytest.mark.django_db

ENTITIES = {
    "pipelines": {"name": "daily sales", "status": "active", "config": {"retries": 3}},
    "connectors": {"name": "warehouse", "kind": "postgres", "config": {"host": "db"}},
    "pipeline-templates": {"name": "csv to parquet", "category": "ingest"},
    "transformation-functions": {"name": "normalise", "language": "python", "code": "def f(x): return x"},
}


@pytest.mark.parametrize("resource, payload", ENTITIES.items())
def test_it_creates_reads_updates_and_deletes_each_entity(alice_client, resource, payload):
    created = alice_client.post(f"/api/v1/{resource}/", payload, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == payload["name"]
    assert body["owner"] == "alice"
    url = f"/api/v1/{resource}/{body['id']}/"

    assert alice_client.get(url).json()["id"] == body["id"]
    listed = alice_client.get(f"/api/v1/{resource}/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]

    patched = alice_client.patch(url, {"description": "changed"}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "changed"

    assert alice_client.delete(url).status_code == 204
    assert alice_client.get(url).status_code == 404


def test_it_creates_a_transformation_inside_a_pipeline(alice_client):
    pipeline = alice_client.post("/api/v1/pipelines/", {"name": "p"}, format="json").json()
    created = alice_client.post(
        "/api/v1/transformations/", {"name": "dedupe", "pipeline": pipeline["id"], "kind": "filter"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["pipeline"] == pipeline["id"]


def test_it_answers_with_and_without_a_trailing_slash_without_redirecting(alice_client):
    assert alice_client.get("/api/v1/pipelines").status_code == 200
    assert alice_client.get("/api/v1/pipelines/").status_code == 200
    created = alice_client.post("/api/v1/pipelines", {"name": "no slash"}, format="json")
    assert created.status_code == 201
    assert alice_client.get(f"/api/v1/pipelines/{created.json()['id']}").status_code == 200


def test_it_hides_another_users_objects_as_not_found(alice_client, bob_client):
    pipeline = alice_client.post("/api/v1/pipelines/", {"name": "secret"}, format="json").json()
    url = f"/api/v1/pipelines/{pipeline['id']}/"
    assert bob_client.get(url).status_code == 404
    assert bob_client.patch(url, {"name": "stolen"}, format="json").status_code == 404
    assert bob_client.delete(url).status_code == 404
    assert bob_client.get("/api/v1/pipelines/").json()["count"] == 0
    assert Pipeline.objects.get(pk=pipeline["id"]).name == "secret"


def test_staff_see_every_users_objects(alice_client, staff_client):
    alice_client.post("/api/v1/connectors/", {"name": "c", "kind": "s3"}, format="json")
    listed = staff_client.get("/api/v1/connectors/").json()
    assert listed["count"] == 1 and listed["results"][0]["owner"] == "alice"


def test_it_refuses_to_attach_another_users_connector(alice_client, bob_client):
    connector = bob_client.post("/api/v1/connectors/", {"name": "bobs", "kind": "s3"}, format="json").json()
    response = alice_client.post("/api/v1/pipelines/", {"name": "p", "connectors": [connector["id"]]}, format="json")
    assert response.status_code == 400
    assert "connectors" in response.json()["detail"]
    assert not Pipeline.objects.exists()


def test_it_filters_and_paginates(alice_client):
    for index in range(3):
        alice_client.post("/api/v1/connectors/", {"name": f"s3-{index}", "kind": "s3"}, format="json")
    alice_client.post("/api/v1/connectors/", {"name": "kafka", "kind": "kafka"}, format="json")
    assert alice_client.get("/api/v1/connectors/?kind=s3").json()["count"] == 3
    assert alice_client.get("/api/v1/connectors/?name=kaf").json()["count"] == 1
    page = alice_client.get("/api/v1/connectors/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]


def test_it_rejects_anonymous_requests(anon_client):
    response = anon_client.get("/api/v1/pipelines/")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_it_issues_a_token_for_a_username_and_password(anon_client, alice):
    response = anon_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anon_client.get("/api/v1/pipelines/").status_code == 200


def test_it_refuses_a_token_for_a_wrong_password(anon_client, alice):
    response = anon_client.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_it_rejects_unknown_fields(alice_client):
    response = alice_client.post("/api/v1/pipelines/", {"name": "p", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert "colour" in response.json()["detail"]
    assert not Pipeline.objects.exists()


def test_it_rejects_wrong_types_and_bad_choices(alice_client):
    response = alice_client.post("/api/v1/connectors/", {"name": ["x"], "kind": "telepathy"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "kind" in body["errors"] and "name" in body["errors"]
    config = alice_client.post("/api/v1/connectors/", {"name": "c", "kind": "s3", "config": [1, 2]}, format="json")
    assert config.status_code == 400 and "config" in config.json()["detail"]


def test_it_rejects_malformed_json(alice_client):
    response = alice_client.generic("POST", "/api/v1/pipelines/", '{"name": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_it_rejects_an_oversized_payload(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = alice_client.post("/api/v1/pipelines/", {"name": "p", "description": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not Pipeline.objects.exists()


@pytest.mark.parametrize("bad_id", ["999999", "abc", "-1"])
def test_it_answers_404_json_for_bad_ids(alice_client, bad_id):
    response = alice_client.get(f"/api/v1/pipelines/{bad_id}/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_answers_unknown_api_paths_with_json_404(alice_client):
    response = alice_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_duplicate_name_is_a_conflict_not_a_crash(alice_client, bob_client):
    assert alice_client.post("/api/v1/connectors/", {"name": "dup", "kind": "s3"}, format="json").status_code == 201
    again = alice_client.post("/api/v1/connectors/", {"name": "dup", "kind": "s3"}, format="json")
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    # Names are unique per owner, not globally.
    assert bob_client.post("/api/v1/connectors/", {"name": "dup", "kind": "s3"}, format="json").status_code == 201
    assert Connector.objects.count() == 2


def test_the_openapi_schema_and_docs_are_public(anon_client):
    schema = anon_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/pipelines/" in schema.content
    assert anon_client.get("/api/docs/").status_code == 200


def test_the_schema_validates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.parametrize(
    "when", ["0503-06-10T08:21:28-18:38", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]
)
def test_an_out_of_range_date_filter_is_a_client_error(alice_client, when):
    response = alice_client.get("/api/v1/connectors/", {"created_after": when})
    # SQLite compares the text and answers; PostgreSQL refuses the value.
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "out of range" in response.json()["detail"]
