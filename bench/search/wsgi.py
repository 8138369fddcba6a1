"""The project's WSGI application with the bench's stand-in providers
(bench/search/standins.py), so that a server under benchmark resolves the
files/logs/alerts/alert-rules entries against the bench_* tables, as the
bench process does, instead of dropping them as vanished."""

from aggregator.wsgi import application
from bench.search import standins

standins.install()

__all__ = ["application"]
