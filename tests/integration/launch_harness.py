"""Drive LTI 1.3 launches into the tool (Flask test client) from a real demo platform on loopback."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from lti_tool.app import create_app
from lti_tool.db import upgrade_database
from lti_tool.demo.platform import PlatformServer, demo_config
from lti_tool.models import (
    Enrollment,
    LtiContext,
    LtiNonce,
    LtiRegistration,
    LtiTokenReplay,
    Person,
    PersonIdentifier,
    RegistrationStatus,
)
from lti_tool.registrations import add_platform
from lti_tool.settings import Settings
from lti_tool.web.session import app_state

TOOL = "https://mb.example.org"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
TEACHER = "demo-teacher-001"
STUDENT = "demo-student-0001"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
COUNTED = {
    "persons": Person,
    "person_identifiers": PersonIdentifier,
    "enrollments": Enrollment,
    "lti_contexts": LtiContext,
    "lti_token_replays": LtiTokenReplay,
}


def build_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The tool on a freshly migrated database at `database_url`, served at TOOL."""
    upgrade_database(database_url)
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=tmp_path,
            public_base_url=TOOL,
            secret_key="test-secret-key",
            log_level="INFO",
            is_debug=False,
        )
    )
    yield app
    app_state(app).dispose()


def start_platform() -> PlatformServer:
    """The demo LMS on a free loopback port, configured for the tool at TOOL (a few students)."""
    return PlatformServer(lambda base: demo_config(base, TOOL, student_count=3)).start()


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form of a page."""
    action = re.search(r'<form[^>]* action="([^"]+)"', page)
    assert action is not None, page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def data_attributes(page: str) -> dict[str, str]:
    """The data-* attributes of the Platform Storage form (what lti-storage.js reads)."""
    form = re.search(r'<form id="lti-storage"[^>]*>', page, re.S)
    assert form is not None, page
    return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', form.group(0))}


def query_of(url: str) -> dict[str, str]:
    """The query parameters of `url`, one value each."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class Login:
    """What the tool answered to a login initiation: the auth request and the state the browser keeps."""

    response: TestResponse
    auth_url: str
    state: str
    nonce: str


class Harness:
    """One tool app + one demo platform; registers the platform and plays the browser between them."""

    def __init__(self, app: Flask, server: PlatformServer) -> None:
        self.app = app
        self.server = server
        self.client: FlaskClient = app.test_client()
        self.http = requests.Session()
        self.platform_storage: dict[tuple[str, str], str] = {}
        self.registration_id: int | None = None

    # Database ------------------------------------------------------------------------------------------

    def register(
        self,
        *,
        issuer: str | None = None,
        client_id: str | None = None,
        deployment_id: str | None = None,
        status: RegistrationStatus = RegistrationStatus.ACTIVE,
    ) -> int:
        config = self.server.config
        with app_state(self.app).session_factory() as session:
            registration = add_platform(
                session,
                issuer=issuer or config.issuer,
                client_id=client_id or config.client_id,
                deployment_id=deployment_id or config.deployment_id,
                auth_login_url=config.url("/platform/authorize"),
                auth_token_url=config.token_url,
                key_set_url=config.url("/platform/jwks"),
                status=status,
            )
            session.commit()
            return registration.id

    def set_status(self, registration_id: int, status: RegistrationStatus) -> None:
        with app_state(self.app).session_factory() as session:
            registration = session.get(LtiRegistration, registration_id)
            assert registration is not None
            registration.status = status
            session.commit()

    def counts(self) -> dict[str, int]:
        with app_state(self.app).session_factory() as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in COUNTED.items()
            }

    def nonce_used(self, nonce: str) -> bool:
        with app_state(self.app).session_factory() as session:
            row = session.scalars(select(LtiNonce).where(LtiNonce.value == nonce)).one()
            return row.used_at is not None

    # Browser -----------------------------------------------------------------------------------------

    def login(self, **params: str) -> Login:
        """A login initiation sent straight to the tool by GET (no storage target unless given)."""
        config = self.server.config
        query = {
            "iss": config.issuer,
            "login_hint": STUDENT,
            "target_link_uri": f"{TOOL}/lti/launch",
            "client_id": config.client_id,
            "lti_deployment_id": config.deployment_id,
            **params,
        }
        response = self.client.get(f"{TOOL}/lti/login", query_string=query)
        if "lti_storage_target" in params:
            assert response.status_code == 200, response.get_data(as_text=True)
            return self._login(response, data_attributes(response.get_data(as_text=True))["next"])
        assert response.status_code == 302, response.get_data(as_text=True)
        return self._login(response, response.headers["Location"])

    def _login(self, response: TestResponse, auth_url: str) -> Login:
        auth = query_of(auth_url)
        return Login(response=response, auth_url=auth_url, state=auth["state"], nonce=auth["nonce"])

    def initiate(self, user_id: str, message_type: str = RESOURCE_LINK, *, method: str = "GET") -> Login:
        """Start at the platform's /platform/initiate and follow it into the tool's /lti/login."""
        answer = self.http.get(
            self.server.config.url("/platform/initiate"),
            params={"user_id": user_id, "message_type": message_type, "method": method},
            allow_redirects=False,
            timeout=5,
        )
        if method == "GET":
            assert answer.status_code == 302
            response = self.client.get(answer.headers["Location"])
        else:
            assert answer.status_code == 200
            action, fields = form_fields(answer.text)
            response = self.client.post(action, data=fields)
        # The demo platform always sends lti_storage_target=_parent: the tool answers with its storage page.
        assert response.status_code == 200, response.get_data(as_text=True)
        page = data_attributes(response.get_data(as_text=True))
        assert page["mode"] == "put"
        return self._login(response, page["next"])

    def store_in_platform(self, login: Login) -> None:
        """Play lti-storage.js + the platform frame for lti.put_data, checking the origin it addresses."""
        page = data_attributes(login.response.get_data(as_text=True))
        assert page["origin"] == self.server.base_url
        self.platform_storage[(TOOL, page["key"])] = page["value"]

    def authorize(self, login: Login) -> dict[str, str]:
        """The platform's authorization step; returns the auto-posted id_token and state."""
        answer = self.http.get(login.auth_url, timeout=5)
        assert answer.status_code == 200, answer.text
        action, fields = form_fields(answer.text)
        assert action == f"{TOOL}/lti/launch"
        return fields

    def sign(self, login: Login, claims: Mapping[str, Any] | None = None, **options: Any) -> str:
        """A really signed id_token for this login's nonce."""
        options.setdefault("nonce", login.nonce)
        return self.server.platform.sign_id_token(claims, **options)

    def launch(self, fields: Mapping[str, str], *, client: FlaskClient | None = None) -> TestResponse:
        return (client or self.client).post(f"{TOOL}/lti/launch", data=dict(fields))

    def launch_via_storage(self, fields: Mapping[str, str]) -> TestResponse:
        """A launch from a browser that kept no cookie: the tool's storage page, lti.get_data, the re-post."""
        cookieless = self.app.test_client()
        first = self.launch(fields, client=cookieless)
        assert first.status_code == 200, first.get_data(as_text=True)
        page_html = first.get_data(as_text=True)
        page = data_attributes(page_html)
        assert page["mode"] == "get"
        assert page["origin"] == self.server.base_url
        assert page["target"] == "_parent"
        action, hidden = form_fields(page_html)
        stored = self.platform_storage.get((TOOL, page["key"]), "")
        hidden["mb_storage_state"] = stored
        return cookieless.post(f"{TOOL}{action}" if action.startswith("/") else action, data=hidden)

    def follow(self, response: TestResponse) -> TestResponse:
        assert response.status_code == 303, response.get_data(as_text=True)
        return self.app.test_client().get(response.headers["Location"], base_url=TOOL)

    def close(self) -> None:
        self.http.close()
