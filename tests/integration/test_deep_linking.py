"""Deep Linking 2.0 content selection against the loopback demo platform: pick or create a task, return it in
a signed LtiDeepLinkingResponse the platform verifies, then launch the link it made."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from lti_tool.demo.platform import PlatformServer, demo_config
from lti_tool.keys import current_signing_key, published_jwks
from lti_tool.lti.roles import AppRole
from lti_tool.models import (
    AssessmentKind,
    ClassIndicator,
    CompetencyItem,
    CompetencyKind,
    Framework,
    FrameworkSource,
    LtiContext,
    LtiResourceLink,
    Task,
    TaskIndicator,
    utcnow,
)
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from tests.integration.launch_harness import (
    DEEP_LINKING,
    LTI,
    STUDENT,
    TEACHER,
    TOOL,
    Harness,
    build_app,
)

CLAIM_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
SECRET_KEY = "test-secret-key"  # the one build_app configures


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def tool_jwks(app: Flask) -> dict[str, Any]:
    """The tool's published JWKS, with its signing key created first (as `keys rotate` would)."""
    with app_state(app).session_factory() as session:
        current_signing_key(session, SECRET_KEY, now=utcnow())
        jwks = published_jwks(session, now=utcnow())
        session.commit()
    return jwks


@pytest.fixture
def server(tool_jwks: dict[str, Any]) -> Iterator[PlatformServer]:
    # The tool runs in Flask's test client, not on a socket: the platform trusts its JWKS as configured
    # instead of fetching it. Signatures are still verified for real.
    def config(base: str) -> Any:
        return replace(demo_config(base, TOOL, student_count=3), tool_jwks_url=None, tool_jwks=tool_jwks)

    with PlatformServer(config) as running:
        yield running


@pytest.fixture
def harness(app: Flask, server: PlatformServer) -> Iterator[Harness]:
    running = Harness(app, server)
    running.registration_id = running.register()
    yield running
    running.close()


# Helpers ---------------------------------------------------------------------------------------------------


def session_token(response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)["mb_session"][0]


def deep_link_launch(harness: Harness) -> str:
    """A teacher's deep-linking launch through the platform; the session token it lands with."""
    launched = harness.launch(harness.authorize(harness.initiate(TEACHER, DEEP_LINKING)))
    assert urlsplit(launched.headers["Location"]).path == "/lti/deep-link"
    return session_token(launched)


def launch_with_settings(harness: Harness, settings: Mapping[str, Any]) -> str:
    """A teacher's deep-linking launch whose deep_linking_settings the test chooses (really signed)."""
    login = harness.login(login_hint=TEACHER)
    token = harness.sign(login, {CLAIM_SETTINGS: dict(settings)}, user_id=TEACHER, message_type=DEEP_LINKING)
    return session_token(harness.launch({"id_token": token, "state": login.state}))


def default_settings(harness: Harness, **changes: Any) -> dict[str, Any]:
    return {
        "deep_link_return_url": harness.server.config.url("/platform/deep_link_return"),
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe"],
        "accept_multiple": False,
        **changes,
    }


def class_id_of(harness: Harness) -> int:
    with app_state(harness.app).session_factory() as session:
        class_id = session.scalars(select(LtiContext.class_id)).one()
        assert class_id is not None
        return class_id


@dataclass
class Indicators:
    class_ids: list[int]  # the class's own indicators
    other_id: int  # in the framework, not the class's


def seed_indicators(harness: Harness, class_id: int) -> Indicators:
    with app_state(harness.app).session_factory() as session:
        framework = Framework(title="Math practices", source=FrameworkSource.MANUAL)
        session.add(framework)
        session.flush()
        items = [
            CompetencyItem(
                framework_id=framework.id,
                kind=CompetencyKind.PERFORMANCE_INDICATOR,
                code=code,
                statement=statement,
                sequence=n,
            )
            for n, (code, statement) in enumerate(
                [
                    ("MP.1", "Make sense of problems & persevere"),
                    ("MP.2", "Reason abstractly and quantitatively"),
                    ("MP.9", "Not taught in this class"),
                ]
            )
        ]
        session.add_all(items)
        session.flush()
        session.add_all(ClassIndicator(class_id=class_id, indicator_id=item.id) for item in items[:2])
        session.commit()
        return Indicators([items[0].id, items[1].id], items[2].id)


def add_task(harness: Harness, class_id: int, title: str, indicator_ids: list[int]) -> int:
    with app_state(harness.app).session_factory() as session:
        task = Task(class_id=class_id, title=title, kind=AssessmentKind.SUMMATIVE, created_at=utcnow())
        session.add(task)
        session.flush()
        session.add_all(TaskIndicator(task_id=task.id, indicator_id=i) for i in indicator_ids)
        session.commit()
        return task.id


def task_count(harness: Harness) -> int:
    with app_state(harness.app).session_factory() as session:
        return session.scalar(select(func.count()).select_from(Task)) or 0


def picker(harness: Harness, token: str) -> TestResponse:
    return harness.app.test_client().get(f"{TOOL}/lti/deep-link", query_string={"mb_session": token})


def submit(harness: Harness, token: str, **fields: Any) -> TestResponse:
    return harness.app.test_client().post(f"{TOOL}/lti/deep-link", data={"mb_session": token, **fields})


def return_form(response: TestResponse) -> tuple[str, str]:
    """The action and JWT of the auto-submitting form the tool answers a selection with."""
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    form = re.search(r'<form id="deep-link-return" method="post" action="([^"]+)">', page)
    token = re.search(r'<input type="hidden" name="JWT" value="([^"]+)">', page)
    assert form is not None, page
    assert token is not None, page
    assert '<button type="submit">' in page  # usable without JavaScript
    assert "/static/js/deep-link-return.js" in page
    assert "<script>" not in page
    return html.unescape(form.group(1)), token.group(1)


def claims_of(response_jwt: str, tool_jwks: dict[str, Any]) -> dict[str, Any]:
    decoded = jwt.decode(response_jwt, KeySet.import_key_set(tool_jwks), algorithms=["RS256"])  # type: ignore[arg-type]
    assert decoded.header["kid"] == tool_jwks["keys"][0]["kid"]
    return dict(decoded.claims)


# Create, pick, return --------------------------------------------------------------------------------------


def test_create_a_task_and_the_platform_accepts_the_response(
    harness: Harness, tool_jwks: dict[str, Any]
) -> None:
    token = deep_link_launch(harness)
    class_id = class_id_of(harness)
    indicators = seed_indicators(harness, class_id)

    page = picker(harness, token)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Make sense of problems &amp; persevere" in body
    assert "MP.2" in body
    assert "MP.9" not in body  # the class has indicators of its own: only those are offered
    assert f'name="mb_session" value="{token}"' in body
    assert "Add an existing task" not in body  # no tasks yet

    answer = submit(
        harness,
        token,
        choice="new",
        title="Ratio tables",
        kind="formative",
        indicator_ids=[str(i) for i in indicators.class_ids],
        assigned_on="2025-09-15",
    )
    action, response_jwt = return_form(answer)

    assert action == harness.server.config.url("/platform/deep_link_return")
    with app_state(harness.app).session_factory() as session:
        task = session.scalars(select(Task)).one()
        assert (task.title, task.kind, task.class_id) == ("Ratio tables", AssessmentKind.FORMATIVE, class_id)
        assert str(task.assigned_on) == "2025-09-15"
        assert task.created_by_id is not None
        linked = session.scalars(select(TaskIndicator.indicator_id).where(TaskIndicator.task_id == task.id))
        assert sorted(linked) == sorted(indicators.class_ids)
        task_id = task.id

    claims = claims_of(response_jwt, tool_jwks)
    config = harness.server.config
    assert claims["iss"] == config.client_id
    assert claims["aud"] == config.issuer
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nonce"]
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[LTI + "deployment_id"] == config.deployment_id
    assert harness.server.platform.is_deep_link_data(claims[CLAIM_DATA])  # the request's data, echoed
    assert claims[CLAIM_ITEMS] == [
        {
            "type": "ltiResourceLink",
            "title": "Ratio tables",
            "url": f"{TOOL}/lti/launch",
            "custom": {"task_id": str(task_id)},
            "lineItem": {
                "scoreMaximum": 4,
                "label": "Ratio tables",
                "resourceId": f"task-{task_id}",
                "tag": "mastery-bridge",
            },
        }
    ]

    accepted = harness.http.post(action, data={"JWT": response_jwt}, timeout=5)

    assert accepted.status_code == 200, accepted.text
    assert "1 item(s) added" in accepted.text
    store = harness.server.platform.store
    assert [item["custom"] for item in store.deep_link_items] == [{"task_id": str(task_id)}]
    [line_item] = store.line_items.values()
    assert (line_item.label, line_item.score_maximum) == ("Ratio tables", 4)
    assert (line_item.resource_id, line_item.tag) == (f"task-{task_id}", "mastery-bridge")


def test_pick_an_existing_task(harness: Harness, tool_jwks: dict[str, Any]) -> None:
    token = deep_link_launch(harness)
    class_id = class_id_of(harness)
    indicators = seed_indicators(harness, class_id)
    task_id = add_task(harness, class_id, "Unit 2 exhibition", indicators.class_ids[:1])

    body = picker(harness, token).get_data(as_text=True)
    assert "Add an existing task" in body
    assert "Unit 2 exhibition" in body
    assert "Summative" in body
    assert re.search(r'<abbr title="Make sense of problems &amp; persevere">MP.1</abbr>', body)
    assert 'type="checkbox" name="task_id"' in body  # the demo LMS sets accept_multiple

    action, response_jwt = return_form(submit(harness, token, choice="existing", task_id=str(task_id)))

    assert task_count(harness) == 1  # nothing new created
    [item] = claims_of(response_jwt, tool_jwks)[CLAIM_ITEMS]
    assert item["custom"] == {"task_id": str(task_id)}
    assert item["lineItem"]["resourceId"] == f"task-{task_id}"
    accepted = harness.http.post(action, data={"JWT": response_jwt}, timeout=5)
    assert accepted.status_code == 200, accepted.text
    assert [line.resource_id for line in harness.server.platform.store.line_items.values()] == [
        f"task-{task_id}"
    ]


def test_indicators_fall_back_to_the_frameworks_of_the_class_tasks(harness: Harness) -> None:
    token = deep_link_launch(harness)
    class_id = class_id_of(harness)
    indicators = seed_indicators(harness, class_id)
    with app_state(harness.app).session_factory() as session:
        for row in session.scalars(select(ClassIndicator)):
            session.delete(row)
        session.commit()
    add_task(harness, class_id, "Earlier task", indicators.class_ids[:1])

    body = picker(harness, token).get_data(as_text=True)

    for code in ("MP.1", "MP.2", "MP.9"):
        assert f'<span class="indicator-code">{code}</span>' in body


# Validation ------------------------------------------------------------------------------------------------


def test_missing_title_and_indicators_re_render_with_errors_and_store_nothing(harness: Harness) -> None:
    token = deep_link_launch(harness)
    seed_indicators(harness, class_id_of(harness))

    answer = submit(
        harness,
        token,
        choice="new",
        title="   ",
        kind="summative",
        assigned_on="2025-10-01",
        description="Keep <this> text",
    )

    body = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "There is a problem" in body
    assert 'role="alert"' in body
    assert '<a href="#field-title">Enter a title for the task.</a>' in body
    assert '<a href="#field-indicator_ids">Choose at least one indicator the task assesses.</a>' in body
    assert 'id="field-title" name="title"' in body
    assert 'aria-describedby="error-title"' in body
    # What was typed is still there.
    assert 'id="kind-summative" name="kind" value="summative" checked' in body
    assert 'value="2025-10-01"' in body
    assert "Keep &lt;this&gt; text</textarea>" in body
    assert f'name="mb_session" value="{token}"' in body
    assert task_count(harness) == 0


def test_indicator_of_another_class_and_bad_date_are_rejected(harness: Harness) -> None:
    token = deep_link_launch(harness)
    indicators = seed_indicators(harness, class_id_of(harness))

    answer = submit(
        harness,
        token,
        choice="new",
        title="Kept title",
        kind="formative",
        indicator_ids=[str(indicators.class_ids[0]), str(indicators.other_id)],
        assigned_on="15/09/2025",
    )

    body = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<a href="#field-indicator_ids">' in body
    assert '<a href="#field-assigned_on">' in body
    assert 'value="Kept title"' in body
    assert (
        f'id="indicator-{indicators.class_ids[0]}" name="indicator_ids" value="{indicators.class_ids[0]}" checked'
        in body
    )
    assert task_count(harness) == 0


def test_picking_a_task_of_another_class_is_rejected(harness: Harness) -> None:
    token = deep_link_launch(harness)
    class_id = class_id_of(harness)
    seed_indicators(harness, class_id)
    add_task(harness, class_id, "Ours", [])

    answer = submit(harness, token, choice="existing", task_id="999999")

    assert answer.status_code == 400
    assert '<a href="#field-task_id">Choose a task of this class to add.</a>' in answer.get_data(as_text=True)


def test_one_item_only_unless_the_platform_accepts_multiple(
    harness: Harness, tool_jwks: dict[str, Any]
) -> None:
    token = launch_with_settings(harness, default_settings(harness, accept_multiple=False))
    class_id = class_id_of(harness)
    first, second = (add_task(harness, class_id, title, []) for title in ("One", "Two"))

    answer = submit(harness, token, choice="existing", task_id=[str(first), str(second)])

    assert answer.status_code == 400
    assert "accepts one task at a time" in answer.get_data(as_text=True)

    several = launch_with_settings(harness, default_settings(harness, accept_multiple=True))
    assert 'type="checkbox" name="task_id"' in picker(harness, several).get_data(as_text=True)
    _, response_jwt = return_form(
        submit(harness, several, choice="existing", task_id=[str(first), str(second)])
    )
    items = claims_of(response_jwt, tool_jwks)[CLAIM_ITEMS]
    assert [item["custom"]["task_id"] for item in items] == [str(first), str(second)]


def test_no_post_without_the_session_token(harness: Harness) -> None:
    deep_link_launch(harness)

    answer = harness.app.test_client().post(f"{TOOL}/lti/deep-link", data={"choice": "new", "title": "x"})

    assert answer.status_code == 401
    assert task_count(harness) == 0


# Roles and settings ----------------------------------------------------------------------------------------


def test_learner_gets_403(harness: Harness) -> None:
    token = session_token(harness.launch(harness.authorize(harness.initiate(STUDENT))))

    assert picker(harness, token).status_code == 403
    assert submit(harness, token, choice="new", title="x", kind="formative").status_code == 403
    assert task_count(harness) == 0


def test_teacher_outside_a_deep_linking_launch_gets_403(harness: Harness) -> None:
    token = session_token(harness.launch(harness.authorize(harness.initiate(TEACHER))))

    assert picker(harness, token).status_code == 403


@pytest.mark.parametrize("data", [{"opaque": [1, "two"]}, "csrf-token-42"])
def test_data_is_echoed_exactly(harness: Harness, tool_jwks: dict[str, Any], data: Any) -> None:
    token = launch_with_settings(harness, default_settings(harness, data=data))
    class_id = class_id_of(harness)
    task_id = add_task(harness, class_id, "Echo", [])

    _, response_jwt = return_form(submit(harness, token, choice="existing", task_id=str(task_id)))

    assert claims_of(response_jwt, tool_jwks)[CLAIM_DATA] == data


def test_no_data_claim_without_data_and_no_line_item_when_not_accepted(
    harness: Harness, tool_jwks: dict[str, Any]
) -> None:
    token = launch_with_settings(harness, default_settings(harness, accept_lineitem=False))
    task_id = add_task(harness, class_id_of(harness), "Ungraded", [])

    _, response_jwt = return_form(submit(harness, token, choice="existing", task_id=str(task_id)))

    claims = claims_of(response_jwt, tool_jwks)
    assert CLAIM_DATA not in claims
    [item] = claims[CLAIM_ITEMS]
    assert "lineItem" not in item


def test_platform_that_does_not_accept_resource_links_gets_a_clear_error(harness: Harness) -> None:
    # The launch itself is refused (the id_token validator requires ltiResourceLink in accept_types)...
    before = harness.counts()
    login = harness.login(login_hint=TEACHER)
    settings = default_settings(harness, accept_types=["link", "file"])
    id_token = harness.sign(login, {CLAIM_SETTINGS: settings}, user_id=TEACHER, message_type=DEEP_LINKING)

    launched = harness.launch({"id_token": id_token, "state": login.state})

    assert launched.status_code == 400
    assert "resource link" in launched.get_data(as_text=True)
    assert harness.counts() == before

    # ...and the picker checks again, should a session with such settings exist (defence in depth).
    class_id = class_id_of_new_class(harness)
    with harness.app.test_request_context():
        token = issue_session_token(
            LaunchSession(
                person_id=1,
                registration_id=harness.registration_id or 1,
                deployment_id=harness.server.config.deployment_id,
                lti_context_id=None,
                class_id=class_id,
                roles=frozenset({AppRole.TEACHER}),
                message_type=DEEP_LINKING,
                resource_link_id=None,
                deep_link_settings=settings,
            )
        )
    task_id = add_task(harness, class_id, "Unwanted", [])

    page = picker(harness, token)
    answer = submit(harness, token, choice="existing", task_id=str(task_id))

    for response in (page, answer):
        body = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "asked for content of type link, file" in body
        assert "ltiResourceLink" in body


def class_id_of_new_class(harness: Harness) -> int:
    """A class made by a teacher's ordinary launch."""
    assert harness.launch(harness.authorize(harness.initiate(TEACHER))).status_code == 303
    return class_id_of(harness)


# The link the platform made ---------------------------------------------------------------------------------


def test_launching_the_deep_linked_link_binds_it_to_the_task(
    harness: Harness, tool_jwks: dict[str, Any]
) -> None:
    token = deep_link_launch(harness)
    class_id = class_id_of(harness)
    indicators = seed_indicators(harness, class_id)
    answer = submit(
        harness,
        token,
        choice="new",
        title="Linked",
        kind="summative",
        indicator_ids=str(indicators.class_ids[0]),
    )
    action, response_jwt = return_form(answer)
    assert harness.http.post(action, data={"JWT": response_jwt}, timeout=5).status_code == 200
    [item] = harness.server.platform.store.deep_link_items

    login = harness.login()
    launch_token = harness.sign(login, {LTI + "custom": item["custom"]})
    assert harness.launch({"id_token": launch_token, "state": login.state}).status_code == 303

    with app_state(harness.app).session_factory() as session:
        link = session.scalars(select(LtiResourceLink)).one()
        assert link.task_id == int(item["custom"]["task_id"])


def test_custom_task_id_of_another_class_is_not_linked(harness: Harness) -> None:
    deep_link_launch(harness)
    class_id = class_id_of(harness)
    other_login = harness.login()
    other = harness.sign(other_login, {LTI + "context": {"id": "another-course", "title": "Another course"}})
    assert harness.launch({"id_token": other, "state": other_login.state}).status_code == 303
    with app_state(harness.app).session_factory() as session:
        other_class = session.scalars(
            select(LtiContext.class_id).where(LtiContext.context_id == "another-course")
        ).one()
    assert other_class is not None
    assert other_class != class_id
    foreign_task = add_task(harness, other_class, "Elsewhere", [])

    login = harness.login()
    launch_token = harness.sign(login, {LTI + "custom": {"task_id": str(foreign_task)}})
    assert harness.launch({"id_token": launch_token, "state": login.state}).status_code == 303

    with app_state(harness.app).session_factory() as session:
        link = session.scalars(
            select(LtiResourceLink)
            .join(LtiContext, LtiContext.id == LtiResourceLink.lti_context_id)
            .where(LtiContext.class_id == class_id)
        ).one()
        assert link.task_id is None
