"""`mastery-bridge sis ...` against a real migrated database and a fake OneRoster server on loopback."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from connectors.oneroster.profiles import SCOPE_PREFIX_V1P1, SCOPE_PREFIX_V1P2
from lti_tool.cli import main
from lti_tool.crypto import decrypt_secret
from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.models import AuditLog, SisConnection
from lti_tool.sis.checks import Verdict, check_connection
from lti_tool.sis.connection import create_connection
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer

SECRET_KEY = "test-secret-key"
SECRET = "s3cret&key=+/"  # the fake's default: reserved characters exercise escaping
V1P2_SCOPES = tuple(
    SCOPE_PREFIX_V1P2 + name
    for name in (
        "roster-core.readonly",
        "roster-demographics.readonly",
        "gradebook.createput",
        "gradebook.readonly",
    )
)
V1P1_SCOPES = tuple(SCOPE_PREFIX_V1P1 + name for name in ("roster-core.readonly", "gradebook.createput"))
Invoke = Callable[..., Result]


@pytest.fixture
def database(empty_database_url: str) -> str:
    upgrade_database(empty_database_url)
    return empty_database_url


@pytest.fixture
def run(database: str) -> Invoke:
    runner = CliRunner()
    base_env = {
        "DATABASE_URL": database,
        "MB_PUBLIC_BASE_URL": "https://mb.example.org",
        "MB_SECRET_KEY": SECRET_KEY,
        "MB_LOG_LEVEL": "WARNING",
        "MB_REDIS_URL": "",
    }

    def invoke(*args: str, secret: str | None = SECRET, prompt: str | None = None) -> Result:
        env = dict(base_env)
        env["MB_SIS_SECRET"] = secret  # type: ignore[assignment]  # None removes it from the environment
        return runner.invoke(main, list(args), env=env, input=prompt, catch_exceptions=False)

    return invoke


@pytest.fixture
def fake() -> FakeOneRoster:
    fake = FakeOneRoster(scopes=V1P2_SCOPES)
    seed_district(fake)
    return fake


@pytest.fixture
def server(fake: FakeOneRoster) -> Iterator[FakeServer]:
    with FakeServer(fake) as running:
        yield running


def add_args(server: FakeServer, name: str = "district", *extra: str) -> list[str]:
    return [
        "sis", "add", name, "--profile", "generic-1.2", "--base-url", server.base_url, "--version", "1.2",
        "--auth", "oauth2", "--client-id", "district-client", "--token-url", f"{server.base_url}/token", *extra,
    ]  # fmt: skip


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def checks(result: Result) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


# -- add and list ---------------------------------------------------------------------------------------------


def test_add_takes_the_secret_from_the_environment_stores_it_encrypted_and_never_prints_it(
    run: Invoke, server: FakeServer, database: str
) -> None:
    added = run(*add_args(server), "--json")

    assert added.exit_code == 0, added.output
    row = json.loads(added.stdout)
    assert row["name"] == "district"
    assert row["secret"] == "stored encrypted"
    assert row["scopes"]["roster"] == [SCOPE_PREFIX_V1P2 + "roster-core.readonly"]
    assert row["scopes"]["gradebook"] == [
        SCOPE_PREFIX_V1P2 + "gradebook.createput",
        SCOPE_PREFIX_V1P2 + "gradebook.readonly",
    ]
    listed = run("sis", "list")
    as_json = run("sis", "list", "--json")
    for result in (added, listed, as_json):
        assert SECRET not in result.output
    assert "district  generic-1.2  OneRoster 1.2  oauth2  enabled" in listed.stdout
    engine = make_engine(database)
    try:
        with make_session_factory(engine)() as session:
            connection = session.scalars(select(SisConnection)).one()
            assert SECRET.encode() not in connection.secret_encrypted
            assert decrypt_secret(SECRET_KEY, connection.secret_encrypted) == SECRET.encode()
            audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "sis_connection")).one()
            assert audit.action == "sis_connection.create"
            assert SECRET not in json.dumps(audit.detail)
    finally:
        engine.dispose()


def test_add_prompts_for_the_secret_when_the_environment_has_none(run: Invoke, server: FakeServer) -> None:
    added = run(*add_args(server), secret=None, prompt=f"{SECRET}\n")

    assert added.exit_code == 0, added.output
    assert "Client secret" in added.stderr
    assert SECRET not in added.output
    assert run("sis", "test", "district").exit_code == 0


def test_add_with_an_empty_secret_exits_2(run: Invoke, server: FakeServer) -> None:
    result = run(*add_args(server), secret=None, prompt="\n")

    assert result.exit_code == 2
    assert "MB_SIS_SECRET: the client secret is empty" in result.stderr
    assert json.loads(run("sis", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--profile", "blackboard"), "--profile: 'blackboard' is not known; choose one of"),
        (
            ("--base-url", "http://sis.example.edu/api"),
            "--base-url: base_url 'http://sis.example.edu/api' uses plain http",
        ),
        (("--base-url", "sis.example.edu"), "--base-url: base_url must be an absolute https:// URL"),
        (
            ("--base-url", "https://sis.example.edu/x/ims/oneroster/rostering/v1p2"),
            "contains the standard path '/ims/oneroster/rostering/v1p2'; give the part before it ('https://sis.example.edu/x')",
        ),
        (("--auth", "oauth1"), "--auth: auth oauth1 is not allowed with version 1.2"),
        (
            ("--token-url", "ftp://sis.example.edu/token"),
            "--token-url: token_url must be an absolute https:// URL",
        ),
        (("--version", "1.1"), "--version: version 1.1 is not offered by profile generic-1.2"),
        (("--version", "2.0"), "Invalid value for '--version'"),
        (("--scope", "two words"), "--scope: scope 'two words' must be one non-empty word"),
        (("--org", "NOPE"), "--org: org 'NOPE' is not known"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    run: Invoke, server: FakeServer, change: tuple[str, str], message: str
) -> None:
    args = add_args(server)
    flag, value = change
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]

    result = run(*args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert json.loads(run("sis", "list", "--json").stdout) == []


def test_oauth2_without_a_token_url_exits_2(run: Invoke, server: FakeServer) -> None:
    args = add_args(server)
    del args[args.index("--token-url") : args.index("--token-url") + 2]

    result = run(*args)

    assert result.exit_code == 2
    assert "--token-url: token_url is required with auth oauth2" in result.stderr


@pytest.mark.parametrize("name", ["lis", "bad name", ".hidden", "x" * 65])
def test_reserved_or_malformed_names_exit_2(run: Invoke, server: FakeServer, name: str) -> None:
    result = run(*add_args(server, name))

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: NAME: name ")


def test_a_second_connection_with_the_same_name_exits_2(run: Invoke, server: FakeServer) -> None:
    assert run(*add_args(server)).exit_code == 0

    again = run(*add_args(server, "DISTRICT"))

    assert again.exit_code == 2
    assert "an SIS connection named 'DISTRICT' exists already" in again.stderr


def test_unknown_connection_exits_2(run: Invoke) -> None:
    for verb in ("test", "sync", "status"):
        result = run("sis", verb, "nowhere")
        assert result.exit_code == 2, verb
        assert "no SIS connection named 'nowhere'; `mastery-bridge sis list` shows them" in result.stderr


# -- test -----------------------------------------------------------------------------------------------------


def test_every_check_passes_against_the_fake(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))

    result = run("sis", "test", "district", "--json")

    assert result.exit_code == 0, result.output
    found = checks(result)
    assert list(found) == ["dns", "tcp", "tls", "http", "clock", "auth", "scopes", "orgs", "users"]
    assert {name: c["verdict"] for name, c in found.items()} == {
        "dns": "pass", "tcp": "pass", "tls": "skip", "http": "pass", "clock": "pass", "auth": "pass",
        "scopes": "pass", "orgs": "pass", "users": "pass",
    }  # fmt: skip
    assert found["users"]["reason"] == "read 1 of 24 users as OneRoster 1.2 records"
    assert "answered HTTP 401 without credentials, as expected" in found["http"]["reason"]
    text = run("sis", "test", "district")
    assert text.exit_code == 0
    assert "PASS  Sample page of orgs" in text.stdout
    assert SECRET not in text.output


def test_a_wrong_secret_fails_auth_and_skips_the_rest(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server), secret="not-the-secret")

    result = run("sis", "test", "district", "--json")

    assert result.exit_code == 1
    found = checks(result)
    assert found["auth"]["verdict"] == "fail"
    assert "refused client 'district-client'" in found["auth"]["reason"]
    assert "check the client id and secret" in found["auth"]["reason"]
    assert [found[name]["verdict"] for name in ("scopes", "orgs", "users")] == ["skip"] * 3
    assert "not-the-secret" not in result.output

    rotated = run("sis", "update", "district", "--rotate-secret")
    assert rotated.exit_code == 0, rotated.output
    assert run("sis", "test", "district").exit_code == 0


def test_an_unreachable_url_fails_at_tcp(run: Invoke) -> None:
    port = closed_port()
    base = f"http://127.0.0.1:{port}/api"
    run("sis", "add", "gone", "--profile", "generic-1.2", "--base-url", base, "--client-id", "x",
        "--token-url", f"{base}/token")  # fmt: skip

    result = run("sis", "test", "gone", "--json", "--timeout", "2")

    assert result.exit_code == 1
    found = checks(result)
    assert found["dns"]["verdict"] == "pass"
    assert found["tcp"]["verdict"] == "fail"
    assert f"127.0.0.1:{port} refused the connection: check the port" in found["tcp"]["reason"]
    assert {found[n]["verdict"] for n in ("tls", "http", "clock", "auth", "scopes", "orgs", "users")} == {
        "skip"
    }
    text = run("sis", "test", "gone", "--timeout", "2")
    assert "FAIL  Server accepts connections" in text.stdout


def test_a_wrong_vendor_prefix_fails_at_http(run: Invoke, server: FakeServer) -> None:
    base = server.base_url.removesuffix("/district-x/api") + "/wrong-prefix"
    run("sis", "add", "prefix", "--profile", "generic-1.2", "--base-url", base, "--client-id", "district-client",
        "--token-url", f"{server.base_url}/token")  # fmt: skip

    result = run("sis", "test", "prefix", "--json")

    assert result.exit_code == 1
    found = checks(result)
    assert found["http"]["verdict"] == "fail"
    assert (
        "HTTP 404: the base URL's vendor prefix or the version (1.2) is probably wrong"
        in found["http"]["reason"]
    )


def test_scopes_the_sis_does_not_grant_are_named(
    run: Invoke, server: FakeServer, fake: FakeOneRoster
) -> None:
    fake.scopes = (SCOPE_PREFIX_V1P2 + "roster-core.readonly",)
    run(*add_args(server))

    result = run("sis", "test", "district", "--json")

    # Roster sync still works, so this is a warning: grade push will be refused.
    assert result.exit_code == 0
    found = checks(result)
    assert found["scopes"]["verdict"] == "warn"
    reason = found["scopes"]["reason"]
    assert (
        f"grade push needs {SCOPE_PREFIX_V1P2}gradebook.createput, {SCOPE_PREFIX_V1P2}gradebook.readonly"
        in reason
    )
    assert "ask the vendor to grant them to client 'district-client'" in reason
    assert found["users"]["verdict"] == "pass"


def test_missing_roster_scope_fails(run: Invoke, server: FakeServer, fake: FakeOneRoster) -> None:
    fake.scopes = (SCOPE_PREFIX_V1P2 + "gradebook.createput",)
    run(*add_args(server))

    result = run("sis", "test", "district", "--json")

    assert result.exit_code == 1
    found = checks(result)
    assert found["auth"]["verdict"] == "warn"
    assert found["scopes"]["verdict"] == "fail"
    assert f"roster sync needs {SCOPE_PREFIX_V1P2}roster-core.readonly" in found["scopes"]["reason"]


@pytest.mark.parametrize(("signature", "passes"), [("HMAC-SHA256", True), ("HMAC-SHA1", False)])
def test_oauth1_signatures(run: Invoke, server: FakeServer, signature: str, passes: bool) -> None:
    added = run("sis", "add", "legacy", "--profile", "generic-1.1", "--version", "1.1", "--auth", "oauth1",
                "--base-url", server.base_url, "--client-id", "district-client", "--signature", signature)  # fmt: skip
    assert added.exit_code == 0, added.output

    result = run("sis", "test", "legacy", "--json")

    found = checks(result)
    assert found["scopes"]["verdict"] == ("pass" if passes else "skip")
    if passes:
        assert result.exit_code == 0, result.output
        assert found["users"]["reason"] == "read 1 of 24 users as OneRoster 1.1 records"
    else:
        assert result.exit_code == 1
        assert "signature method (HMAC-SHA1; the vendor may want the other HMAC)" in found["auth"]["reason"]


def test_oauth2_over_1_1_with_token_cookies(run: Invoke, server: FakeServer, fake: FakeOneRoster) -> None:
    fake.scopes = V1P1_SCOPES
    fake.quirks.token_cookie = True
    added = run("sis", "add", "aeries", "--profile", "aeries", "--version", "1.1", "--auth", "oauth2",
                "--base-url", server.base_url, "--client-id", "district-client",
                "--token-url", f"{server.base_url}/token", "--scope", V1P1_SCOPES[0], "--scope", V1P1_SCOPES[1])  # fmt: skip
    assert added.exit_code == 0, added.output

    result = run("sis", "test", "aeries", "--json")

    assert result.exit_code == 0, result.output
    assert checks(result)["users"]["verdict"] == "pass"


def test_clock_skew_over_a_minute_warns(database: str, server: FakeServer) -> None:
    engine = make_engine(database)
    try:
        with make_session_factory(engine).begin() as session:
            connection = create_connection(
                session, name="district", profile="generic-1.2", base_url=server.base_url, version="1.2",
                auth="oauth2", client_id="district-client", secret=SECRET, secret_key=SECRET_KEY,
                settings={"token_url": f"{server.base_url}/token"},
            )  # fmt: skip
            ahead = check_connection(
                connection, secret_key=SECRET_KEY, clock=lambda: datetime.now(UTC) + timedelta(seconds=90)
            )
    finally:
        engine.dispose()

    clock = next(result for result in ahead.results if result.name == "clock")
    assert clock.verdict is Verdict.WARN
    # The Date header has whole seconds, so the server reads up to a second behind.
    assert re.search(
        r"the server's clock is 9[01] s behind ours: token expiry is computed from it", clock.reason
    )
    assert ahead.verdict is Verdict.WARN
    assert not ahead.has_failures


# -- status ---------------------------------------------------------------------------------------------------


def test_status_json_of_a_new_connection(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))

    result = run("sis", "status", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (connection,) = document["connections"]
    assert connection["name"] == "district"
    assert connection["last_run"] is None
    assert connection["outbox"] == {
        "pending": 0,
        "retrying": 0,
        "failed": 0,
        "delivered": 0,
        "oldest_pending_at": None,
    }
    assert document["runs"] == []
    assert document["failures"] == []
    assert "never synced" in run("sis", "status").stdout


def test_update_disable_and_enable(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))

    disabled = run("sis", "update", "district", "--disable", "--page-size", "50", "--json")

    assert disabled.exit_code == 0, disabled.output
    row = json.loads(disabled.stdout)
    assert row["is_enabled"] is False
    assert row["settings"]["page_size"] == 50
    too_big = run("sis", "update", "district", "--page-size", "5000")
    assert too_big.exit_code == 2
    assert "--page-size: page_size 5000 is outside 1..1000 (profile generic-1.2)" in too_big.stderr
    assert json.loads(run("sis", "update", "district", "--enable", "--json").stdout)["is_enabled"] is True


# -- sync -----------------------------------------------------------------------------------------------------


def count(database: str, model: type) -> int:
    from sqlalchemy import func

    engine = make_engine(database)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


def test_sync_pulls_everything_then_a_delta_changes_nothing(
    run: Invoke, server: FakeServer, database: str
) -> None:
    from lti_tool.models import Enrollment, Person

    run(*add_args(server))

    first = run("sis", "sync", "district", "--json")

    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert (document["kind"], document["status"], document["is_dry_run"]) == ("full", "succeeded", False)
    assert document["collections"]["users"]["created"] == 24
    assert document["collections"]["enrollments"]["created"] == 25
    assert document["collections"]["orgs"]["created"] == 2
    assert document["identity"] is not None
    assert count(database, Person) == 24
    assert count(database, Enrollment) == 25
    assert "users" in first.stderr  # the progress bar's label

    second = run("sis", "sync", "district")

    assert second.exit_code == 0, second.output
    assert "sync run 2 of district: delta succeeded" in second.stdout
    assert count(database, Person) == 24
    status = json.loads(run("sis", "status", "district", "--json").stdout)
    assert [r["kind"] for r in status["runs"]] == ["delta", "full"]
    assert status["connections"][0]["last_run"]["status"] == "succeeded"


def test_dry_run_counts_and_writes_nothing_but_its_run(
    run: Invoke, server: FakeServer, database: str
) -> None:
    from lti_tool.models import Person, SyncRun

    run(*add_args(server))

    result = run("sis", "sync", "district", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["is_dry_run"] is True
    assert document["collections"]["users"]["created"] == 24
    assert count(database, Person) == 0
    assert count(database, SyncRun) == 1


def test_a_failed_sync_exits_1_and_its_run_is_recorded(
    run: Invoke, server: FakeServer, database: str
) -> None:
    from lti_tool.models import Person

    run(*add_args(server), secret="not-the-secret")

    result = run("sis", "sync", "district")

    assert result.exit_code == 1
    assert "sync of district failed: token refused" in result.stderr
    assert "nothing was imported" in result.stderr
    assert "not-the-secret" not in result.output
    assert count(database, Person) == 0
    status = json.loads(run("sis", "status", "--json").stdout)
    (failed,) = status["runs"]
    assert failed["status"] == "failed"
    assert "token refused" in failed["errors"][0]
    assert "error: token refused" in run("sis", "status").stdout


def test_a_disabled_connection_does_not_sync(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))
    run("sis", "update", "district", "--disable")

    result = run("sis", "sync", "district")

    assert result.exit_code == 2
    assert "SIS connection 'district' is disabled" in result.stderr


def test_queue_without_redis_exits_2(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))

    result = run("sis", "sync", "district", "--queue")

    assert result.exit_code == 2
    assert "--queue: MB_REDIS_URL is not set" in result.stderr


def test_a_redis_that_does_not_answer_is_named_not_its_url(
    run: Invoke, server: FakeServer, database: str
) -> None:
    run(*add_args(server))
    runner = CliRunner()
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    env = {"DATABASE_URL": database, "MB_SECRET_KEY": SECRET_KEY, "MB_REDIS_URL": url}

    result = runner.invoke(main, ["sis", "sync", "district"], env=env)

    assert result.exit_code == 1
    assert "cannot queue the job: the Redis at MB_REDIS_URL does not answer" in result.stderr
    assert "hunter2" not in result.output


def test_status_with_no_connections(run: Invoke) -> None:
    result = run("sis", "status", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"connections": [], "runs": [], "failures": []}


def test_reviews_and_resolve_input_errors(run: Invoke) -> None:
    listed = run("sis", "reviews", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == []

    both = run("sis", "resolve", "1", "--person", "1", "--class", "1")
    assert both.exit_code == 2
    assert "give exactly one of --person, --class or --dismiss" in both.stderr
    unknown = run("sis", "resolve", "999", "--dismiss")
    assert unknown.exit_code == 2
    assert "no identity review 999" in unknown.stderr


# -- the demo SIS ---------------------------------------------------------------------------------------------


def test_the_demo_connection_syncs_the_demo_district_without_duplicates(run: Invoke, database: str) -> None:
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.load import demo_sis_base_url, load_district, register_demo_sis
    from lti_tool.demo.stack import start_demo_sis
    from lti_tool.models import Course, Enrollment, Org, Person, PersonIdentifier, SchoolClass

    district = generate_district()
    sis = start_demo_sis(district, port=0)
    try:
        engine = make_engine(database)
        try:
            with make_session_factory(engine).begin() as session:
                load_district(session, district)
                connection, created = register_demo_sis(
                    session, secret_key=SECRET_KEY, base_url=demo_sis_base_url(port=sis.port)
                )
                assert created
                assert connection.org_id is not None
                assert register_demo_sis(session, secret_key=SECRET_KEY)[1] is False
        finally:
            engine.dispose()
        before = {model: count(database, model) for model in (Person, Enrollment, SchoolClass, Course, Org)}
        identifiers_before = count(database, PersonIdentifier)

        tested = run("sis", "test", "demo")
        synced = run("sis", "sync", "demo", "--json")
    finally:
        sis.stop()

    assert tested.exit_code == 0, tested.output
    assert synced.exit_code == 0, synced.output
    document = json.loads(synced.stdout)
    assert document["status"] == "succeeded"
    created = {name: tally["created"] for name, tally in document["collections"].items()}
    assert created == dict.fromkeys(created, 0), created
    after = {model: count(database, model) for model in before}
    assert after == before
    # The sync adds only what the demo load does not store: each SIS user's username.
    users = document["collections"]["users"]
    assert count(database, PersonIdentifier) == identifiers_before + users["updated"] + users["unchanged"]


# -- push -----------------------------------------------------------------------------------------------------


def test_push_of_a_period_without_posted_grades_sends_nothing(
    run: Invoke, server: FakeServer, fake: FakeOneRoster
) -> None:
    run(*add_args(server))
    assert run("sis", "sync", "district").exit_code == 0

    planned = run("sis", "push", "district", "--period", "term-1", "--dry-run", "--json")
    pushed = run("sis", "push", "district", "--period", "Fall", "--json")

    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["counts"] == {"new": 0, "changed": 0, "same": 0, "skipped": 0}
    assert pushed.exit_code == 0, pushed.output
    document = json.loads(pushed.stdout)
    assert document["enqueued"]["queued"] == {}
    assert document["delivery"]["delivered"] == 0
    assert not fake.put_counts


def test_push_of_an_unknown_period_exits_2(run: Invoke, server: FakeServer) -> None:
    run(*add_args(server))
    assert run("sis", "sync", "district").exit_code == 0

    result = run("sis", "push", "district", "--period", "Q9")

    assert result.exit_code == 2
    assert "--period: no academic session with sourcedId or title 'Q9'" in result.stderr


def test_sync_on_the_redis_queue_runs_on_a_worker(
    server: FakeServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from redis import Redis

    from lti_tool.settings import load_settings
    from lti_tool.sis.queue import dispose_engines, run_rq_worker

    redis_url = "redis://127.0.0.1:6379/0"
    queue_name = f"mb-h4-test-{uuid.uuid4().hex[:12]}"
    for name, value in {"DATABASE_URL": database, "MB_SECRET_KEY": SECRET_KEY, "MB_LOG_LEVEL": "WARNING",
                        "MB_REDIS_URL": redis_url, "MB_QUEUE_NAME": queue_name}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MB_SIS_SECRET", SECRET)
    runner = CliRunner()
    job_id = "no-job"
    try:
        assert runner.invoke(main, add_args(server)).exit_code == 0
        queued = runner.invoke(main, ["sis", "sync", "district", "--json"])
        assert queued.exit_code == 0, queued.output
        job_id = json.loads(queued.stdout)["job_id"]
        before = json.loads(runner.invoke(main, ["sis", "status", "--json"]).stdout)
        assert before["runs"] == []

        assert run_rq_worker(load_settings(), burst=True, queue_name=queue_name, fork=False)

        after = json.loads(runner.invoke(main, ["sis", "status", "--json"]).stdout)
        (done,) = after["runs"]
        assert (done["kind"], done["status"]) == ("full", "succeeded")
        inline = runner.invoke(main, ["sis", "sync", "district", "--inline", "--json"])
        assert json.loads(inline.stdout)["kind"] == "delta"
    finally:
        dispose_engines()
        redis = Redis.from_url(redis_url)
        for key in (*redis.scan_iter(f"*{queue_name}*"), *redis.scan_iter(f"rq:*{job_id}*")):
            redis.delete(key)
        redis.close()


def test_push_dry_run_then_push_then_nothing_left_to_change(
    database: str, server: FakeServer, fake: FakeOneRoster
) -> None:
    from tests.integration.sis_push_world import SECRET_KEY as WORLD_KEY
    from tests.integration.sis_push_world import build_world, post_grades

    engine = make_engine(database)
    try:
        with make_session_factory(engine).begin() as session:
            world = build_world(session, base_url=server.base_url, token_url=server.token_url, students=3)
            post_grades(session, world)
    finally:
        engine.dispose()
    runner = CliRunner()
    env = {
        "DATABASE_URL": database,
        "MB_SECRET_KEY": WORLD_KEY,
        "MB_LOG_LEVEL": "WARNING",
        "MB_REDIS_URL": "",
    }

    def push(*extra: str) -> dict[str, object]:
        result = runner.invoke(main, ["sis", "push", world.connection_name, "--period", world.period_sid, *extra,
                                      "--json"], env=env)  # fmt: skip
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    assert push("--dry-run")["counts"] == {"new": 3, "changed": 0, "same": 0, "skipped": 0}
    assert not fake.put_counts

    pushed = push()

    delivery = pushed["delivery"]
    assert isinstance(delivery, dict)
    assert delivery["failed"] == 0
    assert delivery["delivered"] >= 4  # the line item and three results, plus category and score scale
    assert sum(fake.put_counts.values()) == delivery["delivered"]
    assert push("--dry-run")["counts"] == {"new": 0, "changed": 0, "same": 3, "skipped": 0}
    again = push()
    assert again["enqueued"] == {"queued": {}, "already_queued": delivery["delivered"], "skipped": {}}
    status = json.loads(runner.invoke(main, ["sis", "status", "--json"], env=env).stdout)
    assert status["connections"][0]["outbox"]["delivered"] == delivery["delivered"]


def test_an_untrusted_certificate_fails_at_tls(run: Invoke, fake: FakeOneRoster) -> None:
    import threading

    from werkzeug.serving import generate_adhoc_ssl_context, make_server

    tls_server = make_server("127.0.0.1", 0, fake.app, ssl_context=generate_adhoc_ssl_context())
    thread = threading.Thread(target=tls_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"https://127.0.0.1:{tls_server.server_port}/district-x/api"
        run("sis", "add", "selfsigned", "--profile", "generic-1.2", "--base-url", base, "--client-id", "x",
            "--token-url", f"{base}/token")  # fmt: skip

        result = run("sis", "test", "selfsigned", "--json", "--timeout", "5")
    finally:
        tls_server.shutdown()
        thread.join(timeout=5)
        tls_server.server_close()

    assert result.exit_code == 1
    found = checks(result)
    assert found["tcp"]["verdict"] == "pass"
    assert found["tls"]["verdict"] == "fail"
    assert "the certificate of 127.0.0.1 is not trusted" in found["tls"]["reason"]
    assert {found[n]["verdict"] for n in ("http", "auth", "orgs", "users")} == {"skip"}


def test_a_host_that_does_not_resolve_fails_at_dns(run: Invoke) -> None:
    # RFC 6761 §6.4: names under .invalid never resolve.
    base = "https://sis.district.invalid/api"
    run("sis", "add", "typo", "--profile", "generic-1.2", "--base-url", base, "--client-id", "x",
        "--token-url", f"{base}/token")  # fmt: skip

    result = run("sis", "test", "typo", "--json")

    assert result.exit_code == 1
    found = checks(result)
    assert found["dns"]["verdict"] == "fail"
    assert "cannot resolve host 'sis.district.invalid'" in found["dns"]["reason"]
    assert "check the host name in the base URL" in found["dns"]["reason"]
    assert {c["verdict"] for name, c in found.items() if name != "dns"} == {"skip"}
