"""What a token-cache miss costs next to a hit (aggregator/authentication.py).

    DATABASE_URL=postgres://.../agg_x_bench REDIS_URL=redis://.../N \\
        flock /tmp/agg-bench.lock .venv/bin/python -m bench.auth_token [--rounds 2000]

Times `CachedTokenAuthentication.authenticate_credentials` in this process:
hits (the user from the cache) and misses (the entry dropped before each
call: one query, token join user, then the cache write). With a TTL of T
seconds a busy token costs one miss per T seconds, shared by every process
on the same Redis; the figures say what a shorter T adds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from aggregator import cache  # noqa: E402
from aggregator.authentication import TOKEN_TTL, CachedTokenAuthentication, token_cache_key  # noqa: E402


def _timed(calls: int, before=None) -> list[float]:
    auth = CachedTokenAuthentication()
    samples = []
    for _ in range(calls):
        if before:
            before()
        start = time.perf_counter()
        auth.authenticate_credentials(KEY)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _line(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95)]
    return f"{name:5} {len(samples):6} {statistics.median(samples):8.3f} {p95:8.3f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-token-user")
    KEY = Token.objects.get_or_create(user=user)[0].key
    _timed(200)  # warm the pool and the cache
    hits = _timed(args.rounds)
    misses = _timed(args.rounds, before=lambda: cache.delete(token_cache_key(KEY)))
    extra = statistics.median(misses) - statistics.median(hits)
    print(f"token cache: {django.db.connection.vendor}, cache {type(cache._backend()).__name__}, TTL {TOKEN_TTL} s")
    print("kind   calls   p50 ms   p95 ms")
    print(_line("hit", hits))
    print(_line("miss", misses))
    for ttl in (300, 60, 10):
        print(f"TTL {ttl:3} s: one miss per active token per {ttl} s = {extra / ttl:.4f} ms of work per token-second")
