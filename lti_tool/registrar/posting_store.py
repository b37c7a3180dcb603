"""Store a posting's grades in batches, and load each batch back (without provenance) for the SIS push.

Never one ORM object per grade on the way in: COPY on PostgreSQL (binary, so the server need not unescape
2 KB of JSON text per row), a Core multi-row INSERT elsewhere. On the way out, each stored batch is read
back as PostedGrade rows for `lti_tool.sis.outbox.enqueue_posted_grades` while the next batches are still
being graded, so the push does not wait for one large read at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from psycopg.postgres import types as postgres_types
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from lti_tool.models import PostedGrade, PostedGradeStatus

#: Rows per batch: large enough to amortise round trips, small enough that the last batch (stored after
#: the last grade is computed) is quick.
INSERT_BATCH: Final = 2_500
POSTED_STATUS: Final = {status.value: status for status in PostedGradeStatus}

# The columns a posting writes, in COPY order (models.grading.PostedGrade).
COLUMNS: Final = (
    "student_id", "class_id", "academic_session_id", "policy_id", "course_value", "letter", "grade_points",
    "status", "evidence_count", "provenance", "computed_at", "posted_at", "posted_by", "is_locked",
    "amendment_of_id", "amendment_reason", "posting_id",
)  # fmt: skip
_CLASS_AT: Final = COLUMNS.index("class_id")
_STUDENT_AT: Final = COLUMNS.index("student_id")
_JSON_AT: Final = COLUMNS.index("provenance")
_BYTEA: Final = postgres_types["bytea"].oid


class GradeStore:
    """Writes the rows of one posting (tuples in COLUMNS order, the provenance in jsonb's binary form on
    PostgreSQL and as the document elsewhere) and keeps them, read back, for the SIS push."""

    def __init__(self, session: Session, posting_id: int, progress: Callable[[int], None] | None) -> None:
        self._session = session
        self._posting_id = posting_id
        self._progress = progress
        self._is_postgres = session.get_bind().dialect.name == "postgresql"
        self._copy_types: list[int] | None = None
        self._batch: list[tuple[Any, ...]] = []
        self._pushed: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_id = 0
        self.stored = 0
        self.rows_for_push: list[PostedGrade] = []

    def add(self, row: tuple[Any, ...], pushed: dict[str, Any]) -> None:
        """Queue one row; `pushed` is its provenance less the explanation, what the push reads."""
        self._batch.append(row)
        self._pushed[(row[_CLASS_AT], row[_STUDENT_AT])] = pushed
        if len(self._batch) >= INSERT_BATCH:
            self.flush()

    def flush(self) -> None:
        """Store the queued rows and read them back for the push."""
        if not self._batch:
            return
        count = len(self._batch)
        if self._is_postgres:
            self._copy()
        else:
            rows = [dict(zip(COLUMNS, row, strict=True)) for row in self._batch]
            for values in rows:
                values["status"] = POSTED_STATUS[values["status"]]
            self._session.execute(insert(PostedGrade), rows)
        self._batch.clear()
        self._read_back()
        self.stored += count
        if self._progress is not None:
            self._progress(count)

    def _copy(self) -> None:
        # COPY is several times faster than INSERT .. VALUES for wide JSONB rows; it bypasses SQLAlchemy's
        # bind processing, so the rows hold what the column types expect (enum by value). Binary, it spares
        # the server unescaping the JSON text (0.15 s of its time at 30,000 grades). Binary COPY data
        # carries no types: the provenance arrives in jsonb's binary form, made by whoever graded it
        # (possibly a worker process), and goes out as it is, as bytea would; the other columns' types
        # come from the table itself.
        driver = self._session.connection().connection.driver_connection
        if driver is None:  # pragma: no cover - a live connection always has its driver connection
            raise RuntimeError("the session's connection has no driver connection")
        columns = ", ".join(COLUMNS)
        with driver.cursor() as cursor:
            if self._copy_types is None:
                cursor.execute(f"SELECT {columns} FROM posted_grades LIMIT 0")  # noqa: S608 - constant names
                self._copy_types = [column.type_code for column in cursor.description or ()]
                self._copy_types[_JSON_AT] = _BYTEA
            with cursor.copy(f"COPY posted_grades ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(self._copy_types)
                for row in self._batch:
                    copy.write_row(row)

    def _read_back(self) -> None:
        """Load the batch just stored (its ids follow every earlier batch's) for the push.

        The push reads the per-indicator proficiencies, not the text, so the provenance is not read back:
        each row gets the document it was stored from less the explanation, as computed a moment ago;
        decoding the stored JSON again was a quarter of a posting's time at 30,000 grades. A second session
        on the caller's connection (so inside its transaction) loads the rows and is closed at once: nothing
        in the caller's session sees the shortened provenance, dropping the rows with that session is
        cheaper than expunging them one by one, and closing a session that only read leaves the caller's
        transaction as it was (even when the caller is inside a SAVEPOINT). The detached rows have every
        column loaded.
        """
        with Session(bind=self._session.connection()) as reader:
            rows = reader.scalars(
                select(PostedGrade)
                .options(defer(PostedGrade.provenance))
                .where(PostedGrade.posting_id == self._posting_id, PostedGrade.id > self._last_id)
                .order_by(PostedGrade.id)
            ).all()
            for row in rows:
                set_committed_value(row, "provenance", self._pushed[(row.class_id, row.student_id)])
        self._pushed.clear()
        if rows:
            self._last_id = rows[-1].id
        self.rows_for_push.extend(rows)


__all__ = ["COLUMNS", "INSERT_BATCH", "GradeStore"]
