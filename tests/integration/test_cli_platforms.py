"""`mastery-bridge platforms ...` and `keys ...` against a real migrated database."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from lti_tool.cli import main
from lti_tool.db import upgrade_database

PUBLIC_BASE_URL = "https://mb.example.org"
Invoke = Callable[..., Result]
ADD = [
    "platforms",
    "add",
    "--issuer",
    "https://moodle.example.edu",
    "--client-id",
    "abc123",
    "--deployment-id",
    "1",
    "--login-url",
    "https://moodle.example.edu/mod/lti/auth.php",
    "--token-url",
    "https://moodle.example.edu/mod/lti/token.php",
    "--jwks-url",
    "https://moodle.example.edu/mod/lti/certs.php",
]


@pytest.fixture
def run(empty_database_url: str) -> Invoke:
    upgrade_database(empty_database_url)
    runner = CliRunner()
    env = {
        "DATABASE_URL": empty_database_url,
        "MB_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "MB_SECRET_KEY": "test-secret-key",
        "MB_LOG_LEVEL": "WARNING",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_platforms_add_json_prints_exactly_the_six_keys(run: Invoke) -> None:
    result = run(*ADD, "--name", "Moodle", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {
        "registration_id",
        "login_url",
        "launch_url",
        "jwks_url",
        "deep_link_url",
        "canvas_config_url",
    }
    assert isinstance(data["registration_id"], int)
    assert data["login_url"] == f"{PUBLIC_BASE_URL}/lti/login"
    assert data["launch_url"] == data["deep_link_url"] == f"{PUBLIC_BASE_URL}/lti/launch"
    assert data["jwks_url"] == f"{PUBLIC_BASE_URL}/lti/jwks"
    assert data["canvas_config_url"] == f"{PUBLIC_BASE_URL}/lti/config/canvas.json"


def test_platforms_add_again_adds_a_deployment_and_list_shows_it(run: Invoke) -> None:
    first = json.loads(run(*ADD, "--json").stdout)
    second_args = [*ADD, "--json"]
    second_args[second_args.index("--deployment-id") + 1] = "2"
    second = json.loads(run(*second_args).stdout)

    assert first["registration_id"] == second["registration_id"]
    listed = json.loads(run("platforms", "list", "--json").stdout)
    (row,) = listed
    assert row["deployment_ids"] == ["1", "2"]
    assert row["status"] == "active"
    text = run("platforms", "list").stdout
    assert "https://moodle.example.edu" in text


def test_platforms_add_without_json_prints_a_summary(run: Invoke) -> None:
    result = run(*ADD)

    assert result.exit_code == 0
    assert "active" in result.stdout
    assert f"{PUBLIC_BASE_URL}/lti/login" in result.stdout


def test_platforms_add_bad_url_exits_2_naming_the_option(run: Invoke) -> None:
    args = list(ADD)
    args[args.index("--jwks-url") + 1] = "moodle.example.edu/certs.php"
    result = run(*args)

    assert result.exit_code == 2
    assert "--jwks-url (key_set_url) must be an absolute http(s) URL" in result.stderr
    assert json.loads(run("platforms", "list", "--json").stdout) == []


def test_platforms_disable_and_approve(run: Invoke) -> None:
    registration_id = json.loads(run(*ADD, "--json").stdout)["registration_id"]

    disabled = run("platforms", "disable", str(registration_id))
    assert disabled.exit_code == 0
    assert json.loads(run("platforms", "list", "--json").stdout)[0]["status"] == "disabled"
    approved = run("platforms", "approve", str(registration_id))
    assert approved.exit_code == 0
    assert f"platform {registration_id} is now active" in approved.stderr


@pytest.mark.parametrize("verb", ["approve", "disable"])
def test_unknown_platform_id_exits_2(run: Invoke, verb: str) -> None:
    result = run("platforms", verb, "4242")

    assert result.exit_code == 2
    assert "no platform registration with id 4242" in result.stderr


def test_keys_rotate_and_list(run: Invoke) -> None:
    first = json.loads(run("keys", "rotate", "--json").stdout)
    second = json.loads(run("keys", "rotate", "--overlap-days", "3", "--json").stdout)

    assert first["kid"] != second["kid"]
    assert second["is_active"] is True
    listed = json.loads(run("keys", "list", "--json").stdout)
    assert [row["kid"] for row in listed] == [second["kid"], first["kid"]]
    old = listed[1]
    assert old["is_active"] is False
    assert old["is_published"] is True
    assert old["retire_after"] is not None
