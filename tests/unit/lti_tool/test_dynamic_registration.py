"""Dynamic registration pieces: URL rules, platform configuration checks, the tool request, the answer, storage."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from lti_tool.lti.dynamic_registration import (
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    DynamicRegistrationError,
    PlatformConfiguration,
    PlatformRegistration,
    build_tool_configuration,
    check_platform_url,
    granted_scopes,
    parse_platform_configuration,
    parse_registration_response,
    store_registration,
)
from lti_tool.models import RegistrationSource, RegistrationStatus
from lti_tool.registrations import approve_platform, disable_platform, tool_urls

OPENID_URL = "https://moodle.example.edu/mod/lti/openid-configuration.php"
URLS = tool_urls("https://mb.example.org")
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"


def moodle_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": "https://moodle.example.edu",
        "authorization_endpoint": "https://moodle.example.edu/mod/lti/auth.php",
        "token_endpoint": "https://moodle.example.edu/mod/lti/token.php",
        "jwks_uri": "https://moodle.example.edu/mod/lti/certs.php",
        "registration_endpoint": "https://moodle.example.edu/mod/lti/openid-registration.php",
        "scopes_supported": [AGS + "lineitem", AGS + "score", "openid"],
        "id_token_signing_alg_values_supported": ["RS256"],
        PLATFORM_CONFIGURATION: {
            "product_family_code": "moodle",
            "version": "4.3",
            "messages_supported": [
                {"type": "LtiResourceLinkRequest"},
                {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
            ],
        },
    }
    document.update(changes)
    return document


def parse(
    document: dict[str, Any], *, url: str = OPENID_URL, loopback: bool = False
) -> PlatformConfiguration:
    return parse_platform_configuration(document, openid_configuration_url=url, allow_loopback_http=loopback)


# -- URLs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback", "message"),
    [
        ("http://moodle.example.edu/x", False, "must use https"),
        ("http://127.0.0.1:8000/x", False, "must use https"),
        ("https://127.0.0.1/x", False, "internal address"),
        ("https://10.1.2.3/x", False, "internal address"),
        ("https://localhost/x", False, "internal address"),
        ("http://moodle.example.edu/x", True, "must use https"),
        ("ftp://moodle.example.edu/x", True, "absolute https URL"),
        ("/mod/lti/openid-configuration.php", True, "absolute https URL"),
        ("", True, "missing"),
    ],
)
def test_platform_urls_must_be_https_and_public(url: str, loopback: bool, message: str) -> None:
    with pytest.raises(DynamicRegistrationError, match=message):
        check_platform_url("openid_configuration", url, allow_loopback_http=loopback)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/c", "http://localhost/c", "http://[::1]:9/c"])
def test_plain_http_to_loopback_is_allowed_when_asked(url: str) -> None:
    assert check_platform_url("openid_configuration", url, allow_loopback_http=True) == url


@pytest.mark.parametrize("url", ["https://[broken/c", "https://moodle.example.edu:99999/c"])
def test_unparsable_urls_are_a_400(url: str) -> None:
    with pytest.raises(DynamicRegistrationError, match="openid_configuration") as caught:
        check_platform_url("openid_configuration", url, allow_loopback_http=False)

    assert caught.value.status == 400


def test_an_explicit_default_port_matches_the_issuer() -> None:
    platform = parse(moodle_document(), url="https://moodle.example.edu:443/mod/lti/openid-configuration.php")

    assert platform.issuer == "https://moodle.example.edu"


def test_url_errors_never_show_the_query_string() -> None:
    with pytest.raises(DynamicRegistrationError) as caught:
        check_platform_url(
            "openid_configuration", "http://moodle.example.edu/c?token=s3cret", allow_loopback_http=False
        )

    assert "s3cret" not in str(caught.value)


# -- platform configuration -------------------------------------------------------------------------------------


def test_a_moodle_configuration_is_read() -> None:
    platform = parse(moodle_document())

    assert platform.issuer == "https://moodle.example.edu"
    assert platform.product_family_code == "moodle"
    assert platform.authorization_server is None
    assert platform.supports_message("LtiDeepLinkingRequest")
    assert platform.messages_supported[1].placements == ("ContentArea",)


@pytest.mark.parametrize(
    "field",
    [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "registration_endpoint",
        "scopes_supported",
        "id_token_signing_alg_values_supported",
        PLATFORM_CONFIGURATION,
    ],
)
def test_each_required_field_is_named_when_missing(field: str) -> None:
    document = moodle_document()
    del document[field]

    with pytest.raises(DynamicRegistrationError, match=field) as caught:
        parse(document)

    assert caught.value.status == 400


@pytest.mark.parametrize("field", ["product_family_code", "version", "messages_supported"])
def test_each_lti_platform_field_is_named_when_missing(field: str) -> None:
    document = moodle_document()
    del document[PLATFORM_CONFIGURATION][field]

    with pytest.raises(DynamicRegistrationError, match=f"{PLATFORM_CONFIGURATION}: {field}"):
        parse(document)


def test_rs256_is_required() -> None:
    with pytest.raises(DynamicRegistrationError, match="does not include RS256"):
        parse(moodle_document(id_token_signing_alg_values_supported=["ES256"]))


@pytest.mark.parametrize(
    ("url", "issuer"),
    [
        (OPENID_URL, "https://evil.example.com"),
        (OPENID_URL, "https://moodle.example.edu:8443"),
        ("http://127.0.0.1:8000/c", "https://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/c", "http://localhost:8000"),
    ],
)
def test_issuer_must_share_scheme_and_host_with_the_configuration_url(url: str, issuer: str) -> None:
    with pytest.raises(DynamicRegistrationError, match="does not match the scheme and host"):
        parse(moodle_document(issuer=issuer), url=url, loopback=True)


def test_issuer_with_a_path_on_the_same_host_is_accepted() -> None:
    platform = parse(moodle_document(issuer="https://moodle.example.edu/moodle"))

    assert platform.issuer == "https://moodle.example.edu/moodle"


def test_endpoints_must_be_https_too() -> None:
    with pytest.raises(DynamicRegistrationError, match="registration_endpoint must use https"):
        parse(moodle_document(registration_endpoint="http://moodle.example.edu/register"))


# -- the tool's request -----------------------------------------------------------------------------------------


def test_scopes_keep_the_tool_order_and_only_supported_ones() -> None:
    assert granted_scopes(["a", "b", "c"], ["c", "x", "a"]) == ["a", "c"]


def test_moodle_request() -> None:
    request = build_tool_configuration(parse(moodle_document()), URLS)

    assert request["scope"] == f"{AGS}lineitem {AGS}score"
    assert request["jwks_uri"] == "https://mb.example.org/lti/jwks"
    tool = request[TOOL_CONFIGURATION]
    assert [m.get("placements") for m in tool["messages"]] == [None, ["ContentArea"]]
    assert "https://canvas.instructure.com/lti/privacy_level" not in tool


def test_canvas_request_has_canvas_placements_and_public_privacy() -> None:
    document = moodle_document()
    document[PLATFORM_CONFIGURATION]["product_family_code"] = "canvas"

    tool = build_tool_configuration(parse(document), URLS)[TOOL_CONFIGURATION]

    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
    resource_link, deep_linking = tool["messages"]
    assert resource_link.get("placements") == ["https://canvas.instructure.com/lti/course_navigation"]
    assert deep_linking.get("placements") == [
        "https://canvas.instructure.com/lti/assignment_selection",
        "https://canvas.instructure.com/lti/link_selection",
    ]


def test_other_platforms_get_advertised_placements_and_no_unsupported_messages() -> None:
    document = moodle_document()
    lti = document[PLATFORM_CONFIGURATION]
    lti["product_family_code"] = "sakai"
    lti["messages_supported"] = [{"type": "LtiResourceLinkRequest"}]

    tool = build_tool_configuration(parse(document), URLS)[TOOL_CONFIGURATION]

    assert [m["type"] for m in tool["messages"]] == ["LtiResourceLinkRequest"]
    assert "placements" not in tool["messages"][0]


# -- the platform's answer --------------------------------------------------------------------------------------


def test_moodle_answer_has_a_deployment_id() -> None:
    answer = {"client_id": "abc", "scope": "x", TOOL_CONFIGURATION: {"deployment_id": "3"}}

    assert parse_registration_response(answer, registration_endpoint=OPENID_URL) == PlatformRegistration(
        client_id="abc", deployment_id="3", scope="x"
    )


def test_numeric_ids_become_strings_and_a_missing_deployment_is_none() -> None:
    registered = parse_registration_response({"client_id": 10000000000042}, registration_endpoint=OPENID_URL)

    assert (registered.client_id, registered.deployment_id) == ("10000000000042", None)


@pytest.mark.parametrize("answer", [{}, {"client_id": ""}, {"client_id": True}, [], "ok"])
def test_an_answer_without_client_id_is_a_502(answer: Any) -> None:
    with pytest.raises(DynamicRegistrationError) as caught:
        parse_registration_response(answer, registration_endpoint=OPENID_URL)

    assert caught.value.status == 502


# -- storage ----------------------------------------------------------------------------------------------------


def test_store_creates_a_pending_dynamic_registration(db_session: Session) -> None:
    platform = parse(moodle_document(authorization_server="https://moodle.example.edu/mod/lti/token.php"))

    registration = store_registration(db_session, platform, PlatformRegistration("abc", "3", None))

    assert registration.status == RegistrationStatus.PENDING
    assert registration.source == RegistrationSource.DYNAMIC
    assert registration.auth_audience == "https://moodle.example.edu/mod/lti/token.php"
    assert registration.name == "moodle moodle.example.edu"
    assert [d.deployment_id for d in registration.deployments] == ["3"]


def test_store_again_keeps_one_row_one_deployment_and_an_unchanged_approval(db_session: Session) -> None:
    platform = parse(moodle_document())
    first = store_registration(db_session, platform, PlatformRegistration("abc", "3", None))
    approve_platform(db_session, first.id)

    again = store_registration(db_session, platform, PlatformRegistration("abc", "3", None))

    assert again.id == first.id
    assert again.status == RegistrationStatus.ACTIVE
    assert [d.deployment_id for d in again.deployments] == ["3"]


def test_a_disabled_registration_stays_disabled_when_registered_again(db_session: Session) -> None:
    first = store_registration(db_session, parse(moodle_document()), PlatformRegistration("abc", None, None))
    disable_platform(db_session, first.id)
    moved = parse(moodle_document(jwks_uri="https://moodle.example.edu/keys"))

    again = store_registration(db_session, moved, PlatformRegistration("abc", None, None))

    assert again.status == RegistrationStatus.DISABLED
    assert again.key_set_url == "https://moodle.example.edu/keys"
