"""Typed records exchanged with LTI Advantage services (NRPS 2.0, AGS 2.0)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# Scope URIs, LTI Advantage NRPS 2.0 §3.6.1.1 and AGS 2.0 §3.1.
SCOPE_NRPS_MEMBERSHIP = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPE_AGS_LINE_ITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_AGS_LINE_ITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_AGS_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"

# Media types, NRPS 2.0 §2.2 and AGS 2.0 §3.2, §3.4.
MEDIA_TYPE_MEMBERSHIP = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MEDIA_TYPE_LINE_ITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_TYPE_LINE_ITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_TYPE_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_TYPE_RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"


@dataclass(frozen=True, slots=True)
class PlatformCredentials:
    """What a tool needs to obtain LTI Advantage access tokens from one platform registration.

    Security Framework §4.1.1: the client assertion's `aud` is the token URL unless the
    platform registered a separate authorization-server audience.
    """

    issuer: str
    client_id: str
    token_url: str
    private_key_pem: bytes = field(repr=False)
    key_id: str
    audience: str | None = None

    @property
    def assertion_audience(self) -> str:
        """The `aud` to put in client assertions: `audience` when set, else the token URL."""
        return self.audience or self.token_url


@dataclass(frozen=True, slots=True)
class Member:
    """One NRPS 2.0 membership (§2.3); only `user_id` is guaranteed by every platform."""

    user_id: str
    roles: tuple[str, ...] = ()
    status: str | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    lis_person_sourcedid: str | None = None

    def __repr__(self) -> str:
        # Keep names and emails out of logs and tracebacks.
        return f"Member(user_id=<redacted>, roles={self.roles!r}, status={self.status!r})"


@dataclass(frozen=True, slots=True)
class MembershipContext:
    """The context (course) an NRPS membership container describes."""

    id: str
    label: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """A whole NRPS membership container: the context and every member across all pages."""

    id: str
    context: MembershipContext
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class LineItem:
    """An AGS 2.0 line item (§3.2); `id` is its URL and is `None` only before creation."""

    label: str
    score_maximum: Decimal
    id: str | None = None
    resource_link_id: str | None = None
    tag: str | None = None
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    """An AGS 2.0 score publication (§3.4); `timestamp` must be timezone-aware."""

    user_id: str
    score_maximum: Decimal
    timestamp: datetime
    score_given: Decimal | None = None
    activity_progress: str = "Completed"
    grading_progress: str = "FullyGraded"
    comment: str | None = None
    # Vendor extension claims sent beside the AGS fields, e.g. Canvas's
    # "https://canvas.instructure.com/lti/submission" (see `canvas_submission_extension`).
    extensions: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValueError(
                f"Score.timestamp must be timezone-aware, got naive {self.timestamp.isoformat()}"
            )


@dataclass(frozen=True, slots=True)
class Result:
    """An AGS 2.0 result (§3.3): what the platform recorded for one user on one line item."""

    id: str
    user_id: str
    score_of: str
    result_score: Decimal | None = None
    result_maximum: Decimal | None = None
    comment: str | None = None


CANVAS_SUBMISSION_EXTENSION = "https://canvas.instructure.com/lti/submission"
CANVAS_ISSUERS = frozenset({"https://canvas.instructure.com", "https://sso.canvaslms.com"})


def canvas_submission_extension(issuer: str) -> dict[str, Any] | None:
    """Canvas's score extension, for Canvas issuers only.

    Canvas treats every score POST as a new submission attempt unless told otherwise; a proficiency
    that mastery-bridge re-sends after each new piece of evidence is a regrade, not a new attempt
    (Canvas Score API, `https://canvas.instructure.com/lti/submission`, `new_submission`).
    """
    if issuer.rstrip("/") not in CANVAS_ISSUERS:
        return None
    return {CANVAS_SUBMISSION_EXTENSION: {"new_submission": False}}
