"""Platform registrations: add (idempotent per issuer + client_id), validation naming the field, status."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from lti_tool.errors import RegistrationError
from lti_tool.models import RegistrationSource, RegistrationStatus
from lti_tool.registrations import (
    add_platform,
    approve_platform,
    disable_platform,
    list_platforms,
    tool_urls,
)

PLATFORM: dict[str, Any] = {
    "issuer": "https://canvas.instructure.com",
    "client_id": "10000000000001",
    "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
    "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
}


def test_add_platform_is_active_with_its_deployment(db_session: Session) -> None:
    registration = add_platform(db_session, deployment_id="1:abc", **PLATFORM)

    assert registration.id is not None
    assert registration.status == RegistrationStatus.ACTIVE
    assert registration.source == RegistrationSource.CLI
    assert registration.approved_at is not None
    assert registration.name == PLATFORM["issuer"]
    assert [d.deployment_id for d in registration.deployments] == ["1:abc"]


def test_adding_again_adds_a_second_deployment_to_the_same_registration(db_session: Session) -> None:
    first = add_platform(db_session, deployment_id="1:abc", **PLATFORM)
    second = add_platform(db_session, deployment_id="2:def", **PLATFORM)
    again = add_platform(db_session, deployment_id="2:def", **PLATFORM)

    assert first.id == second.id == again.id
    assert sorted(d.deployment_id for d in second.deployments) == ["1:abc", "2:def"]
    assert [r.id for r in list_platforms(db_session)] == [first.id]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth_login_url", "sso.canvaslms.com/authorize"),
        ("auth_token_url", "ftp://sso.canvaslms.com/token"),
        ("key_set_url", "/api/lti/security/jwks"),
    ],
)
def test_bad_url_names_the_field(db_session: Session, field: str, value: str) -> None:
    with pytest.raises(RegistrationError, match=f"^{field} must be an absolute http"):
        add_platform(db_session, deployment_id="1", **{**PLATFORM, field: value})


@pytest.mark.parametrize("field", ["issuer", "client_id", "deployment_id"])
def test_empty_identifier_names_the_field(db_session: Session, field: str) -> None:
    values = {**PLATFORM, "deployment_id": "1", field: "  "}
    with pytest.raises(RegistrationError, match=f"^{field} must not be empty"):
        add_platform(db_session, **values)


def test_changed_endpoint_for_existing_registration_is_refused(db_session: Session) -> None:
    add_platform(db_session, deployment_id="1", **PLATFORM)
    with pytest.raises(RegistrationError, match=r"^key_set_url .* differs"):
        add_platform(
            db_session, deployment_id="2", **{**PLATFORM, "key_set_url": "https://other.example/jwks"}
        )


def test_approve_and_disable(db_session: Session) -> None:
    pending = add_platform(
        db_session,
        deployment_id="1",
        source=RegistrationSource.DYNAMIC,
        status=RegistrationStatus.PENDING,
        **PLATFORM,
    )
    assert pending.approved_at is None

    approved = approve_platform(db_session, pending.id)
    assert approved.status == RegistrationStatus.ACTIVE
    assert approved.approved_at is not None
    assert disable_platform(db_session, pending.id).status == RegistrationStatus.DISABLED


def test_unknown_registration_id_is_a_clear_error(db_session: Session) -> None:
    with pytest.raises(RegistrationError, match="no platform registration with id 999999"):
        approve_platform(db_session, 999999)
    with pytest.raises(RegistrationError, match="no platform registration with id 999999"):
        disable_platform(db_session, 999999)


def test_tool_urls_are_absolute_under_the_public_base_url() -> None:
    urls = tool_urls("https://mb.example.org/")

    assert urls.login_url == "https://mb.example.org/lti/login"
    assert urls.launch_url == urls.deep_link_url == "https://mb.example.org/lti/launch"
    assert urls.jwks_url == "https://mb.example.org/lti/jwks"
    assert urls.canvas_config_url == "https://mb.example.org/lti/config/canvas.json"
