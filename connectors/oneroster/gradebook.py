"""Grades out: the `GradeSink` protocol and `OneRosterGradebookClient`, PUT by sourcedId over OneRoster 1.1 or 1.2.

1.2 writes go to the gradebook service (`PUT /categories|/scoreScales|/lineItems|/results/{sourcedId}`,
1.2 gradebook §4.2); 1.1 writes go to the same base as rostering (`PUT /categories|/lineItems|/results/{id}`,
1.1 §3.3). The spec answers 201 on create; servers that update in place answer 200, so both are success.
Every sourcedId is deterministic (see `connectors.oneroster_csv.payloads`), so a resend updates the same
record, and PUT is retried like a GET. Where the letter grade goes, how long titles may be and whether a
grading window can refuse the write come from the `VendorProfile`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final, Protocol
from urllib.parse import quote

from connectors.errors import ConnectorError, ConnectorResponseError
from connectors.oneroster.client import OneRosterEndpoint
from connectors.oneroster.http import ErrorRefiner, Transport, Written
from connectors.oneroster.profiles import LetterVia, VendorProfile
from connectors.oneroster.records import OneRosterVersion, Status
from connectors.oneroster.status import StatusInfo
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    category_payload,
    line_item_payload,
    result_payload,
    score_scale_payload,
)
from connectors.oneroster_csv.payloads_v1p1 import (
    category_payload_v1p1,
    line_item_payload_v1p1,
    result_payload_v1p1,
)

__all__ = [
    "LETTER_SEPARATOR",
    "GradeSink",
    "GradebookCategory",
    "GradebookRecord",
    "GradebookScoreScale",
    "GradingWindowClosedError",
    "OneRosterGradebookClient",
    "PeriodLineItem",
    "PeriodResult",
    "RemoteResult",
    "WriteOutcome",
    "put_body",
]

# A letter sent in `comment` comes first, then this, then any comment of our own.
LETTER_SEPARATOR: Final = " | "


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What one PUT did: `created` on 201, an update on 200; `skipped` when nothing was sent.

    A write is skipped (status 0, `created` False) when the binding or vendor has no such object, e.g.
    score scales in OneRoster 1.1; `skipped` then says why.
    """

    created: bool
    status: int
    url: str
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """A result as the SIS holds it, for dry runs; `letter` is read from wherever the profile sends it."""

    sourced_id: str
    status: Status
    line_item_sourced_id: str | None
    student_sourced_id: str | None
    score_status: str | None
    score: Decimal | None
    text_score: str | None
    comment: str | None
    score_date: date | None
    date_last_modified: datetime | None
    letter: str | None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class GradingWindowClosedError(ConnectorResponseError):
    """The SIS refused a grade because the grading window for its period is closed (e.g. Infinite Campus).

    Not retryable now; the write succeeds once the district opens the window again.
    """


class GradeSink(Protocol):
    """Somewhere period grades go: a OneRoster gradebook, or a fake in tests and the demo."""

    def put_category(self, category: GradebookCategory, /) -> WriteOutcome: ...
    def put_score_scale(self, scale: GradebookScoreScale, /) -> WriteOutcome: ...
    def put_line_item(self, item: PeriodLineItem, /) -> WriteOutcome: ...
    def put_result(self, result: PeriodResult, /) -> WriteOutcome: ...
    def get_result(self, sourced_id: str, /) -> RemoteResult | None: ...


GradebookRecord = GradebookCategory | GradebookScoreScale | PeriodLineItem | PeriodResult


def _letter_text(letter: str, comment: str | None) -> str:
    """`letter`, then our own comment after `LETTER_SEPARATOR`; a comment that already leads with it is kept."""
    if not comment or comment == letter:
        return letter
    if comment.startswith(letter + LETTER_SEPARATOR):
        return comment
    return f"{letter}{LETTER_SEPARATOR}{comment}"


def put_body(
    record: GradebookRecord, *, urls: ServiceUrls, profile: VendorProfile, version: OneRosterVersion
) -> dict[str, Any]:
    """The JSON body `OneRosterGradebookClient` PUTs for `record` to a `profile` vendor speaking `version`.

    Titles are clipped to the vendor's limits, line items carry the profile's metadata, and the result's
    letter goes where the profile says: `textScore` (1.2 only), `comment` (also the 1.1 fallback for a
    text_score profile), or result metadata under `letter_metadata_key`. 1.1 has no score scales.
    """
    is_v1p1 = version is OneRosterVersion.V1P1
    body: dict[str, Any]
    if isinstance(record, GradebookCategory):
        body = dict(category_payload_v1p1(record) if is_v1p1 else category_payload(record))
        body["category"]["title"] = profile.clip_category(record.title)
        return body
    if isinstance(record, GradebookScoreScale):
        if is_v1p1:
            raise ValueError(f"OneRoster 1.1 has no score scales (score scale {record.sourced_id})")
        return dict(score_scale_payload(record, urls))
    if isinstance(record, PeriodLineItem):
        metadata = profile.line_item_metadata
        if is_v1p1:
            body = dict(line_item_payload_v1p1(record, urls, metadata=metadata))
        else:
            body = dict(line_item_payload(record, urls, metadata=metadata))
        body["lineItem"]["title"] = profile.clip_title(record.title)
        return body
    letter = record.text_score
    via = profile.letter_via
    result_metadata: dict[str, str] = {}
    comment = record.comment
    if letter and via is LetterVia.METADATA and profile.letter_metadata_key:
        result_metadata[profile.letter_metadata_key] = letter
    elif letter and (via is LetterVia.COMMENT or is_v1p1):
        comment = _letter_text(letter, record.comment)
    if is_v1p1:
        return dict(result_payload_v1p1(record, urls, comment=comment, metadata=result_metadata))
    body = dict(result_payload(record, urls, metadata=result_metadata))
    if comment:
        body["result"]["comment"] = comment
    return body


class OneRosterGradebookClient:
    """Writes categories, score scales, line items and results to one district's OneRoster gradebook."""

    def __init__(self, transport: Transport, endpoint: OneRosterEndpoint, profile: VendorProfile) -> None:
        if not profile.supports(endpoint.version):
            supported = ", ".join(v.value for v in profile.versions)
            raise ValueError(
                f"profile {profile.name!r} offers OneRoster {supported}, not {endpoint.version.value}"
            )
        gradebook_url = endpoint.gradebook_url
        if endpoint.version is OneRosterVersion.V1P2 and not gradebook_url:
            raise ValueError(
                "OneRoster 1.2 needs the gradebook service URL (.../ims/oneroster/gradebook/v1p2)"
            )
        self.transport = transport
        self.endpoint = endpoint
        self.profile = profile
        self.base_url = (gradebook_url or endpoint.rostering_url).rstrip("/")
        self.urls = ServiceUrls(rostering=endpoint.rostering_url.rstrip("/"), gradebook=self.base_url)

    @property
    def is_v1p1(self) -> bool:
        """Whether this client speaks OneRoster 1.1."""
        return self.endpoint.version is OneRosterVersion.V1P1

    # --- writes ----------------------------------------------------------------------------------

    def put_category(self, category: GradebookCategory, /) -> WriteOutcome:
        """PUT the category (title clipped to the vendor's limit); skipped where categories are fixed."""
        url = self._url("categories", category.sourced_id)
        if not self.profile.can_put_categories:
            return WriteOutcome(
                False, 0, url, skipped=f"{self.profile.display_name} categories are not written"
            )
        return self._put(url, self.body(category), None)

    def put_score_scale(self, scale: GradebookScoreScale, /) -> WriteOutcome:
        """PUT the score scale (1.2 only; skipped in 1.1, which has none)."""
        url = self._url("scoreScales", scale.sourced_id)
        if self.is_v1p1:
            return WriteOutcome(False, 0, url, skipped="OneRoster 1.1 has no score scales")
        if not self.profile.can_put_score_scales:
            return WriteOutcome(
                False, 0, url, skipped=f"{self.profile.display_name} does not accept score scales"
            )
        return self._put(url, self.body(scale), None)

    def put_line_item(self, item: PeriodLineItem, /) -> WriteOutcome:
        """PUT the period-grade line item with the vendor's line-item metadata and title limit."""
        url = self._url("lineItems", item.sourced_id)
        return self._put(url, self.body(item), item.grading_period_sourced_id)

    def put_result(self, result: PeriodResult, /) -> WriteOutcome:
        """PUT a student's result; the letter goes to textScore (1.2), comment or metadata per the profile."""
        url = self._url("results", result.sourced_id)
        return self._put(url, self.body(result), result.grading_period_sourced_id)

    def body(self, record: GradebookRecord, /) -> dict[str, Any]:
        """The JSON body a PUT of `record` carries here (see `put_body`), e.g. for a dry run's diff."""
        return put_body(record, urls=self.urls, profile=self.profile, version=self.endpoint.version)

    # --- reads -----------------------------------------------------------------------------------

    def get_result(self, sourced_id: str, /) -> RemoteResult | None:
        """The result the SIS holds under `sourced_id`, or None when it has none (404)."""
        try:
            page = self.transport.get_json(self._url("results", sourced_id))
        except ConnectorResponseError as exc:
            if exc.status == 404:
                return None
            raise
        item = page.body.get("result") if isinstance(page.body, Mapping) else None
        if not isinstance(item, Mapping):
            raise ConnectorResponseError(
                "result is not a JSON object", system=self.transport.system, url=page.url
            )
        return self._remote_result(item, page.url)

    # --- plumbing --------------------------------------------------------------------------------

    def _url(self, collection: str, sourced_id: str) -> str:
        return f"{self.base_url}/{collection}/{quote(sourced_id, safe='')}"

    def _put(self, url: str, body: Mapping[str, Any], period: str | None) -> WriteOutcome:
        written: Written = self.transport.put_json(url, body, refine=self._refiner(period))
        if written.status not in (200, 201, 204):
            raise ConnectorResponseError(
                f"PUT answered HTTP {written.status}, expected 200 or 201",
                system=self.transport.system,
                url=url,
                status=written.status,
            )
        return WriteOutcome(created=written.status == 201, status=written.status, url=url)

    def _refiner(self, period: str | None) -> ErrorRefiner:
        profile = self.profile

        def refine(status: int, info: StatusInfo, url: str) -> ConnectorError | None:
            if not profile.has_grading_window or not 400 <= status < 500 or status in (401, 429):
                return None
            said = " ".join(p for p in (info.code_minor, info.description) if p).lower()
            if not any(marker in said for marker in profile.grading_window_markers):
                return None
            which = f" for grading period {period}" if period else ""
            return GradingWindowClosedError(
                f"{profile.display_name} refused the grade: the grading window{which} is closed. "
                "It will be sent once the district opens the window"
                + (f" ({info.summary()})" if info.summary() else ""),
                system=self.transport.system,
                url=url,
                status=status,
            )

        return refine

    def _remote_result(self, item: Mapping[str, Any], url: str) -> RemoteResult:
        def text(key: str) -> str | None:
            value = item.get(key)
            return (
                str(value)
                if isinstance(value, str | int) and not isinstance(value, bool) and value != ""
                else None
            )

        def ref(key: str) -> str | None:
            value = item.get(key)
            if isinstance(value, Mapping):
                value = value.get("sourcedId")
            return value if isinstance(value, str) and value else None

        sourced_id = text("sourcedId")
        if sourced_id is None:
            raise ConnectorResponseError("result has no sourcedId", system=self.transport.system, url=url)
        raw_status = (text("status") or "active").lower()
        try:
            status = Status(raw_status)
        except ValueError:
            raise ConnectorResponseError(
                f"result {sourced_id!r}: status {raw_status!r} is unknown",
                system=self.transport.system,
                url=url,
            ) from None
        score: Decimal | None = None
        raw_score = item.get("score")
        if raw_score is not None and raw_score != "" and not isinstance(raw_score, bool):
            try:
                score = Decimal(str(raw_score))
            except InvalidOperation:
                raise ConnectorResponseError(
                    f"result {sourced_id!r}: score {raw_score!r} is not a number",
                    system=self.transport.system,
                    url=url,
                ) from None
        metadata = item.get("metadata")
        metadata = MappingProxyType(dict(metadata)) if isinstance(metadata, Mapping) else MappingProxyType({})
        comment = text("comment")
        text_score = text("textScore")
        return RemoteResult(
            sourced_id=sourced_id,
            status=status,
            line_item_sourced_id=ref("lineItem"),
            student_sourced_id=ref("student"),
            score_status=text("scoreStatus"),
            score=score,
            text_score=text_score,
            comment=comment,
            score_date=_day(text("scoreDate")),
            date_last_modified=_moment(text("dateLastModified")),
            letter=self._letter(text_score, comment, metadata),
            metadata=metadata,
        )

    def _letter(self, text_score: str | None, comment: str | None, metadata: Mapping[str, Any]) -> str | None:
        via = self.profile.letter_via
        if via is LetterVia.METADATA and self.profile.letter_metadata_key:
            value = metadata.get(self.profile.letter_metadata_key)
            return value if isinstance(value, str) and value else None
        if via is LetterVia.COMMENT or self.is_v1p1:
            return comment.split(LETTER_SEPARATOR, 1)[0] if comment else None
        return text_score


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _moment(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None
