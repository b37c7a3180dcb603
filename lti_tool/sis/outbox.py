"""The grade outbox: posted grades become outbox messages in the caller's transaction; a worker sends them.

Writing the messages in the same transaction as the posting means a grade is queued if and only if it
was posted (a rollback leaves no message; a crash after the commit loses none). Each message's payload
holds everything its PUT needs, built at enqueue time (`lti_tool.sis.grade_push`):

    {"kind": "result", "sourcedId": "...", "path": "results/<sourcedId>", "requires": [<sourcedIds>],
     "period": {"sourcedId": "...", "title": "Q1"}, "postedGradeId": 12,
     "record": {...the typed record, JSON-encoded...}}

`record` is what the worker hands the GradeSink (`decode_record`); the body of its PUT is built from it
when it is sent, for the connection's profile as it is then (`payload_body` shows it). Storing the body
as well doubled every payload (2.7 KB a result) for no reader. `dedupe_key` is unique: enqueueing the same posted grade twice is a no-op
(INSERT .. ON CONFLICT DO NOTHING on both dialects), while an amendment, a new PostedGrade row, queues a
new message. Line items, categories and score scales are keyed by their content, so they are queued again
only when they change.

Functions take a Session and never commit.
"""

from __future__ import annotations

import json
import types
import typing
from collections import Counter, abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal, Union, get_args, get_origin, get_type_hints

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.oneroster.profiles import load_profile
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    PeriodLineItem,
    PeriodResult,
)
from lti_tool.models import OutboxMessage, OutboxStatus, PostedGrade, SisConnection, utcnow
from lti_tool.sis.grade_push import MessageKind, PushMessage, SkippedGrade, build_push
from lti_tool.sis.push_bodies import GradebookRecord, message_body, service_urls

RECORD_TYPES: Final[Mapping[MessageKind, type[Any]]] = {
    MessageKind.CATEGORY: GradebookCategory,
    MessageKind.SCORE_SCALE: GradebookScoreScale,
    MessageKind.LINE_ITEM: PeriodLineItem,
    MessageKind.RESULT: PeriodResult,
}
INSERT_CHUNK: Final = 1_000
SELECT_CHUNK: Final = 5_000


class PayloadError(ValueError):
    """An outbox payload cannot be turned back into its record; names the message and the field."""


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    """What enqueueing did: new messages per kind, messages that were already queued, grades skipped."""

    queued: Mapping[str, int]
    already_queued: int
    skipped: tuple[SkippedGrade, ...]

    @property
    def queued_total(self) -> int:
        """New messages of every kind."""
        return sum(self.queued.values())

    @property
    def results_queued(self) -> int:
        """New result messages (one per posted grade sent)."""
        return self.queued.get(MessageKind.RESULT.value, 0)

    def skipped_reasons(self) -> dict[str, int]:
        """How many grades were skipped for each reason."""
        return dict(Counter(s.reason for s in self.skipped))

    def to_json(self) -> dict[str, Any]:
        """A JSON summary (reasons counted, no ids of students)."""
        return {
            "queued": dict(self.queued),
            "already_queued": self.already_queued,
            "skipped": self.skipped_reasons(),
        }


# -- the record codec -------------------------------------------------------------------------------------
# Type-directed and compiled once per record class (from its annotations), so a field H1 adds to a record
# is stored without a change here, and 100,000 results encode in about a second. None is left out when the
# field has a default.

Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _FieldCodec:
    name: str
    encode: Convert
    decode: Convert
    has_default: bool


def _same(value: Any) -> Any:
    return value


def _converters(hint: Any) -> tuple[Convert, Convert]:
    """(encode, decode) for one annotation."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        enc, dec = _converters(inner)
        return (lambda v: None if v is None else enc(v)), (lambda v: None if v is None else dec(v))
    if origin is tuple:
        enc, dec = _converters(get_args(hint)[0])
        return (lambda v: [enc(x) for x in v]), (lambda v: tuple(dec(x) for x in v))
    if origin is Literal:
        allowed = get_args(hint)

        def literal(value: Any) -> Any:
            if value not in allowed:
                raise ValueError(f"{value!r} is not one of {allowed}")
            return value

        return _same, literal
    if origin in (Mapping, dict, typing.Mapping, abc.Mapping):
        return (lambda v: {str(k): x for k, x in v.items()}), (lambda v: {str(k): x for k, x in v.items()})
    if hint is Decimal:
        return str, lambda v: Decimal(str(v))
    if hint is datetime:
        return datetime.isoformat, datetime.fromisoformat
    if hint is date:
        return date.isoformat, date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value), hint
    if isinstance(hint, type) and is_dataclass(hint):
        return (lambda v: _encode_dataclass(v)), (lambda v: _decode_dataclass(hint, v, hint.__name__))
    if hint in (str, int, float, bool):
        return _same, _same
    raise TypeError(f"cannot store a {hint!r} field in an outbox payload")


_CODECS: dict[type[Any], tuple[_FieldCodec, ...]] = {}


def _codec(cls: type[Any]) -> tuple[_FieldCodec, ...]:
    known = _CODECS.get(cls)
    if known is not None:
        return known
    hints = get_type_hints(cls)
    codecs = []
    for f in fields(cls):
        enc, dec = _converters(hints[f.name])
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        codecs.append(_FieldCodec(f.name, enc, dec, has_default))
    _CODECS[cls] = tuple(codecs)
    return _CODECS[cls]


def _encode_dataclass(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for codec in _codec(type(value)):
        item = getattr(value, codec.name)
        if item is None and codec.has_default:
            continue
        out[codec.name] = codec.encode(item)
    return out


def _decode_dataclass(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise PayloadError(f"{where} must be an object, not {type(data).__name__}")
    values: dict[str, Any] = {}
    for codec in _codec(cls):
        if codec.name not in data:
            if not codec.has_default:
                raise PayloadError(f"{where}.{codec.name} is missing")
            continue
        try:
            values[codec.name] = codec.decode(data[codec.name])
        except PayloadError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise PayloadError(f"{where}.{codec.name}: {data[codec.name]!r} is not valid ({exc})") from exc
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{where} does not make a {cls.__name__}: {exc}") from exc


def encode_record(record: GradebookRecord) -> dict[str, Any]:
    """The JSON form of a gradebook record (Decimals and dates as strings, enums by value)."""
    return _encode_dataclass(record)


def decode_record(kind: MessageKind, data: Any, *, where: str = "record") -> GradebookRecord:
    """The typed record a payload's `record` encodes (the inverse of `encode_record`)."""
    record: GradebookRecord = _decode_dataclass(RECORD_TYPES[kind], data, where)
    return record


def payload_body(connection: SisConnection, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the worker PUTs for a stored payload: built from its record for `connection`'s
    profile and version, exactly as the gradebook client builds it when sending."""
    kind = MessageKind(payload["kind"])
    record = decode_record(kind, payload["record"], where=f"{kind.value} {payload.get('sourcedId')} record")
    return message_body(
        record,
        urls=service_urls(connection),
        profile=load_profile(connection.profile),
        version=connection.version,
    )


def message_payload(message: PushMessage) -> dict[str, Any]:
    """The outbox payload of a message (see the module docstring)."""
    period = (
        {"sourcedId": message.period_sourced_id, "title": message.period_title}
        if message.period_sourced_id
        else None
    )
    return {
        "kind": message.kind.value,
        "sourcedId": message.sourced_id,
        "path": message.path,
        "requires": list(message.requires),
        "period": period,
        "postedGradeId": message.posted_grade_id,
        "record": encode_record(message.record),
    }


# -- enqueue ----------------------------------------------------------------------------------------------


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT .. ON CONFLICT (dedupe_key) DO NOTHING; returns the dedupe keys that were not there before.

    The keys already queued are read first and the rest inserted with a plain executemany: RETURNING
    would make SQLAlchemy render one statement of thousands of placeholders per page, which psycopg then
    parses on the client (3x slower for a school's posting). ON CONFLICT still makes a concurrent enqueue
    of the same grade harmless; only the report's count could then be off by the overlap.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    keys = [row["dedupe_key"] for row in rows]
    existing: set[str] = set()
    for start in range(0, len(keys), SELECT_CHUNK):
        chunk = keys[start : start + SELECT_CHUNK]
        existing.update(
            session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk)))
        )
    fresh = [row for row in rows if row["dedupe_key"] not in existing]
    if dialect == "postgresql" and len(fresh) > INSERT_CHUNK:
        _copy_insert(session, fresh)
    else:
        statement = module.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"])
        for start in range(0, len(fresh), INSERT_CHUNK):
            session.execute(statement, fresh[start : start + INSERT_CHUNK])
    return {row["dedupe_key"] for row in fresh}


# The columns an enqueue writes, in COPY order (models.sis.OutboxMessage).
_COPY_COLUMNS: Final = (
    "topic", "dedupe_key", "payload", "status", "attempts", "next_attempt_at", "created_at", "connection_id",
)  # fmt: skip
_COLUMN_LIST: Final = ", ".join(_COPY_COLUMNS)
# Built from the constant column names above, nothing from outside.
_STAGING_AS: Final = f"SELECT {_COLUMN_LIST}, 0::bigint AS position FROM outbox_messages WITH NO DATA"  # noqa: S608
_CREATE_STAGING: Final = f"CREATE TEMPORARY TABLE outbox_incoming ON COMMIT DROP AS {_STAGING_AS}"
_COPY_STAGING: Final = f"COPY outbox_incoming ({_COLUMN_LIST}, position) FROM STDIN"
_INSERT_STAGED: Final = (
    f"INSERT INTO outbox_messages ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM outbox_incoming "  # noqa: S608
    "ORDER BY position ON CONFLICT (dedupe_key) DO NOTHING"
)


def _copy_insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then INSERT .. SELECT .. ON CONFLICT DO NOTHING.

    A school's posting queues 120,000 results; the executemany INSERT cost 210 us a row in SQLAlchemy and
    psycopg, COPY about a tenth. The staging table keeps ON CONFLICT (a concurrent enqueue of the same
    grade stays harmless) and the order of the rows (ids follow it: prerequisites before results).
    """
    driver = session.connection().connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has its driver connection
        raise RuntimeError("the session's connection has no driver connection")
    with driver.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.outbox_incoming")
        cursor.execute(_CREATE_STAGING)
        encode = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode
        with cursor.copy(_COPY_STAGING) as copy:
            for position, row in enumerate(rows):
                copy.write_row((
                    row["topic"], row["dedupe_key"], encode(row["payload"]), row["status"].value,
                    row["attempts"], row["next_attempt_at"], row["created_at"], row["connection_id"], position,
                ))  # fmt: skip
        cursor.execute(_INSERT_STAGED)
        cursor.execute("DROP TABLE pg_temp.outbox_incoming")


def _json_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON: outbox payloads are built JSON-ready")


def enqueue_messages(session: Session, messages: Sequence[PushMessage], *, now: datetime) -> set[str]:
    """Queue built messages (pending, due now); returns the dedupe keys that were new."""
    rows = [
        {
            "topic": message.kind.topic,
            "dedupe_key": message.dedupe_key,
            "payload": message_payload(message),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "connection_id": message.connection_id,
        }
        for message in messages
    ]
    return _insert(session, rows) if rows else set()


def enqueue_posted_grades(
    session: Session, posted_grades: Sequence[PostedGrade], *, now: datetime | None = None
) -> EnqueueReport:
    """Queue the SIS messages that send `posted_grades`, in the caller's transaction (nothing commits).

    Grades whose class, period, school or student has no SIS sourcedId, or whose class no connection
    serves, are counted in `skipped` with the reason; the rest are queued once each.
    """
    moment = now or utcnow()
    session.flush()  # posted grades added in this transaction must be visible to the queries below
    build = build_push(session, posted_grades, now=moment)
    new_keys = enqueue_messages(session, build.messages, now=moment)
    queued = Counter(m.kind.value for m in build.messages if m.dedupe_key in new_keys)
    return EnqueueReport(
        queued=dict(queued),
        already_queued=len(build.messages) - len(new_keys),
        skipped=build.skipped,
    )


# -- reading the outbox -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    """How many messages of a connection wait, failed for good, or were delivered; the oldest waiting."""

    pending: int
    failed: int
    delivered: int
    oldest_pending_at: datetime | None
    last_errors: tuple[str, ...]


def outbox_depth(session: Session, connection_id: int) -> OutboxDepth:
    """The outbox state of one connection (for `sis status` and the staff page)."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.connection_id == connection_id)
            .group_by(OutboxMessage.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.connection_id == connection_id, OutboxMessage.status == OutboxStatus.PENDING
        )
    )
    errors = session.scalars(
        select(OutboxMessage.last_error)
        .where(OutboxMessage.connection_id == connection_id, OutboxMessage.last_error.is_not(None))
        .where(OutboxMessage.status != OutboxStatus.DELIVERED)
        .group_by(OutboxMessage.last_error)
        .order_by(func.max(OutboxMessage.id).desc())
        .limit(5)
    ).all()
    return OutboxDepth(
        pending=counts.get(OutboxStatus.PENDING, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
        delivered=counts.get(OutboxStatus.DELIVERED, 0),
        oldest_pending_at=oldest if isinstance(oldest, datetime) else None,
        last_errors=tuple(e for e in errors if e),
    )
