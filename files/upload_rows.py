"""The two statements every tus PATCH runs, without the ORM's query compiler.

A 5 MiB chunk is ~12 ms of server work. Building the row read and the offset
UPDATE through QuerySet cost 0.7–0.9 ms and 0.5–0.7 ms of Python per chunk,
on top of the ~0.2 ms each statement takes in PostgreSQL
(docs/BENCHMARKS-FILES.md). Here the SQL is rendered from the model's own
field definitions (table, columns, quoting, value preparation and the
backend's converters), so it follows the model and is right on SQLite too.
"""

from functools import cache

from django.core.exceptions import ValidationError
from django.db import connection

from files.models import FileUpload

# What a PATCH needs before and after the body; the rest stays deferred. In
# the model's field order, which Model.from_db() expects.
_READ = tuple(
    field.name
    for field in FileUpload._meta.concrete_fields
    if field.name in {"id", "owner", "status", "size", "offset", "temp_path", "hash_state", "expires_at"}
)
_WRITE = ("offset", "progress", "hash_state", "expires_at", "updated_at")


def _field(name):
    return FileUpload._meta.get_field(name)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _select_sql(vendor: str, by_owner: bool) -> str:
    columns = ", ".join(_q(_field(name).column) for name in _READ)
    where = f"{_q(_field('id').column)} = %s"
    if by_owner:
        where += f" AND {_q(_field('owner').column)} = %s"
    return f"SELECT {columns} FROM {_q(FileUpload._meta.db_table)} WHERE {where}"


@cache
def _update_sql(vendor: str) -> str:
    assignments = ", ".join(f"{_q(_field(name).column)} = %s" for name in _WRITE)
    where = " AND ".join(f"{_q(_field(name).column)} = %s" for name in ("id", "status", "offset"))
    if vendor == "postgresql":
        # SET LOCAL from inside the one statement: no round trip, and it ends
        # with this statement's transaction (why it is safe: files/services.py,
        # _COMMIT_WITHOUT_WAITING).
        where += " AND set_config('synchronous_commit', 'off', true) IS NOT NULL"
    return f"UPDATE {_q(FileUpload._meta.db_table)} SET {assignments} WHERE {where}"


def read(upload_id, owner_id: int | None) -> FileUpload | None:
    """The upload with the fields a PATCH uses (others deferred), or None if
    there is no such upload (for this owner, unless `owner_id` is None) or
    `upload_id` is not a UUID."""
    try:
        params = [_field("id").get_db_prep_value(upload_id, connection)]
    except (ValidationError, ValueError, TypeError, AttributeError):
        return None
    if owner_id is not None:
        params.append(_field("owner").get_db_prep_value(owner_id, connection))
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(connection.vendor, owner_id is not None), params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for name, value in zip(_READ, row, strict=True):
        field = _field(name)
        for convert in connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection):
            value = convert(value, field.cached_col, connection)
        values.append(value)
    return FileUpload.from_db(connection.alias, [_field(name).attname for name in _READ], values)


def advance(upload: FileUpload, *, from_offset: int, status: str, **changes) -> bool:
    """UPDATE the `_WRITE` fields (all of them, from `changes`) of the row
    still at `from_offset` in `status`; False when no row matched."""
    assert set(changes) == set(_WRITE), changes
    params = [_field(name).get_db_prep_save(changes[name], connection) for name in _WRITE]
    params += [
        _field("id").get_db_prep_value(upload.pk, connection),
        _field("status").get_db_prep_value(status, connection),
        _field("offset").get_db_prep_value(from_offset, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(connection.vendor), params)
        return cursor.rowcount == 1
