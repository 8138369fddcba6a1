"""The grouped evaluation round (rules_measure / rules_evaluate) against the
per-rule path (rule_measure / rule_evaluate) on generated data: the same
readings for every metric, the same states and alerts over a sequence of
rounds, and a query count that does not grow with the number of rules."""

import random
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from files.models import FileStatus, FileUpload
from monitoring.alerts import metrics, services
from monitoring.alerts.services.evaluation import rule_measure
from monitoring.models import Alert, AlertAction, AlertRule, SystemLog
from tests.monitoring.alert_fixtures import *  # noqa: F403
from tests.monitoring.alert_fixtures import make_rule

pytestmark = pytest.mark.django_db

LEVELS = ["debug", "info", "warning", "error", "critical"]
SOURCES = ["api", "billing", "worker", "edge"]
MESSAGES = ["ok", "Payment FAILED for order 7", "payment failed again", "upstream timeout", "TIMEOUT on read"]
STATUSES = [None, None, 200, 201, 404, 500, 503]


def generate_logs(*, now, count: int, seed: int, span_seconds: int = 7200) -> None:
    """Random lines over the last `span_seconds`, plus lines exactly on the
    window edges the rules below use (since is inside, until is outside)."""
    rng = random.Random(seed)
    moments = [now - timedelta(seconds=rng.uniform(0, span_seconds)) for _ in range(count)]
    moments += [now - timedelta(seconds=edge) for edge in (60, 600, 3600)] + [now]
    SystemLog.objects.bulk_create(
        SystemLog(
            timestamp=moment,
            level=rng.choice(LEVELS),
            source=rng.choice(SOURCES),
            message=rng.choice(MESSAGES),
            http_status=rng.choice(STATUSES),
        )
        for moment in moments
    )


def generate_uploads(alice, *, now) -> None:
    for index, (status, age) in enumerate(
        [("failed", 30), ("failed", 400), ("failed", 90_000), ("validating", 200), ("validating", 4000)]
    ):
        upload = FileUpload.objects.create(owner=alice, filename=f"f{index}.csv", size=10, status=FileStatus(status))
        FileUpload.objects.filter(pk=upload.pk).update(updated_at=now - timedelta(seconds=age))


def log_questions() -> list[tuple[dict, int]]:
    questions = []
    for level in (None, "error", "info"):
        for source in (None, "api", "nobody"):
            for text in (None, "payment failed", "TIMEOUT"):
                params = {key: value for key, value in (("level", level), ("source", source), ("text", text)) if value}
                questions += [(params, window) for window in (60, 600, 3600)]
    return questions


RULES_BY_METRIC = {
    "log_count": log_questions(),
    "log_rate": log_questions(),
    "http_error_ratio": [({}, window) for window in (1, 60, 600, 3600)],
    "files_failed": [({}, window) for window in (60, 300, 86_400)],
    "files_stuck": [({}, window) for window in (60, 300, 86_400)],
    "db_health": [({}, 60)],
    "cache_health": [({}, 60)],
    "queue_depth": [({"queue": "alerts-round-test"}, 60)],
    "no_such_metric": [({}, 60)],
}


def make_rules(metric_names) -> list[AlertRule]:
    rules = []
    for name in metric_names:
        for index, (params, window) in enumerate(RULES_BY_METRIC[name]):
            rules.append(
                make_rule(name=f"{name} {index}", metric=name, metric_params=params, window_seconds=window, threshold=3)
            )
    return rules


@pytest.mark.parametrize("metric_names", [[name] for name in RULES_BY_METRIC] + [list(RULES_BY_METRIC)])
def test_the_grouped_readings_equal_the_per_rule_readings(metric_names, alice):
    now = timezone.now()
    generate_logs(now=now, count=400, seed=7)
    generate_uploads(alice, now=now)
    rules = make_rules(metric_names)

    grouped = services.rules_measure(rules=rules, now=now)

    per_rule = {rule.pk: rule_measure(rule=rule, now=now) for rule in rules}
    assert grouped == per_rule
    # The data is there: not everything reads zero or no data.
    assert len({value for value, _ in grouped.values()}) > 1 or metric_names[0] in (
        "db_health",
        "cache_health",
        "queue_depth",
        "no_such_metric",
    )


def test_a_grouped_metric_that_fails_is_no_data_for_its_rules_only(test_metric):
    @metrics.register
    class Broken(metrics.Metric):
        name = "broken_grouped"
        grouped = True

        def measure_many(self, *, requests):
            raise metrics.MetricError("store offline")

    try:
        broken = [make_rule(name=f"b{n}", metric="broken_grouped", window_seconds=60 * (n + 1)) for n in range(3)]
        fine = make_rule(name="fine")
        test_metric.set(50)
        readings = services.rules_measure(rules=[*broken, fine], now=timezone.now())
    finally:
        metrics.unregister("broken_grouped")
    assert [readings[rule.pk] for rule in broken] == [(None, "store offline")] * 3
    assert readings[fine.pk] == (50, "")


def test_a_metric_that_is_not_grouped_is_measured_once_per_distinct_question(test_metric, monkeypatch):
    calls = []
    original = metrics.REGISTRY["test_value"].measure

    def counting(**kwargs):
        calls.append(kwargs["params"].get("key", ""))
        return original(**kwargs)

    monkeypatch.setattr(metrics.REGISTRY["test_value"], "measure", counting)
    for index in range(6):
        make_rule(name=f"r{index}", metric_params={"key": "a" if index < 4 else "b"})
    services.rules_evaluate_all()
    assert sorted(calls) == ["a", "b"]


def _snapshot() -> dict:
    """Everything a round decides, keyed by rule name (ids differ between
    the two runs only if the sequence differs)."""
    rules = {
        rule.name: (rule.state, rule.last_value, rule.last_error, rule.pending_since, rule.last_breach_at)
        for rule in AlertRule.objects.all()
    }
    alerts = sorted(
        (
            alert.rule.name,
            alert.status,
            alert.occurrence_count,
            alert.value,
            alert.message,
            alert.resolved_automatically,
        )
        for alert in Alert.objects.select_related("rule")
    )
    actions = sorted(AlertAction.objects.values_list("alert__rule__name", "action"))
    return {"rules": rules, "alerts": alerts, "actions": actions}


def _run_sequence(evaluate, t0) -> list[dict]:
    """Five rounds a minute apart over rules with pending periods, keep-firing,
    every no-data behaviour and both comparisons, with fresh log lines
    arriving between rounds (the same lines in every run)."""
    for index, (params, window) in enumerate(log_questions()[::4]):
        make_rule(
            name=f"count {index}",
            metric="log_count" if index % 3 else "log_rate",
            metric_params=params,
            window_seconds=window,
            comparison=">" if index % 2 else "<=",
            threshold=index % 5,
            pending_seconds=[0, 60, 120][index % 3],
            keep_firing_seconds=[0, 90][index % 2],
            no_data=["ok", "alert", "keep"][index % 3],
        )
    for index, window in enumerate((1, 60, 600)):
        make_rule(
            name=f"http {index}",
            metric="http_error_ratio",
            window_seconds=window,
            threshold=0.2,
            no_data=["ok", "alert", "keep"][index],
        )
    snapshots = []
    for step in range(5):
        now = t0 + timedelta(seconds=60 * step)
        generate_logs(now=now, count=60, seed=step, span_seconds=900)
        evaluate(now)
        snapshots.append(_snapshot())
    return snapshots


def _per_rule(now) -> None:
    for rule in AlertRule.objects.filter(is_active=True).order_by("pk"):
        services.rule_evaluate(rule=rule, now=now)


def _round(now) -> None:
    services.rules_evaluate(rules=list(AlertRule.objects.filter(is_active=True).order_by("pk")), now=now)


def _rolled_back(evaluate, t0) -> list[dict]:
    with transaction.atomic():
        snapshots = _run_sequence(evaluate, t0)
        transaction.set_rollback(True)
    return snapshots


def test_rounds_move_rules_and_alerts_exactly_as_the_per_rule_path():
    t0 = timezone.now()
    by_rule = _rolled_back(_per_rule, t0)
    grouped = _rolled_back(_round, t0)
    assert grouped == by_rule
    # The sequence exercises what it claims to: rules pend, fire and resolve.
    states = {state for snapshot in by_rule for state, *_ in snapshot["rules"].values()}
    assert states == {"inactive", "pending", "firing"}
    assert {"fired", "auto_resolved"} <= {action for _, action in by_rule[-1]["actions"]}


def _steady_round_queries(rule_count: int) -> int:
    """Queries of a steady-state round over `rule_count` log rules, half of
    them firing, each with its own (level, source) over one of 3 windows."""
    now = timezone.now()
    generate_logs(now=now, count=200, seed=3)
    for index in range(rule_count):
        make_rule(
            name=f"q{index}",
            metric="log_count",
            metric_params={"level": LEVELS[index % 5], "source": f"svc-{index}"},
            window_seconds=(60, 600, 3600)[index % 3],
            comparison=">=" if index % 2 else ">",
            threshold=0 if index % 2 else 1_000_000,
        )
    services.rules_evaluate_all(now=now)  # Opens the alerts.
    with CaptureQueriesContext(connection) as same:
        counts = services.rules_evaluate_all(now=now)  # Same readings.
    assert counts == {"evaluated": rule_count, "firing": rule_count // 2, "failed": 0}
    generate_logs(now=now + timedelta(seconds=30), count=50, seed=4, span_seconds=30)
    with CaptureQueriesContext(connection) as moved:
        services.rules_evaluate_all(now=now + timedelta(seconds=30))  # New readings.
    return len(same.captured_queries), len(moved.captured_queries)


def test_a_rounds_query_count_does_not_grow_with_the_number_of_rules():
    with transaction.atomic():
        few = _steady_round_queries(10)
        transaction.set_rollback(True)
    many = _steady_round_queries(60)
    assert few == many
    assert max(many) <= 12


@pytest.mark.django_db(transaction=True)
def test_overlapping_rounds_neither_deadlock_nor_open_a_second_alert():
    """GIVEN 30 log rules, half of them breached, WHEN four rounds run at the
    same moment, twice (opening, then steady), each on its own connection
    THEN every round evaluates every rule and each breached rule has one
    alert that counted all eight evaluations."""
    import threading

    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (PostgreSQL)")
    now = timezone.now()
    generate_logs(now=now, count=100, seed=5)
    for index in range(30):
        make_rule(
            name=f"c{index}",
            metric="log_count",
            metric_params={"source": SOURCES[index % 4], "level": LEVELS[index % 5]},
            comparison=">=" if index % 2 else ">",
            threshold=0 if index % 2 else 1_000_000,
        )
    outcomes: list = []

    def round_() -> None:
        try:
            barrier.wait()
            outcomes.append(services.rules_evaluate_all(now=now))
        except BaseException as exc:  # Reported below; a thread cannot fail the test itself.
            outcomes.append(exc)
        finally:
            connection.close()

    for _ in range(2):
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=round_) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert outcomes == [{"evaluated": 30, "firing": 15, "failed": 0}] * 8
    assert Alert.objects.count() == 15
    assert set(Alert.objects.values_list("occurrence_count", flat=True)) == {8}
    assert AlertAction.objects.filter(action="fired").count() == 15


def test_a_held_alerts_new_message_reaches_the_search_index(test_metric, django_capture_on_commit_callbacks):
    """The batch writes alerts with one UPDATE, not save(); an alert whose
    message changed is still re-indexed (its message is its search title)."""
    from search.models import SearchEntry

    rule = make_rule()
    test_metric.set(50)
    with django_capture_on_commit_callbacks(execute=True):
        alert = services.rule_evaluate(rule=rule).alert
    test_metric.set(70)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.rules_evaluate(rules=[AlertRule.objects.get(pk=rule.pk)], now=timezone.now())[rule.pk]
    assert result.alert.pk == alert.pk and result.alert.occurrence_count == 2
    assert SearchEntry.objects.get(type="alerts", object_id=str(alert.pk)).title == "test_value is 70, > 10"
