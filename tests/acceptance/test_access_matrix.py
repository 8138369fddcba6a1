"""Access-control matrix: every endpoint of the HTTP contract × every persona.

Personas: anonymous, alice (owns everything in the world below), bob (another
user), staff (an operator) and writer (a "log writers" service account).
Each row says which status each persona gets; on top of that, no answer given
to bob or to the writer ever contains anything of alice's (her marker text or
her file ids), whatever the status.

A row whose path no longer resolves fails: the matrix must follow the
routes, never silently shrink.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import Resolver404, resolve
from django.utils import timezone

from monitoring.models import Alert, AlertRule, NotificationChannel, SystemLog
from tests.acceptance.conftest import MARK, TUS, multipart_upload, tus_metadata
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "alice", "bob", "staff", "writer")

# Expected statuses, by who may do what.
OWNED = {"anon": 401, "alice": 200, "bob": 404, "staff": 200, "writer": 404}
OWNED_WRITE = OWNED
OWNED_DELETE = {"anon": 401, "alice": 204, "bob": 404, "staff": 204, "writer": 404}
OWNED_ACCEPTED = {"anon": 401, "alice": 202, "bob": 404, "staff": 202, "writer": 404}
ANY_USER = {"anon": 401, "alice": 200, "bob": 200, "staff": 200, "writer": 200}
ANY_USER_CREATES = {"anon": 401, "alice": 201, "bob": 201, "staff": 201, "writer": 201}
STAFF = {"anon": 401, "alice": 403, "bob": 403, "staff": 200, "writer": 403}
STAFF_CREATES = {**STAFF, "staff": 201}
STAFF_ACCEPTED = {**STAFF, "staff": 202}
STAFF_DELETES = {**STAFF, "staff": 204}
PUBLIC = dict.fromkeys(PERSONAS, 200)
# Only alice and staff may point at alice's objects; anyone else gets a 400
# (the reference does not exist for them), never a link to her object.
REFERENCES_ALICE = {"anon": 401, "alice": 201, "bob": 400, "staff": 201, "writer": 400}
LOG_WRITERS = {"anon": 401, "alice": 403, "bob": 403, "staff": 201, "writer": 201}


@dataclass
class Row:
    name: str
    method: str
    path: str  # formatted with the world's ids
    expect: dict
    body: object = None
    format: str = "json"
    headers: dict = field(default_factory=dict)
    # Accepts alternatives where the contract leaves a choice (e.g. 200/404).
    also: dict = field(default_factory=dict)
    # Writes to bytes on disk are not rolled back with the database: such rows
    # get a new upload of alice's for every persona.
    fresh_tus: bool = False
    # Positive control for searches: alice and staff do find her object.
    finds_alice: bool = False


def entity_rows(plural: str, key: str, create: dict, refers_to_alice: bool = False) -> list[Row]:
    rows = [
        Row(f"{plural} list", "get", f"/api/v1/{plural}/", ANY_USER),
        Row(f"{plural} detail", "get", f"/api/v1/{plural}/{{{key}}}/", OWNED),
        Row(f"{plural} detail (no slash)", "get", f"/api/v1/{plural}/{{{key}}}", OWNED),
        Row(f"{plural} update", "patch", f"/api/v1/{plural}/{{{key}}}/", OWNED_WRITE, {"description": "changed"}),
        Row(f"{plural} replace", "put", f"/api/v1/{plural}/{{{key}}}/", OWNED_WRITE, {**create, "name": "renamed"}),
        Row(f"{plural} delete", "delete", f"/api/v1/{plural}/{{{key}}}/", OWNED_DELETE),
        Row(
            f"{plural} create",
            "post",
            f"/api/v1/{plural}/",
            REFERENCES_ALICE if refers_to_alice else ANY_USER_CREATES,
            {**create, "name": "new one"},
        ),
        Row(f"{plural} search by alice's marker", "get", f"/api/v1/{plural}/?search={MARK}", ANY_USER),
    ]
    return rows


ROWS: list[Row] = [
    # --- public ---------------------------------------------------------------
    Row("schema", "get", "/api/schema/", PUBLIC),
    Row(
        "token: wrong password",
        "post",
        "/api/v1/auth/token/",
        dict.fromkeys(PERSONAS, 400),
        {"username": "alice", "password": "wrong"},
    ),
    # --- core entities --------------------------------------------------------
    *entity_rows("pipelines", "pipeline", {"name": "p", "status": "draft"}),
    *entity_rows("connectors", "connector", {"name": "c", "kind": "http"}),
    *entity_rows("pipeline-templates", "template", {"name": "t"}),
    *entity_rows("transformation-functions", "function", {"name": "f"}),
    *entity_rows("transformations", "transformation", {"name": "x", "pipeline": "{pipeline}"}, refers_to_alice=True),
    Row(
        "pipeline using alice's template and connector",
        "post",
        "/api/v1/pipelines/",
        REFERENCES_ALICE,
        {"name": "borrowing", "template": "{template}", "connectors": ["{connector}"]},
    ),
    Row(
        "transformation using alice's function",
        "post",
        "/api/v1/transformations/",
        {**REFERENCES_ALICE, "alice": 400, "staff": 400},  # the pipeline is the caller's own: see world
        {"name": "borrowing", "pipeline": "{pipeline}", "function": "{function}"},
        also={"alice": {201}, "staff": {201}},
    ),
    # --- files ----------------------------------------------------------------
    Row("files list", "get", "/api/v1/files/", ANY_USER),
    Row("files filtered by alice's sha256", "get", "/api/v1/files/?sha256={file_sha256}", ANY_USER),
    Row("files filtered by name", "get", f"/api/v1/files/?name={MARK}", ANY_USER),
    Row(
        "files filtered by alice's pipeline",
        "get",
        "/api/v1/files/?pipeline={pipeline}",
        ANY_USER,
        also={"bob": {400}, "writer": {400}},
    ),
    Row("file detail", "get", "/api/v1/files/{file}/", OWNED),
    Row("file detail (no slash)", "get", "/api/v1/files/{file}", OWNED),
    Row("file content", "get", "/api/v1/files/{file}/content", OWNED),
    Row(
        "file content range",
        "get",
        "/api/v1/files/{file}/content",
        {**OWNED, "alice": 206, "staff": 206},
        headers={"HTTP_RANGE": "bytes=0-3"},
    ),
    Row("file revalidate", "post", "/api/v1/files/{file}/validate", OWNED_ACCEPTED),
    Row("file delete", "delete", "/api/v1/files/{file}/", OWNED_DELETE),
    Row("file upload", "post", "/api/v1/files/", ANY_USER_CREATES, "upload"),
    Row("file upload into alice's pipeline", "post", "/api/v1/files/", REFERENCES_ALICE, "upload-into-pipeline"),
    Row("file preview", "get", "/api/v1/files/{file}/preview", OWNED),
    Row("file conversions list", "get", "/api/v1/files/{file}/conversions", OWNED),
    Row(
        "file conversion request", "post", "/api/v1/files/{file}/conversions", OWNED_ACCEPTED, {"target_format": "json"}
    ),
    Row("processing job", "get", "/api/v1/files/jobs/{job}", OWNED),
    # --- tus --------------------------------------------------------------------
    Row(
        "tus options",
        "options",
        "/api/v1/files/tus/",
        {**PUBLIC, "anon": 401},
        also={"anon": {204}, **{p: {204} for p in PERSONAS}},
    ),
    Row(
        "tus create",
        "post",
        "/api/v1/files/tus/",
        ANY_USER_CREATES,
        headers={**TUS, "HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": tus_metadata(filename="n.csv")},
    ),
    Row("tus head of alice's upload", "head", "/api/v1/files/tus/{tus}", OWNED, headers=TUS),
    Row(
        "tus patch of alice's upload",
        "patch",
        "/api/v1/files/tus/{tus}",
        {**OWNED, "alice": 204, "staff": 204},
        b"a,b\n1,2\n",
        format="offset",
        headers={**TUS, "HTTP_UPLOAD_OFFSET": "0"},
        fresh_tus=True,
    ),
    Row("tus delete of alice's upload", "delete", "/api/v1/files/tus/{tus}", OWNED_DELETE, headers=TUS, fresh_tus=True),
    # --- logs -------------------------------------------------------------------
    Row(
        "log ingest (one)", "post", "/api/v1/logs/", LOG_WRITERS, {"level": "info", "message": "hello", "source": "svc"}
    ),
    Row(
        "log ingest (batch)",
        "post",
        "/api/v1/logs/",
        LOG_WRITERS,
        [{"level": "info", "message": "a"}, {"level": "error", "message": "b"}],
    ),
    Row("log list", "get", "/api/v1/logs/", STAFF),
    Row("log search", "post", "/api/v1/logs/search", STAFF, {"query": MARK}),
    Row("log correlation chain", "get", "/api/v1/logs/correlation/{correlation}", STAFF),
    Row("recent errors", "get", "/api/v1/logs/errors/recent", STAFF),
    Row("log statistics", "get", "/api/v1/logs/statistics", STAFF),
    Row("error trends", "get", "/api/v1/logs/trends/errors", STAFF),
    Row("archive logs", "post", "/api/v1/logs/archive", STAFF_ACCEPTED, {"older_than_days": 30}),
    Row("archives list", "get", "/api/v1/logs/archives", STAFF),
    Row("archives cleanup", "delete", "/api/v1/logs/archives/cleanup", STAFF, also={"staff": {200, 204}}),
    # --- alerts -----------------------------------------------------------------
    Row("alerts list", "get", "/api/v1/alerts/", STAFF),
    Row("alert detail", "get", "/api/v1/alerts/{alert}/", STAFF),
    Row("alert acknowledge", "post", "/api/v1/alerts/{alert}/acknowledge", STAFF),
    Row("alert resolve", "post", "/api/v1/alerts/{alert}/resolve", STAFF),
    # Without an escalation policy there is nothing to escalate to: 409.
    Row("alert escalate", "post", "/api/v1/alerts/{alert}/escalate", STAFF, also={"staff": {409}}),
    Row("alert history", "get", "/api/v1/alerts/{alert}/history", STAFF),
    Row("alert statistics", "get", "/api/v1/alerts/statistics", STAFF),
    Row("alert rules list", "get", "/api/v1/alerts/rules", STAFF),
    Row("alert rule detail", "get", "/api/v1/alerts/rules/{rule}", STAFF),
    Row(
        "alert rule create",
        "post",
        "/api/v1/alerts/rules",
        STAFF_CREATES,
        {"name": "new rule", "metric": "cpu_percent", "comparison": ">", "threshold": 90, "severity": "low"},
    ),
    Row("alert rule update", "patch", "/api/v1/alerts/rules/{rule}", STAFF, {"threshold": 95}),
    Row("alert rule delete", "delete", "/api/v1/alerts/rules/{idle_rule}", STAFF_DELETES),
    Row("alert rule evaluate", "post", "/api/v1/alerts/rules/{rule}/evaluate", STAFF),
    Row("escalation policies", "get", "/api/v1/alerts/escalation-policies", STAFF),
    Row(
        "escalation policy create",
        "post",
        "/api/v1/alerts/escalation-policies",
        STAFF_CREATES,
        {"name": "p", "levels": [{"delay_seconds": 60, "channels": ["{channel}"]}]},
    ),
    Row("channels", "get", "/api/v1/alerts/channels", STAFF),
    Row("silences", "get", "/api/v1/alerts/silences", STAFF),
    Row("notification attempts", "get", "/api/v1/alerts/notification-attempts", STAFF),
    # --- search -----------------------------------------------------------------
    Row("global search for alice's marker", "get", f"/api/v1/search/?q={MARK}", ANY_USER, finds_alice=True),
    Row("search suggestions", "get", f"/api/v1/search/suggestions?q={MARK[:8]}", ANY_USER),
    *[
        Row(f"search {kind}", "get", f"/api/v1/search/{kind}?q={MARK}", ANY_USER, finds_alice=True)
        for kind in ("pipelines", "connectors", "transformations", "templates", "functions", "files")
    ],
    *[
        Row(
            f"search {kind} (staff only)",
            "get",
            f"/api/v1/search/{kind}?q={MARK}",
            ANY_USER,
            also={"alice": {403}, "bob": {403}, "writer": {403}},
        )
        for kind in ("users", "logs", "alerts", "alert-rules")
    ],
    # --- health -----------------------------------------------------------------
    Row("liveness", "get", "/api/v1/health/live", PUBLIC),
    Row("readiness", "get", "/api/v1/health/ready", PUBLIC, also=dict.fromkeys(PERSONAS, {503})),
    Row("health details", "get", "/api/v1/health/", STAFF, also={p: {200, 503} for p in PERSONAS}),
    Row("metrics", "get", "/api/v1/health/metrics", STAFF),
    Row("database health", "get", "/api/v1/health/database", STAFF, also={"staff": {503}}),
    Row("cache health", "get", "/api/v1/health/cache", STAFF, also={"staff": {503}}),
    Row("system health", "get", "/api/v1/health/system", STAFF, also={"staff": {503}}),
]


def _route_exists(path: str) -> bool:
    try:
        resolve(path.split("?")[0])
        return True
    except Resolver404:
        return False


@pytest.fixture
def world(alice, bob, staff, writer, django_capture_on_commit_callbacks):
    """Alice's objects, made through the API where the API makes them."""
    alice_client = client_for(alice)
    ids: dict = {}

    def create(plural: str, body: dict) -> int:
        response = alice_client.post(f"/api/v1/{plural}/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    ids["template"] = create("pipeline-templates", {"name": f"{MARK} template"})
    ids["function"] = create("transformation-functions", {"name": f"{MARK} function", "code": MARK})
    ids["connector"] = create("connectors", {"name": f"{MARK} connector", "kind": "http"})
    ids["pipeline"] = create(
        "pipelines", {"name": f"{MARK} pipeline", "template": ids["template"], "connectors": [ids["connector"]]}
    )
    ids["transformation"] = create(
        "transformations", {"name": f"{MARK} step", "pipeline": ids["pipeline"], "function": ids["function"]}
    )
    # Validation (and the conversion) are queued on commit: run them now.
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = multipart_upload(alice_client, f"{MARK}.csv", f"name,secret\nalice,{MARK}\n".encode())
    assert uploaded.status_code == 201, uploaded.content
    ids["file"] = uploaded.json()["id"]
    ids["file_sha256"] = uploaded.json()["sha256"]
    ids["tus"] = _new_tus_upload(alice)
    ids["job"] = "00000000-0000-0000-0000-000000000000"
    if _route_exists(f"/api/v1/files/{ids['file']}/conversions"):
        with django_capture_on_commit_callbacks(execute=True):
            converted = alice_client.post(
                f"/api/v1/files/{ids['file']}/conversions", {"target_format": "json"}, format="json"
            )
        if converted.status_code == 202:
            ids["job"] = converted.json()["job"]
    ids["correlation"] = "c0ffee00c0ffee00c0ffee00c0ffee00"
    SystemLog.objects.create(
        timestamp=timezone.now() - timedelta(days=60),
        level="error",
        message=f"{MARK} failed",
        source="api",
        correlation_id=ids["correlation"],
    )
    rule = AlertRule.objects.create(
        name=f"{MARK} rule",
        metric="cpu_percent",
        comparison=">",
        threshold=1000,
        window_seconds=60,
        severity="high",
        cooldown_seconds=0,
        no_data="ok",
    )
    ids["rule"] = rule.pk
    ids["alert"] = Alert.objects.create(
        rule=rule, fingerprint="a" * 64, severity="high", triggered_at=timezone.now(), last_seen_at=timezone.now()
    ).pk
    ids["idle_rule"] = AlertRule.objects.create(
        name="idle rule",
        metric="cpu_percent",
        comparison=">",
        threshold=1000,
        window_seconds=60,
        severity="low",
        cooldown_seconds=0,
        no_data="ok",
    ).pk
    ids["channel"] = NotificationChannel.objects.create(
        name="ops mail", kind="email", config={"to": ["ops@example.com"]}
    ).pk
    ids["alice_texts"] = [MARK, ids["file"], ids["tus"], ids["file_sha256"]]
    return ids


def _new_tus_upload(alice) -> str:
    created = client_for(alice).post(
        "/api/v1/files/tus/",
        **TUS,
        HTTP_UPLOAD_LENGTH="8",
        HTTP_UPLOAD_METADATA=tus_metadata(filename=f"{MARK}-partial.csv"),
    )
    assert created.status_code == 201
    return created["Location"].rstrip("/").rsplit("/", 1)[-1]


def _fill(value, ids):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _call(client, row: Row, ids: dict):
    path = row.path.format(**ids)
    headers = dict(row.headers)
    if row.body == "upload":
        return multipart_upload(client, "mine.csv", b"a,b\n1,2\n")
    if row.body == "upload-into-pipeline":
        return multipart_upload(client, "mine.csv", b"a,b\n1,2\n", pipeline=ids["pipeline"])
    if row.format == "offset":
        return client.generic(
            row.method.upper(), path, data=row.body, content_type="application/offset+octet-stream", **headers
        )
    method = getattr(client, row.method)
    if row.body is None:
        return method(path, **headers)
    return method(path, _fill(row.body, ids), format="json", **headers)


def _check(row: Row, persona: str, user, world: dict) -> list[str]:
    path = row.path.format(**world)
    response = _call(client_for(user), row, world)
    allowed = {row.expect[persona], *row.also.get(persona, set())}
    body = b"".join(response.streaming_content) if response.streaming else response.content
    problems = []
    if response.status_code not in allowed:
        problems.append(
            f"{row.method.upper()} {path} as {persona}: {response.status_code} not in {sorted(allowed)}: {body[:300]!r}"
        )
    if persona in ("bob", "writer"):
        # A search echoes its own query; only alice's objects count as a leak.
        text = body.decode(errors="replace").replace(f'"{MARK}"', "").replace(f"q={MARK}", "")
        text += "".join(f"{k}: {v}\n" for k, v in response.items())
        problems += [f"{persona} saw alice's {s!r} in {path}" for s in world["alice_texts"] if str(s) in text]
    if response.status_code in (401, 403, 404) and body and "detail" not in response.json():
        problems.append(f"{path} as {persona}: error without detail: {body[:200]!r}")
    if persona in ("alice", "staff") and row.finds_alice and MARK not in body.decode(errors="replace"):
        problems.append(f"{path} as {persona}: alice's object not found, so the leak check proves nothing")
    return problems


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_access_matrix(row: Row, world, alice, bob, staff, writer):
    """One row, every persona; each persona's call is rolled back so the next
    one finds the world as it was (a delete by alice does not hide the
    object from staff)."""
    path = row.path.format(**world)
    assert _route_exists(path), f"{path.split('?')[0]} is in the matrix but not routed"
    users = {"anon": None, "alice": alice, "bob": bob, "staff": staff, "writer": writer}
    problems: list[str] = []
    for persona in PERSONAS:
        if row.fresh_tus:
            world["tus"] = _new_tus_upload(alice)
            world["alice_texts"].append(world["tus"])
        with transaction.atomic():
            problems += _check(row, persona, users[persona], world)
            transaction.set_rollback(True)
    assert not problems, "\n".join(problems)
