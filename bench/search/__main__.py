"""Search and response-cache benchmark, on PostgreSQL.

    DATABASE_URL=postgres://.../agg_search REDIS_URL=redis://.../10 \\
        .venv/bin/python -m bench.search 1000000 [--queries 200] [--reuse] [--no-http] [--only-cache]

Prints p50/p95 of global search and of suggestions (ours: one query over
the search index; the peer: the seed's ILIKE over each table, merged) for
a user and for staff, then requests/s of a core list endpoint with and
without the response cache (gunicorn + hey on 127.0.0.1:8501), and peak
memory of this process. `--reuse` skips rebuilding the data.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from bench.search import data, http, peer, standins  # noqa: E402
from search import query  # noqa: E402

standins.install()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(fn, inputs, sql: list[float] | None = None) -> list[float]:
    """Seconds per call of fn(item); with `sql`, also appends the seconds
    each call spent waiting on the database (every statement it ran)."""
    samples = []
    for item in inputs:
        spent = [0.0]

        def wrapper(execute, sql_text, params, many, context, spent=spent):
            started = time.perf_counter()
            try:
                return execute(sql_text, params, many, context)
            finally:
                spent[0] += time.perf_counter() - started

        with connection.execute_wrapper(wrapper):
            started = time.perf_counter()
            fn(item)
            samples.append(time.perf_counter() - started)
        if sql is not None:
            sql.append(spent[0])
    return samples


def make_queries(count: int, rng: random.Random) -> dict[str, list[str]]:
    words = data.vocabulary()

    def typo(word: str) -> str:
        if len(word) < 5:
            return word
        index = rng.randrange(1, len(word) - 2)
        return word[:index] + word[index + 1] + word[index] + word[index + 2 :]

    return {
        "search": [
            rng.choice(
                [
                    lambda: rng.choice(words),
                    lambda: f"{rng.choice(words)} {rng.choice(words)}",
                    lambda: rng.choice(data.DOMAIN),
                    lambda: f"{rng.choice(data.DOMAIN)} {rng.choice(words)}",
                    lambda: f'"{rng.choice(data.DOMAIN)} {rng.choice(data.DOMAIN)}"',
                ]
            )()
            for _ in range(count)
        ],
        "suggest": [
            rng.choice(
                [
                    lambda: rng.choice(words)[:3],
                    lambda: rng.choice(words)[:5],
                    lambda: rng.choice(data.DOMAIN)[:4],
                    lambda: typo(rng.choice(words)),
                ]
            )()
            for _ in range(count)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("entities", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep the data of the previous run")
    parser.add_argument("--no-http", action="store_true", help="skip the cached/uncached list benchmark")
    parser.add_argument(
        "--only-cache", action="store_true", help="only the cached/uncached list benchmark (implies --reuse)"
    )
    parser.add_argument("--no-reindex", action="store_true", help="skip timing manage.py reindex on one type")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/search needs DATABASE_URL=postgres://...")

    print(f"== bench/search: {args.entities:,} entities over {len(data.TYPES)} types, PostgreSQL ==")
    if args.only_cache:
        users = get_user_model().objects.order_by("id")
        http.run(user=users.filter(is_staff=False).first())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak memory of the bench process: {peak:.0f} MB")
        return
    if not args.reuse:
        built = data.build(args.entities, reindex_sample=not args.no_reindex)
        print(f"  entries per type: {built['counts']}")
    users = get_user_model().objects.order_by("id")
    staff = users.filter(is_staff=True).first()
    regular = users.filter(is_staff=False).first()
    rng = random.Random(42)
    queries = make_queries(args.queries, rng)
    warm = make_queries(20, random.Random(1))

    rows = []
    for who, user in (("user", regular), ("staff", staff)):
        user_id = None if user.is_staff else user.pk
        types = query.visible_types(user)

        def ours_search(q, user=user, types=types):
            return query.search(user=user, q=q, types=types, limit=20, offset=0)

        def ours_suggest(q, user=user, types=types):
            return query.suggest(user=user, q=q, types=types, limit=10)

        def peer_search(q, user_id=user_id):
            return peer.search(user_id=user_id, q=q)

        def peer_suggest(q, user_id=user_id):
            return peer.suggest(user_id=user_id, q=q)

        for name, ours, theirs, key in (
            ("global search", ours_search, peer_search, "search"),
            ("suggestions", ours_suggest, peer_suggest, "suggest"),
        ):
            timed(ours, warm[key])
            timed(theirs, warm[key][:5])
            sql: list[float] = []
            ours_p = percentiles(timed(ours, queries[key], sql))
            # The fan-out is slow: a quarter of the queries is plenty for its percentiles.
            theirs_p = percentiles(timed(theirs, queries[key][: max(20, len(queries[key]) // 4)]))
            rows.append((f"{name} ({who})", ours_p, percentiles(sql), theirs_p))

    print()
    print("in process (search.query, as the API calls it; SQL = time in the database driver):")
    print(
        f"{'':<26}{'ours p50':>10}{'ours p95':>10}{'SQL p50':>10}{'SQL p95':>10}"
        f"{'ILIKE p50':>11}{'ILIKE p95':>11}{'speed-up p95':>14}"
    )
    for label, (o50, o95), (s50, s95), (t50, t95) in rows:
        print(
            f"{label:<26}{o50:>8.1f}ms{o95:>8.1f}ms{s50:>8.1f}ms{s95:>8.1f}ms"
            f"{t50:>9.1f}ms{t95:>9.1f}ms{t95 / o95:>13.1f}x"
        )

    if not args.no_http:
        print()
        samples = http.latencies(users={"user": regular, "staff": staff}, queries=queries, warm=warm)
        print("over HTTP (gunicorn, 2 workers, one client at a time, token auth, JSON):")
        for (key, who), times in samples.items():
            p50, p95 = percentiles(times)
            label = f"{'global search' if key == 'search' else 'suggestions'} ({who})"
            print(f"  {label:<24}p50 {p50:>6.1f}ms   p95 {p95:>6.1f}ms")

    if not args.no_http:
        print()
        http.run(user=regular)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of the bench process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
