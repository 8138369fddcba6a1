"""Search tunables, read from the environment (defaults in docs/SEARCH.md)."""

from aggregator.env import env_float, env_int

# Results per page when the caller does not say, and the most they may ask.
DEFAULT_LIMIT = env_int("SEARCH_DEFAULT_LIMIT", 20, minimum=1)
MAX_LIMIT = env_int("SEARCH_MAX_LIMIT", 100, minimum=1)
# Deep pages cost a sort of everything before them; nobody reads page 500.
MAX_OFFSET = env_int("SEARCH_MAX_OFFSET", 10_000, minimum=0)
# Longer queries are refused: no useful query is this long, and a huge one
# only makes the database work harder.
MAX_QUERY_LENGTH = env_int("SEARCH_MAX_QUERY_LENGTH", 200, minimum=1)
# Matches ranked and counted per search. A broad word can match a large part
# of the index, and each match ranked or counted costs a table page read, so
# beyond this many the first found are ranked (the rest follow, newest
# first) and `counts` are lower bounds (`exact: false` in the answer).
RANK_WINDOW = env_int("SEARCH_RANK_WINDOW", 200, minimum=1)
SUGGESTION_LIMIT = env_int("SEARCH_SUGGESTION_LIMIT", 10, minimum=1)
# How close (pg_trgm similarity, 0-1) a title word must be to the query to
# count as a typo of it. Lower finds worse typos and costs more. Settings
# also make it pg_trgm's similarity_threshold on every PostgreSQL
# connection, so `%` index lookups return only candidates this close.
FUZZY_THRESHOLD = env_float("SEARCH_FUZZY_THRESHOLD", 0.4)
# Shorter input gets prefix suggestions only, no typo matching.
FUZZY_MIN_LENGTH = env_int("SEARCH_FUZZY_MIN_LENGTH", 5, minimum=1)
# Rows per batch read and upserted by `manage.py reindex`.
REINDEX_BATCH_SIZE = env_int("SEARCH_REINDEX_BATCH_SIZE", 2000, minimum=1)
# Indexed text per entity; the rest of a long description or code is not searched.
BODY_MAX_CHARS = env_int("SEARCH_BODY_MAX_CHARS", 20_000, minimum=100)

# The PostgreSQL text search configuration. It is baked into the stored
# tsvector by migration 0002, so it is a constant, not a setting.
TEXT_SEARCH_CONFIG = "english"
