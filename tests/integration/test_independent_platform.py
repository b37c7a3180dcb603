"""End-to-end against an LTI 1.3 platform we did not write (`lti1p3platform`, wrapped in independent_platform.py):
launches, NRPS roster sync, AGS grade push and deep linking, with real RS256 signatures on both sides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jws
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from connectors.errors import ConnectorAuthError
from connectors.lms import PlatformCredentials, TokenClient, Transport, new_session
from lti_tool.keys import current_signing_key, published_jwks
from lti_tool.lti.grade_push import ensure_line_item, push_task_scores
from lti_tool.lti.roster_sync import sync_roster
from lti_tool.lti.services import ags_client, credentials_for, nrps_client
from lti_tool.models import (
    AssessmentKind,
    CompetencyItem,
    CompetencyKind,
    Course,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    IdentifierSource,
    LineItem,
    LtiContext,
    LtiRegistration,
    Org,
    OrgType,
    PersonIdentifier,
    RegistrationSource,
    RegistrationStatus,
    SchoolClass,
    ScoreStatus,
    Task,
    TaskIndicator,
    utcnow,
)
from lti_tool.policies import policy_from_row, shipped_policy_document, store_policy
from lti_tool.registrations import add_platform
from lti_tool.web.session import app_state
from mappings import Policy
from tests.integration.independent_platform import (
    DEEP_LINKING_HINT,
    RESOURCE_LINK_HINT,
    IndependentPlatform,
    build_roster,
    new_private_key_pem,
)
from tests.integration.launch_harness import TOOL, build_app, form_fields, query_of
from tests.integration.test_ags_push import SCORES, expected_value, explanation_url
from tests.integration.test_nrps_sync import NOW, SECRET_KEY, active_enrollments

SECRET = "test-secret-key"  # launch_harness.build_app's secret_key
TEACHER = "teacher-1"
STUDENT = "student-01"


@pytest.fixture(scope="module")
def platform_key() -> str:
    return new_private_key_pem()


# Launches -------------------------------------------------------------------------------------------------


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def platform(app: Flask, platform_key: str) -> Iterator[IndependentPlatform]:
    with IndependentPlatform(private_key_pem=platform_key, tool_base_url=TOOL) as running:
        with app_state(app).session_factory() as session:
            add_platform(
                session,
                issuer=running.issuer,
                client_id=running.client_id,
                deployment_id=running.deployment_id,
                auth_login_url=running.url("/authorize"),
                auth_token_url=running.url("/token"),
                key_set_url=running.url("/jwks"),
                name="lti1p3platform",
            )
            # The platform trusts the tool's JWKS: a teacher's launch refreshes the roster through NRPS.
            now = utcnow()
            current_signing_key(session, SECRET, now=now)
            running.registration.set_tool_key_set(published_jwks(session, now=now))
            session.commit()
        yield running


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@dataclass
class Launch:
    """What the browser carried from the platform's authorization form to the tool, and the tool's answer."""

    fields: dict[str, str]
    response: TestResponse


def launch(
    app: Flask, platform: IndependentPlatform, browser: requests.Session, user_id: str, message: str
) -> Launch:
    """Platform login initiation -> tool /lti/login -> platform authorization -> tool /lti/launch."""
    client = app.test_client()  # keeps the tool's state cookie, like the browser would
    initiation = browser.get(
        platform.url("/initiate"),
        params={"user_id": user_id, "message": message},
        allow_redirects=False,
        timeout=5,
    )
    assert initiation.status_code == 302, initiation.text
    login = client.get(initiation.headers["Location"])
    assert login.status_code == 302, login.get_data(as_text=True)
    auth_url = login.headers["Location"]
    assert auth_url.startswith(platform.url("/authorize?"))
    authorization = browser.get(auth_url, timeout=5)
    assert authorization.status_code == 200, authorization.text
    action, fields = form_fields(authorization.text)
    assert action == f"{TOOL}/lti/launch"
    assert fields["state"] == query_of(auth_url)["state"]
    return Launch(fields, client.post(action, data=fields))


def follow(app: Flask, response: TestResponse) -> TestResponse:
    assert response.status_code == 303, response.get_data(as_text=True)
    return app.test_client().get(response.headers["Location"], base_url=TOOL)


@pytest.mark.parametrize(
    ("user_id", "landing", "text"),
    [
        (TEACHER, "/teacher/classes/", "1 student ·"),
        (STUDENT, "/student/progress", "My progress"),
    ],
)
def test_resource_link_launch_is_accepted_and_lands(
    app: Flask,
    platform: IndependentPlatform,
    browser: requests.Session,
    user_id: str,
    landing: str,
    text: str,
) -> None:
    launched = launch(app, platform, browser, user_id, RESOURCE_LINK_HINT)

    assert launched.response.status_code == 303, launched.response.get_data(as_text=True)
    assert urlsplit(launched.response.headers["Location"]).path.startswith(landing)
    page = follow(app, launched.response)
    assert page.status_code == 200
    assert text in page.get_data(as_text=True)
    # Signed by the library with the key its JWKS publishes, which the tool fetched over HTTP.
    header = jws.extract_compact(launched.fields["id_token"].encode("ascii")).protected
    assert header["alg"] == "RS256"
    assert header["kid"] == platform.conf.get_jwks()["keys"][0]["kid"]
    assert platform.store.jwks_requests == 1


@pytest.mark.parametrize("claims_published_kid", [True, False], ids=["published-kid", "own-kid"])
def test_token_signed_with_a_key_not_in_its_jwks_is_rejected(
    app: Flask, platform: IndependentPlatform, browser: requests.Session, claims_published_kid: bool
) -> None:
    published_kid = platform.conf.get_jwks()["keys"][0]["kid"]
    platform.forged_signing_key = (new_private_key_pem(), published_kid if claims_published_kid else None)

    launched = launch(app, platform, browser, TEACHER, RESOURCE_LINK_HINT)

    assert 400 <= launched.response.status_code < 500
    body = launched.response.get_data(as_text=True)
    assert ("signature invalid" if claims_published_kid else "unknown kid") in body
    with app_state(app).session_factory() as session:
        assert session.query(LtiRegistration).count() == 1  # and nothing recorded for the launch:
        assert session.query(LtiContext).count() == 0


def test_deep_linking_launch_lands_on_content_selection(
    app: Flask, platform: IndependentPlatform, browser: requests.Session
) -> None:
    launched = launch(app, platform, browser, TEACHER, DEEP_LINKING_HINT)

    assert urlsplit(launched.response.headers["Location"]).path == "/lti/deep-link"
    page = follow(app, launched.response)
    assert page.status_code == 200
    assert platform.url("/deep-link-return") in page.get_data(as_text=True)


def test_deep_link_response_is_accepted_by_the_platform(
    app: Flask, platform: IndependentPlatform, browser: requests.Session
) -> None:
    launched = launch(app, platform, browser, TEACHER, DEEP_LINKING_HINT)
    with app_state(app).session_factory() as session:
        context = session.scalars(select(LtiContext)).one()
        assert context.class_id is not None
        task = Task(class_id=context.class_id, title="Density lab", kind=AssessmentKind.SUMMATIVE)
        session.add(task)
        session.commit()
        task_id = task.id
    picker = follow(app, launched.response)
    page = picker.get_data(as_text=True)
    assert f'name="task_id" value="{task_id}"' in page
    action, fields = form_fields(page)  # hidden fields of the whole page: the two forms share mb_session

    answer = app.test_client().post(
        f"{TOOL}{action}" if action.startswith("/") else action,
        data={**fields, "choice": "existing", "task_id": str(task_id)},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return_url, returned_fields = form_fields(answer.get_data(as_text=True))
    assert return_url == platform.url("/deep-link-return")
    returned = browser.post(return_url, data=returned_fields, timeout=5)

    assert returned.status_code == 200, returned.text
    (items,) = platform.store.deep_link_items
    assert returned.json()["content_items"] == items
    assert [(item["type"], item["title"], item["custom"]) for item in items] == [
        ("ltiResourceLink", "Density lab", {"task_id": str(task_id)})
    ]
    # What the library does not check (aud, deployment, data echo), checked here on the claims it decoded.
    (claims,) = platform.store.deep_link_responses
    assert (claims["iss"], claims["aud"]) == (platform.client_id, platform.issuer)
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"opaque": "42"}


# LTI Advantage services -----------------------------------------------------------------------------------


@dataclass
class ToolSide:
    """The tool's rows for the independent platform: registration, class, context and token credentials."""

    registration: LtiRegistration
    school_class: SchoolClass
    lti_context: LtiContext
    credentials: PlatformCredentials
    tokens: TokenClient


@contextmanager
def independent_lms(
    session: Session, platform_key: str, *, student_count: int, page_size: int = 3
) -> Iterator[tuple[IndependentPlatform, ToolSide]]:
    """Start the platform trusting the tool's published JWKS; register it and its course in the tool."""
    current_signing_key(session, SECRET_KEY, now=NOW)
    with IndependentPlatform(
        private_key_pem=platform_key,
        tool_base_url=TOOL,
        tool_jwks=published_jwks(session, now=NOW),
        users=build_roster(student_count=student_count),
        page_size=page_size,
    ) as platform:
        registration = LtiRegistration(
            issuer=platform.issuer,
            client_id=platform.client_id,
            name="lti1p3platform",
            auth_login_url=platform.url("/authorize"),
            auth_token_url=platform.url("/token"),
            key_set_url=platform.url("/jwks"),
            status=RegistrationStatus.ACTIVE,
            source=RegistrationSource.CLI,
        )
        org = Org(name="Independent School", type=OrgType.SCHOOL)
        session.add_all([registration, org])
        session.flush()
        course = Course(org_id=org.id, code="SCI-8", title="Science 8", credits=Decimal(1))
        session.add(course)
        session.flush()
        school_class = SchoolClass(course_id=course.id, org_id=org.id, title="Science 8")
        session.add(school_class)
        session.flush()
        lti_context = LtiContext(
            registration_id=registration.id, context_id=platform.context.id, class_id=school_class.id
        )
        session.add(lti_context)
        session.flush()
        credentials = credentials_for(session, registration, SECRET_KEY, now=NOW)
        with new_session() as http:
            tokens = TokenClient(Transport(session=http))
            yield platform, ToolSide(registration, school_class, lti_context, credentials, tokens)


def test_roster_sync_follows_every_page(db_session: Session, platform_key: str) -> None:
    with independent_lms(db_session, platform_key, student_count=7, page_size=3) as (platform, tool):
        client = nrps_client(tool.credentials, tokens=tool.tokens)

        first = sync_roster(db_session, tool.lti_context, platform.memberships_url, source=client, now=NOW)

        assert (first.members, first.created, first.deactivated) == (8, 8, 0)
        pages = platform.store.membership_requests
        assert len(pages) == 3
        assert [query_of(page).get("page") for page in pages] == [None, "2", "3"]
        enrolled = active_enrollments(db_session, tool.school_class.id)
        assert enrolled == {
            TEACHER: EnrollmentRole.TEACHER,
            **{f"student-{n:02d}": EnrollmentRole.STUDENT for n in range(1, 8)},
        }
        # The library verified the client assertion's signature; the claims it does not check, we do here.
        assert platform.store.token_requests == 1
        (assertion,) = platform.store.client_assertions
        assert assertion["iss"] == assertion["sub"] == platform.client_id
        assert assertion["aud"] == platform.url("/token")

        platform.users = tuple(user for user in platform.users if user.user_id != "student-04")
        again = sync_roster(db_session, tool.lti_context, platform.memberships_url, source=client, now=NOW)
        assert (again.members, again.deactivated, again.unchanged) == (7, 1, 7)
        assert "student-04" not in active_enrollments(db_session, tool.school_class.id)


def test_token_request_with_an_unknown_tool_key_is_refused(db_session: Session, platform_key: str) -> None:
    with independent_lms(db_session, platform_key, student_count=1) as (platform, tool):
        platform.registration.set_tool_key_set({"keys": []})
        with pytest.raises(ConnectorAuthError, match="token request refused"):
            tool.tokens.get_token(tool.credentials, ["https://purl.imsglobal.org/spec/lti-ags/scope/score"])
        assert platform.store.client_assertions == []


def add_task_with_evidence(
    session: Session, school_class: SchoolClass, *, learners: int
) -> tuple[Task, Policy]:
    """A summative task on two indicators with the shipped 0-4 policy, and evidence for `learners` learners."""
    row = store_policy(session, shipped_policy_document("four-point-plus-minus"), source="test")
    school_class.policy_id = row.id
    framework = Framework(title="Science", source=FrameworkSource.MANUAL)
    session.add(framework)
    session.flush()
    indicators = [
        CompetencyItem(
            framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR, code=code, statement=code
        )
        for code in ("S.1", "S.2")
    ]
    session.add_all(indicators)
    session.flush()
    task = Task(class_id=school_class.id, title="Lab report", kind=AssessmentKind.SUMMATIVE)
    session.add(task)
    session.flush()
    session.add_all(TaskIndicator(task_id=task.id, indicator_id=item.id) for item in indicators)
    person_ids = dict(
        session.execute(
            select(PersonIdentifier.value, PersonIdentifier.person_id).where(
                PersonIdentifier.source == IdentifierSource.LTI
            )
        ).all()
    )
    rows = [
        {
            "student_id": person_ids[f"student-{n:02d}"],
            "class_id": school_class.id,
            "indicator_id": indicator.id,
            "task_id": task.id,
            "score_status": ScoreStatus.SCORED,
            "level_value": value,
            "demonstrated_at": NOW - timedelta(days=30 - day),
            "recorded_at": NOW,
            "kind": AssessmentKind.SUMMATIVE,
            "source": EvidenceSource.LTI,
        }
        for n in range(1, learners + 1)
        for indicator, scores in zip(indicators, SCORES, strict=True)
        for day, value in enumerate(scores(n))
    ]
    session.execute(insert(Evidence), rows)
    session.flush()
    return task, policy_from_row(row)


def test_line_item_and_scores_are_recorded_by_the_platform(db_session: Session, platform_key: str) -> None:
    with independent_lms(db_session, platform_key, student_count=6) as (platform, tool):
        sync_roster(
            db_session,
            tool.lti_context,
            platform.memberships_url,
            source=nrps_client(tool.credentials, tokens=tool.tokens),
            now=NOW,
        )
        task, policy = add_task_with_evidence(db_session, tool.school_class, learners=5)
        client = ags_client(tool.credentials, tokens=tool.tokens)

        def ensure() -> LineItem:
            return ensure_line_item(
                db_session,
                task,
                client=client,
                line_items_url=platform.line_items_url,
                registration=tool.registration,
                scale_maximum=policy.scale.maximum,
            )

        line_item = ensure()
        assert list(platform.store.line_items.values()) == [
            {
                "id": line_item.url,
                "label": "Lab report",
                "scoreMaximum": 4,
                "resourceId": f"task-{task.id}",
                "tag": f"task-{task.id}",
            }
        ]
        # The row lost: found again on the platform through its (unwrapped, filtered) container.
        db_session.delete(line_item)
        db_session.flush()
        assert ensure().url == line_item.url
        assert len(platform.store.line_items) == 1

        result = push_task_scores(
            db_session, task, client=client, line_item=line_item, policy=policy, now=NOW,
            explanation_url=explanation_url,
        )  # fmt: skip

        assert (result.sent, result.failures, result.skipped_without_evidence) == (5, (), 1)
        received = {score.user_id: score for score in platform.scores_for(line_item.url)}
        assert set(received) == {f"student-{n:02d}" for n in range(1, 6)}
        for n in range(1, 6):
            score = received[f"student-{n:02d}"]
            assert Decimal(str(score.body["scoreGiven"])) == expected_value(policy, n)
            assert score.body["scoreMaximum"] == 4
            assert (score.body["gradingProgress"], score.body["activityProgress"]) == (
                "FullyGraded",
                "Completed",
            )
            assert score.timestamp == NOW

        # Pushed again at the same instant: strictly newer timestamps, so the platform records them too.
        second = push_task_scores(
            db_session, task, client=ags_client(tool.credentials, tokens=tool.tokens), line_item=line_item,
            policy=policy, now=NOW, explanation_url=explanation_url,
        )  # fmt: skip
        assert (second.sent, second.failures) == (5, ())
        assert len(platform.store.scores) == 10
        assert all(score.timestamp > NOW for score in platform.store.scores[5:])
        assert json.dumps(platform.store.scores[0].body)  # what it stored is plain JSON
