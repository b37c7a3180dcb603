"""Sample period grades and gradebook clients bound to the fake OneRoster server, shared by the gradebook tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from connectors.oneroster import (
    ROSTERING_PATH_V1P1,
    ROSTERING_PATH_V1P2,
    Authenticator,
    OAuth1Signature,
    OAuth2ClientCredentials,
    OneRosterEndpoint,
    OneRosterVersion,
    RetryPolicy,
    Transport,
    new_session,
)
from connectors.oneroster.gradebook import OneRosterGradebookClient
from connectors.oneroster.profiles import AuthKind, VendorProfile
from connectors.oneroster_csv import (
    GradebookCategory,
    GradebookScoreScale,
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ScoreScaleValue,
)
from tests.support.oneroster_fake import FakeServer

MODIFIED = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)
PERIOD = "term-1"
CLASS = "class-1"
SCHOOL = "org-school"
OBJECTIVES = ("9f1c5a1e-2b7d-4a6e-8f3c-1d2e3f4a5b6c", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
LETTERS = (("4", "A"), ("3", "B"), ("2", "C"), ("1", "D"))


@dataclass(frozen=True)
class PeriodGrades:
    """One class's period grades: its category, score scale, line item and results."""

    category: GradebookCategory
    score_scale: GradebookScoreScale
    line_item: PeriodLineItem
    results: tuple[PeriodResult, ...]


def period_grades(
    *, title: str = "Algebra I - P1 - Fall term grade", students: int = 3, comment: str | None = "Solid work"
) -> PeriodGrades:
    """Deterministic grades for `students` students of class-1 in term-1."""
    category = GradebookCategory(title="Term Grade", scope_sourced_id=SCHOOL, date_last_modified=MODIFIED)
    scale = GradebookScoreScale(
        title="Mastery letters",
        class_sourced_id=CLASS,
        values=tuple(ScoreScaleValue(lhs, rhs) for lhs, rhs in LETTERS),
        date_last_modified=MODIFIED,
        course_sourced_id="course-alg",
    )
    line_item = PeriodLineItem(
        class_sourced_id=CLASS,
        school_sourced_id=SCHOOL,
        category_sourced_id=category.sourced_id,
        grading_period_sourced_id=PERIOD,
        title=title,
        assign_date=datetime(2025, 8, 20, tzinfo=UTC),
        due_date=datetime(2026, 1, 20, tzinfo=UTC),
        date_last_modified=MODIFIED,
        result_value_min=Decimal("1"),
        result_value_max=Decimal("4"),
        score_scale_sourced_id=scale.sourced_id,
        learning_objective_ids=OBJECTIVES,
    )
    results = tuple(
        PeriodResult(
            class_sourced_id=CLASS,
            grading_period_sourced_id=PERIOD,
            student_sourced_id=f"s-{n:02d}",
            score_status="fully graded",
            score_date=date(2026, 1, 20),
            date_last_modified=MODIFIED,
            score=Decimal(str(LETTERS[n % 4][0])),
            text_score=LETTERS[n % 4][1],
            comment=comment,
            score_scale_sourced_id=scale.sourced_id,
            objective_scores=(ObjectiveScore(OBJECTIVES[0], score=Decimal("3")),),
        )
        for n in range(1, students + 1)
    )
    return PeriodGrades(category, scale, line_item, results)


def gradebook_client(
    server: FakeServer,
    profile: VendorProfile,
    *,
    version: OneRosterVersion | None = None,
    sleeps: list[float] | None = None,
    timeout: float = 2.0,
    scopes: tuple[str, ...] | None = None,
    authenticator: Authenticator | None = None,
) -> OneRosterGradebookClient:
    """A gradebook client for `server` as a district on `profile` would configure it."""
    version = version or profile.default_version
    fake = server.fake
    if authenticator is None:
        if profile.auth is AuthKind.OAUTH1 and version is OneRosterVersion.V1P1:
            assert profile.oauth1_signature is not None
            authenticator = OAuth1Signature(fake.client_id, fake.client_secret, profile.oauth1_signature)
        else:
            authenticator = OAuth2ClientCredentials(
                server.token_url,
                fake.client_id,
                fake.client_secret,
                scopes if scopes is not None else profile.scopes(version, gradebook=True),
                auth_method=profile.token_auth_method,
            )
    recorded = sleeps if sleeps is not None else []
    sleep: Callable[[float], None] = recorded.append
    transport = Transport(
        new_session(), authenticator, timeout=timeout, retry=RetryPolicy(max_retries=6), sleep=sleep,
        rng=random.Random(5),
    )  # fmt: skip
    if version is OneRosterVersion.V1P1:
        endpoint = OneRosterEndpoint(version, server.base_url + ROSTERING_PATH_V1P1)
    else:
        endpoint = OneRosterEndpoint(
            version, server.base_url + ROSTERING_PATH_V1P2, gradebook_url=server.gradebook_url("1.2")
        )
    return OneRosterGradebookClient(transport, endpoint, profile)
