"""The project's WSGI application with POST logs/search's text match swapped,
for the HTTP peers of bench (b). Chosen by BENCH_LOG_SEARCH_PEER:

- `ilike`: the text query becomes `message ILIKE '%query%'` (the issue's
  peer): the same view, authentication, throttle, validation, first-page
  statement (page + count of up to 10,001 matches in one statement, the plan
  left to PostgreSQL), result building and JSON rendering; only the full-text
  match (and so its index, its text-first statement and its rank) is gone.
- `floor`: the search finds nothing without asking the database: what a
  request to the endpoint costs before any search (the fixed part both sides
  pay).

Bench-only: nothing in the project imports this module.
"""

import os

from aggregator.wsgi import application
from monitoring.logs import selectors
from monitoring.models import SystemLog

PEER = os.environ["BENCH_LOG_SEARCH_PEER"]


def _ilike_matching(search: selectors.LogSearch):
    queryset = SystemLog.objects.filter(selectors._conditions(search))
    if search.query:
        queryset = queryset.extra(where=["message ILIKE %s"], params=[f"%{search.query}%"])
    return queryset


def _nothing_found(search, *, limit, cap, offset=0, after=None) -> selectors.SearchPage:
    return selectors.SearchPage([], False, 0, True)


if PEER == "ilike":
    selectors._matching = _ilike_matching
    selectors.full_text_supported = lambda: False
elif PEER == "floor":
    selectors.log_search_page = _nothing_found
else:
    raise SystemExit(f"BENCH_LOG_SEARCH_PEER: ilike or floor, not {PEER!r}")

__all__ = ["application"]
