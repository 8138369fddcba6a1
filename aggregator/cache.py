"""The cache service: one small API over whichever cache is configured.

It works the same on django-redis (REDIS_URL set) and on the local-memory
fallback. Every call degrades instead of failing: when Redis is down, reads
miss, writes are dropped, the outage is logged, and the caller carries on
uncached. Nothing here ever turns a cache problem into a 500.

Response caching for read-heavy API endpoints lives here too
(`CachedResponseMixin`): keys carry the caller's identity, the path and the
query parameters, and a *generation* number per (scope, owner) that every
write bumps, so a client never reads stale data after its own write and one
user's data is never served to another.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpResponse
from rest_framework.response import Response

from aggregator.env import env_bool, env_int

log = structlog.get_logger("aggregator.cache")

# Default TTL of cached API responses; the cache's own TIMEOUT is the
# default for everything else.
RESPONSE_TTL = env_int("CACHE_RESPONSE_TTL", 300, minimum=1)
# Off: every read goes to the database (for comparisons and debugging).
RESPONSES_ENABLED = env_bool("CACHE_RESPONSES", True)
# Keys deleted per UNLINK while walking a pattern with SCAN.
SCAN_BATCH = 500

# After a cache error, calls skip the cache for this long (see _safe).
BREAKER_SECONDS = env_int("CACHE_BREAKER_SECONDS", 5, minimum=0)

_down_until = 0.0
# Per-process counts of our own reads, for the local-memory backend (Redis
# reports its own keyspace hits and misses).
_local_stats = {"hits": 0, "misses": 0}


def _backend() -> Any:
    # Looked up on every call (not bound at import) so that tests and
    # settings overrides that swap CACHES are honoured.
    return caches["default"]


def _is_redis() -> bool:
    return type(_backend()).__module__.startswith("django_redis")


def _ops() -> Any:
    """The object our calls go through. On django-redis that is its client,
    which raises on a connection error instead of silently answering None
    (the backend's IGNORE_EXCEPTIONS), so we can tell an outage from a miss."""
    backend = _backend()
    return backend.client if _is_redis() else backend


def _redis_client(write: bool = True):
    return _backend().client.get_client(write=write)


def _safe(operation: str, default: Any, fn: Callable[[], Any]) -> Any:
    """Runs one cache call; a backend error is logged and answered with `default`.

    After an error the cache is skipped for BREAKER_SECONDS, so an outage
    costs one connection timeout per process and interval, not one per call.
    """
    global _down_until
    if time.monotonic() < _down_until:
        return default
    try:
        return fn()
    except Exception as exc:
        _down_until = time.monotonic() + BREAKER_SECONDS
        log.warning(
            "cache_unavailable",
            operation=operation,
            error=f"{type(exc).__name__}: {exc}",
            retry_in_seconds=BREAKER_SECONDS,
        )
        return default


def available() -> bool:
    """False while the breaker is open after a cache error."""
    return time.monotonic() >= _down_until


def reset_breaker() -> None:
    global _down_until
    _down_until = 0.0


# --- Plain key/value -----------------------------------------------------------


def get(key: str, default: Any = None) -> Any:
    """The cached value, or `default` on a miss. None is never a stored value."""
    value = _safe("get", None, lambda: _ops().get(key))
    if value is None:
        _local_stats["misses"] += 1
        return default
    _local_stats["hits"] += 1
    return value


def set(key: str, value: Any, ttl: int | None = None) -> bool:
    """Stores `value` for `ttl` seconds (the cache's default TTL when None)."""
    kwargs = {} if ttl is None else {"timeout": ttl}
    result = _safe("set", False, lambda: _ops().set(key, value, **kwargs))
    # django-redis answers True; LocMemCache answers None on success.
    return result is not False


def add(key: str, value: Any, ttl: int | None = None) -> bool:
    """Stores `value` only if `key` is absent; True when it was stored."""
    kwargs = {} if ttl is None else {"timeout": ttl}
    return bool(_safe("add", False, lambda: _ops().add(key, value, **kwargs)))


def delete(key: str) -> bool:
    return bool(_safe("delete", False, lambda: _ops().delete(key)))


def remember(key: str, compute: Callable[[], Any], ttl: int | None = None) -> Any:
    """Query-result caching: the cached value of `key`, computing and storing
    it on a miss. A None result is not cached (it means "nothing")."""
    value = get(key)
    if value is not None:
        return value
    value = compute()
    if value is not None:
        set(key, value, ttl)
    return value


def delete_pattern(pattern: str) -> int:
    """Deletes every key matching a glob pattern and answers how many.

    On Redis this walks the keyspace with SCAN (never KEYS, which blocks the
    server) and unlinks in batches.
    """
    if _is_redis():

        def run() -> int:
            client = _redis_client()
            full_pattern = _backend().client.make_pattern(pattern)
            count, batch = 0, []
            for key in client.scan_iter(match=full_pattern, count=SCAN_BATCH):
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    count += client.unlink(*batch)
                    batch = []
            if batch:
                count += client.unlink(*batch)
            return count

        return _safe("delete_pattern", 0, run)
    if isinstance(_backend(), LocMemCache):
        backend = _backend()
        full_pattern = backend.make_key(pattern)
        # LocMemCache has no pattern API; walk its dict under its own lock.
        with backend._lock:
            matching = [key for key in backend._cache if fnmatch.fnmatchcase(key, full_pattern)]
            for key in matching:
                backend._delete(key)
        return len(matching)
    raise NotImplementedError(f"delete_pattern does not support {type(_backend()).__name__}")


# --- Counters -------------------------------------------------------------------


def incr(key: str, delta: int = 1, ttl: int | None = None) -> int | None:
    """Atomically adds `delta` to a counter, creating it (with `ttl`) at 0.

    The TTL is set only when the counter is created, so a fixed window (for
    rate limits) ends when it should. None when the cache is unavailable.
    """

    def run() -> int:
        kwargs = {} if ttl is None else {"timeout": ttl}
        ops = _ops()
        ops.add(key, 0, **kwargs)
        try:
            return ops.incr(key, delta)
        except ValueError:
            # Expired between add and incr: start a new window.
            ops.set(key, delta, **kwargs)
            return delta

    return _safe("incr", None, run)


def counter(key: str) -> int:
    value = get(key, 0)
    return int(value or 0)


# A sliding-window rate limit in one round trip: the window is a sorted set
# of request times; expired times are dropped, and the request is recorded
# only when it is allowed (a refused request does not extend the wait), as
# DRF's own throttle does with a pickled list in two round trips.
_SLIDING_WINDOW_LUA = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(duration))
  return {1, tostring(now)}
end
return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
"""


def sliding_window_hit(key: str, now: float, duration: float, limit: int) -> tuple[bool, float] | None:
    """Records a request at `now` under `key` if fewer than `limit` were
    recorded in the last `duration` seconds. Answers (allowed, time of the
    oldest request in the window), or None when the cache is unavailable or
    is not Redis (the caller then counts some other way)."""
    if not _is_redis():
        return None

    def run() -> tuple[bool, float]:
        # EVALSHA, loading the script on the first NOSCRIPT.
        script = _redis_client().register_script(_SLIDING_WINDOW_LUA)
        member = f"{now!r}:{os.urandom(6).hex()}"
        allowed, oldest = script(keys=[str(_backend().make_key(key))], args=[repr(now), duration, limit, member])
        return bool(allowed), float(oldest)

    return _safe("sliding_window_hit", None, run)


# --- Stats --------------------------------------------------------------------


def stats() -> dict[str, Any]:
    """Hits, misses, hit ratio, memory and key count, for health and metrics.

    `available` is False when the backend cannot be reached; the numbers
    are then zero rather than an error.
    """
    if _is_redis():

        def run() -> dict[str, Any]:
            client = _redis_client(write=False)
            info = client.info()
            return {
                "backend": "redis",
                "available": True,
                "hits": int(info.get("keyspace_hits", 0)),
                "misses": int(info.get("keyspace_misses", 0)),
                "memory_bytes": int(info.get("used_memory", 0)),
                "keys": int(client.dbsize()),
            }

        result = _safe(
            "stats",
            {"backend": "redis", "available": False, "hits": 0, "misses": 0, "memory_bytes": 0, "keys": 0},
            run,
        )
    else:
        backend = _backend()
        entries = dict(getattr(backend, "_cache", {}))
        result = {
            "backend": "locmem",
            "available": True,
            "hits": _local_stats["hits"],
            "misses": _local_stats["misses"],
            # LocMemCache stores pickles, so their length is the memory used.
            "memory_bytes": sum(len(value) for value in entries.values() if isinstance(value, bytes)),
            "keys": len(entries),
        }
    total = result["hits"] + result["misses"]
    result["hit_ratio"] = round(result["hits"] / total, 4) if total else 0.0
    return result


def ping() -> bool:
    """True when the cache answers a write and a read of a probe key."""
    probe = f"health:probe:{time.time_ns()}"
    if not set(probe, 1, ttl=5):
        return False
    ok = get(probe) == 1
    delete(probe)
    return ok


# --- Response caching -------------------------------------------------------------
#
# A cached response is stored under
#   resp:<scope>:<identity>:<digest of host, path, query, format>
# as (generation, body bytes, content type), where <generation> belongs to
# the caller's slice of the scope: their own rows for a user, every row for
# staff. A write to a row owned by U bumps the generation of U and of staff,
# so an entry stored under an older generation no longer matches and both
# miss on their next read; old entries are overwritten or expire by TTL. A
# read fetches the generation and the entry in one MGET, and a hit answers
# the stored bytes as they are: no pickle of the data, no re-rendering.


def _generation_key(scope: str, owner: Any) -> str:
    return f"gen:{scope}:{owner}"


def generation(scope: str, owner: Any) -> str | None:
    """The current generation of (scope, owner), created when absent.

    A fresh generation is a nanosecond timestamp, not 0, so if Redis evicts
    or loses the key, older cached responses are not resurrected. None
    when the cache is unavailable (then nothing is cached).
    """
    key = _generation_key(scope, owner)
    value = get(key)
    if value is None:
        add(key, time.time_ns(), ttl=None)
        value = get(key)
    return None if value is None else str(value)


def get_many(keys: list[str]) -> dict[str, Any]:
    """The cached values of those keys that are present (one MGET on Redis)."""
    found = _safe("get_many", None, lambda: _ops().get_many(keys))
    if found is None:
        return {}
    _local_stats["hits"] += len(found)
    _local_stats["misses"] += len(keys) - len(found)
    return found


def bump(scope: str, owners: Iterable[Any]) -> None:
    """Invalidates the cached responses of `scope` for these owners and staff."""
    for owner in {*owners, "staff"}:
        # A new timestamp rather than incr: works on every backend, and a
        # missing key simply gets a new value.
        set(_generation_key(scope, owner), time.time_ns(), ttl=None)


def _identity(user: Any) -> tuple[str, Any] | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_staff:
        return f"staff{user.pk}", "staff"
    return f"user{user.pk}", user.pk


def response_cache_keys(request: Any, scope: str) -> tuple[str, str] | None:
    """(entry key, generation key) of this request, or None when it is not
    cacheable (anonymous caller)."""
    identity = _identity(request.user)
    if identity is None:
        return None
    who, owner = identity
    fmt = getattr(getattr(request, "accepted_renderer", None), "format", "")
    query = sorted((key, value) for key in request.query_params for value in request.query_params.getlist(key))
    raw = repr((request.get_host(), request.path, query, fmt))
    digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
    return f"resp:{scope}:{who}:{digest}", _generation_key(scope, owner)


class CachedResponseMixin:
    """Caches the `list` (and `retrieve`) responses of a DRF viewset.

    Set `cache_scope` to a name shared by every model whose writes can change
    these responses, and register those models with `invalidate_on_write`
    in an AppConfig.ready(). Only 200 responses are cached, per caller, as
    the bytes the renderer produced; HTML (the browsable API, whose forms
    carry a CSRF token) is never cached.
    """

    cache_scope: str = ""
    cache_ttl: int | None = None
    cached_actions = ("list", "retrieve")

    def _cached(self, request, handler, *args, **kwargs):
        # Reached after authentication, permissions, throttling and content
        # negotiation (DRF's initial()), so a hit is still throttled.
        enabled = RESPONSES_ENABLED and self.cache_scope and request.accepted_renderer.media_type != "text/html"
        keys = response_cache_keys(request, self.cache_scope) if enabled else None
        if keys is None:
            return handler(request, *args, **kwargs)
        key, gen_key = keys
        found = get_many([gen_key, key])
        gen, entry = found.get(gen_key), found.get(key)
        if gen is not None and entry is not None and entry[0] == gen:
            response = HttpResponse(entry[1], content_type=entry[2])
            response["X-Cache"] = "HIT"
            return response
        if gen is None:
            gen = generation(self.cache_scope, _identity(request.user)[1])
            if gen is None:  # the cache is unavailable
                return handler(request, *args, **kwargs)
        response = handler(request, *args, **kwargs)
        # Stored once rendered (finalize_response); the generation read
        # before the query, so a write meanwhile makes this entry stale.
        self._cache_store = (key, int(gen))
        response["X-Cache"] = "MISS"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        store = getattr(self, "_cache_store", None)
        if store is not None and isinstance(response, Response) and response.status_code == 200:
            key, gen = store
            response.render()
            entry = (gen, bytes(response.content), response["Content-Type"])
            set(key, entry, self.cache_ttl or RESPONSE_TTL)
        return response

    def list(self, request, *args, **kwargs):
        return self._cached(request, super().list, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        return self._cached(request, super().retrieve, *args, **kwargs)


def _owners_of(instance: Model) -> list[Any]:
    owner = getattr(instance, "owner_id", None)
    if owner is None:
        owner = getattr(instance, "user_id", None)
    return [owner] if owner is not None else []


def _on_write(scope: str) -> Callable[..., None]:
    def handler(sender, instance, **kwargs) -> None:
        owners = _owners_of(instance)
        # Now, so that reads inside the same transaction (and in tests that
        # never commit) miss; and again after commit, because a concurrent
        # read between the two may have cached the pre-commit rows under the
        # generation set now.
        bump(scope, owners)
        transaction.on_commit(lambda: bump(scope, owners), robust=True)

    return handler


_connected: dict[str, Callable[..., None]] = {}


def invalidate_on_write(scope: str, models: Iterable[type[Model]]) -> None:
    """Any save, delete or many-to-many change of these models invalidates
    the cached responses of `scope` for the row's owner and for staff."""
    handler = _connected.setdefault(scope, _on_write(scope))
    for model in models:
        uid = f"cache-invalidate:{scope}:{model._meta.label}"
        post_save.connect(handler, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(handler, sender=model, weak=False, dispatch_uid=uid)
        for field in model._meta.many_to_many:
            m2m_changed.connect(
                handler, sender=field.remote_field.through, weak=False, dispatch_uid=f"{uid}:{field.name}"
            )
