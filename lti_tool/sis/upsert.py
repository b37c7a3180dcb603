"""Bulk Core statements for the roster pull: chunked reads by key, multi-row upserts, bulk updates.

No ORM objects per row: rows are dicts and statements are SQLAlchemy Core, one round trip per chunk.
`INSERT ... ON CONFLICT` comes from the dialect's own `insert` (PostgreSQL and SQLite both have it; the
tool runs on nothing else). The two dialects batch differently:

- PostgreSQL gets one array parameter per column: `INSERT ... SELECT * FROM unnest(:a::int[], ...)`,
  `UPDATE ... FROM unnest(...)`, `WHERE key = ANY(:keys)`. The SQL text is short and the same for every
  chunk, so psycopg parses it once; a 1,000-row multi-VALUES statement instead has thousands of
  placeholders that psycopg re-parses in Python on every execute, which cost more than the database.
- SQLite gets SQLAlchemy's "insertmanyvalues" (multi-row VALUES, a RETURNING clause makes it apply),
  executemany UPDATEs and `IN (...)` lists, all in-process and cheap there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Final, TypeAlias, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    FromClause,
    Row,
    Table,
    any_,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import JSON, TypeEngine

from lti_tool.models import Base

#: Rows per statement and values per `IN (...)`: far below SQLite's 32,766 and PostgreSQL's 65,535 bound
#: parameters, and large enough that round trips stop mattering.
CHUNK: Final = 1000

T = TypeVar("T")
#: A result row of any width (SQLAlchemy 2.1 types rows by their columns).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


def table_of(model: type[Base]) -> Table:
    """The Core table a model maps."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps one table
        raise TypeError(f"{model.__name__} does not map a single table")
    return table


def chunked(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`values` in lists of at most `size`, in order."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _is_postgresql(connection: Connection) -> bool:
    name = connection.dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"bulk statements for database dialect {name!r}")
    return name == "postgresql"


def plan_each_statement(connection: Connection) -> None:
    """Make PostgreSQL plan every execution afresh for the rest of this transaction.

    psycopg prepares a statement run five times, and PostgreSQL then caches a generic plan for it. A pull
    runs the same statements hundreds of times against tables it is filling: a plan cached while
    `persons` held a few hundred rows scans it whole on every later batch, and the pull turns quadratic
    (40 s instead of 1 s for 20,000 users). A custom plan sees the table's current size and costs a
    fraction of a millisecond per 1,000-row batch. `SET LOCAL` ends with the transaction.
    """
    if _is_postgresql(connection):
        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's `ON CONFLICT` clauses."""
    return postgresql.insert(table) if _is_postgresql(connection) else sqlite.insert(table)


def _array(name: str, item_type: TypeEngine[Any]) -> ColumnElement[Any]:
    """A PostgreSQL array parameter of `item_type` (each item still goes through the type's bind processing)."""
    array_type = postgresql.ARRAY(item_type)
    return cast(bindparam(name, type_=array_type), array_type)


def _has_arrays(table: Table, names: Iterable[str]) -> bool:
    """Whether every column can travel as an array parameter (JSON cannot: psycopg sends it as text)."""
    return not any(isinstance(table.c[name].type, JSON) for name in names)


def select_in(
    connection: Connection,
    columns: Sequence[ColumnElement[Any]],
    key: ColumnElement[Any],
    values: Collection[Any],
    *where: ColumnElement[bool],
    from_: FromClause | None = None,
) -> list[AnyRow]:
    """Rows of `columns` (from `from_`, e.g. a join) whose `key` is among `values`, one query per `CHUNK`."""
    query = select(*columns) if from_ is None else select(*columns).select_from(from_)
    rows: list[AnyRow] = []
    if _is_postgresql(connection):
        statement = query.where(key == any_(_array("keys", key.type)), *where)
        for chunk in chunked(sorted(set(values))):
            rows.extend(connection.execute(statement, {"keys": chunk}).all())
        return rows
    for chunk in chunked(sorted(set(values))):
        rows.extend(connection.execute(query.where(key.in_(chunk), *where)).all())
    return rows


def select_tuples_in(
    connection: Connection,
    columns: Sequence[ColumnElement[Any]],
    keys: Sequence[ColumnElement[Any]],
    values: Collection[tuple[Any, ...]],
    *where: ColumnElement[bool],
) -> list[AnyRow]:
    """Rows whose `(key, ...)` row value is among `values` (row-value IN: PostgreSQL, SQLite >= 3.15).

    For few values: PostgreSQL plans a long row-value list slowly.
    """
    rows: list[AnyRow] = []
    for chunk in chunked(sorted(set(values))):
        rows.extend(connection.execute(select(*columns).where(tuple_(*keys).in_(chunk), *where)).all())
    return rows


@cache
def _unnest_insert(
    table: Table,
    names: tuple[str, ...],
    conflict: tuple[str, ...],
    update_columns: tuple[str, ...],
    returning: tuple[str, ...],
) -> Executable:
    source = func.unnest(*(_array(f"a_{name}", table.c[name].type) for name in names))
    rows = source.table_valued(*names).render_derived()
    statement = postgresql.insert(table).from_select(list(names), select(*(rows.c[name] for name in names)))
    if update_columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict), set_={name: statement.excluded[name] for name in update_columns}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    update_columns: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[AnyRow]:
    """INSERT `rows` (dicts with the same keys) in batches; on a conflict over `conflict`, update
    `update_columns`, or skip the row when there are none.

    `returning` columns come back for every inserted or updated row, in no particular order: return a
    key (such as `sourced_id`) to tell them apart. A skipped conflict returns nothing.
    """
    if not rows:
        return []
    names = tuple(rows[0])
    found: list[AnyRow] = []
    if _is_postgresql(connection) and _has_arrays(table, names):
        statement = _unnest_insert(table, names, tuple(conflict), tuple(update_columns), tuple(returning))
        for chunk in chunked(rows):
            result = connection.execute(
                statement, {f"a_{name}": [row[name] for row in chunk] for name in names}
            )
            found.extend(result.all() if returning else ())
        return found
    insert = dialect_insert(connection, table)
    if update_columns:
        insert = insert.on_conflict_do_update(
            index_elements=list(conflict), set_={name: insert.excluded[name] for name in update_columns}
        )
    else:
        insert = insert.on_conflict_do_nothing(index_elements=list(conflict))
    # A RETURNING clause is what makes SQLAlchemy batch the rows into multi-row VALUES ("insertmanyvalues").
    batched = insert.returning(*(table.c[name] for name in returning or conflict[:1]))
    for chunk in chunked(rows):
        result = connection.execute(batched, list(chunk))
        found.extend(result.all() if returning else ())
    return found


def insert_new_ids(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """INSERT rows that have no natural key; their new ids, in the order of `rows`.

    PostgreSQL: the ids are drawn from the table's sequence first (one query), then the rows go in with
    them, so no RETURNING order is relied on. SQLite: insertmanyvalues with `sort_by_parameter_order`.
    """
    if not rows:
        return []
    ids: list[int] = []
    if _is_postgresql(connection) and _has_arrays(table, rows[0]):
        draw = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
        ids = list(connection.execute(draw, {"table": table.name, "count": len(rows)}).scalars())
        insert_rows(connection, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)],
                    conflict=["id"])  # fmt: skip
        return ids
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    for chunk in chunked(rows):
        ids.extend(connection.execute(statement, list(chunk)).scalars().all())
    return ids


@cache
def _unnest_update(table: Table, names: tuple[str, ...]) -> Executable:
    source = func.unnest(*(_array(f"a_{name}", table.c[name].type) for name in ("id", *names)))
    rows = source.table_valued("id", *names).render_derived()
    return update(table).where(table.c.id == rows.c.id).values({name: rows.c[name] for name in names})


def update_by_id(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE each row (a dict with `id` and the columns to set) by primary key.

    Rows are grouped by the set of columns they change; each group is one statement per chunk
    (PostgreSQL: `UPDATE ... FROM unnest(...)`; SQLite: an executemany).
    """
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        names = tuple(sorted(name for name in row if name != "id"))
        if names:
            groups.setdefault(names, []).append(row)
    for names, group in groups.items():
        if _is_postgresql(connection) and _has_arrays(table, names):
            statement = _unnest_update(table, names)
            for chunk in chunked(group):
                connection.execute(
                    statement, {f"a_{name}": [row[name] for row in chunk] for name in ("id", *names)}
                )
            continue
        executemany = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in names})
        )
        for chunk in chunked(group):
            connection.execute(
                executemany, [{f"b_{name}": value for name, value in row.items()} for row in chunk]
            )


def _where_in(connection: Connection, key: ColumnElement[Any], chunk: list[Any]) -> ColumnElement[bool]:
    if _is_postgresql(connection):
        array_type = postgresql.ARRAY(key.type)
        return key == any_(cast(bindparam("keys", chunk, type_=array_type), array_type))
    return key.in_(chunk)


def set_where_in(
    connection: Connection, table: Table, ids: Collection[int], values: Mapping[str, Any]
) -> None:
    """UPDATE `table` SET `values` for the rows with these ids, one statement per `CHUNK` ids."""
    for chunk in chunked(sorted(ids)):
        connection.execute(update(table).where(_where_in(connection, table.c.id, chunk)).values(dict(values)))


def delete_in(connection: Connection, table: Table, key: ColumnElement[Any], values: Collection[Any]) -> None:
    """DELETE the rows whose `key` is among `values`, one statement per `CHUNK` values."""
    for chunk in chunked(sorted(set(values))):
        connection.execute(delete(table).where(_where_in(connection, key, chunk)))
