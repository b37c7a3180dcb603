"""`mastery-bridge grades` and `reports` on a committed database: check, post, amend, history, equity."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from lti_tool.cli import main
from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.models import AuditLog, PostedGrade
from tests.integration.registrar_support import add_sis_connection, load_demo

Invoke = Callable[..., Result]


@pytest.fixture
def run(empty_database_url: str) -> Invoke:
    upgrade_database(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            add_sis_connection(session, load_demo(session))
    finally:
        engine.dispose()
    runner = CliRunner()
    env = {
        "DATABASE_URL": empty_database_url,
        "MB_PUBLIC_BASE_URL": "https://mb.example.org",
        "MB_SECRET_KEY": "test-secret-key",
        "MB_LOG_LEVEL": "WARNING",
        "USER": "registrar",
    }

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def scalar_count(url: str, model: type[object]) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_check_then_post_then_amend_then_history(run: Invoke, empty_database_url: str) -> None:
    check = run("grades", "check", "--school", "RHS", "--period", "Q1", "--json")
    assert check.exit_code == 0, check.output
    report = json.loads(check.stdout)
    assert report["verdict"] == "ready"
    assert report["counts"]["students"] == 40

    declined = run(
        "grades", "post", "--school", "Riverbend High School", "--period", "Quarter 1", input="n\n"
    )
    assert declined.exit_code == 1
    assert "Aborted" in declined.output
    assert scalar_count(empty_database_url, PostedGrade) == 0

    posted = run("grades", "post", "--school", "RHS", "--period", "Q1", "--yes")
    assert posted.exit_code == 0, posted.output
    assert "Pre-posting check: Quarter 1" in posted.stdout
    assert f"Posted Quarter 1 for Riverbend High School: {report['counts']['grades']} grades" in posted.stdout
    assert f"Queued for the SIS: {report['counts']['grades']} results" in posted.stdout
    assert scalar_count(empty_database_url, PostedGrade) == report["counts"]["grades"]

    again = run("grades", "post", "--school", "RHS", "--period", "Q1", "--yes")
    assert again.exit_code == 1
    assert "not posted: Riverbend High School has already posted Quarter 1" in again.output
    blocked = run("grades", "check", "--school", "RHS", "--period", "Q1")
    assert blocked.exit_code == 1
    assert "BLOCKED" in blocked.stdout

    listing = json.loads(run("grades", "list", "--school", "RHS", "--period", "Q1", "--json").stdout)
    target = next(row for row in listing if row["letter"] == "B")
    no_reason = run("grades", "amend", str(target["posted_grade_id"]), "--letter", "A", "--reason", "")
    assert no_reason.exit_code == 2
    assert "needs a reason" in no_reason.output
    bad_value = run("grades", "amend", str(target["posted_grade_id"]), "--course-value", "x", "--reason", "r")
    assert bad_value.exit_code == 2
    assert "--course-value: 'x' is not a number" in bad_value.output
    amended = run(
        "grades", "amend", str(target["posted_grade_id"]), "--letter", "B+", "--reason", "Late work"
    )
    assert amended.exit_code == 0, amended.output
    assert "B (" in amended.stdout
    assert "-> B+ (3.33 points)" in amended.stdout

    history = run("grades", "history", str(target["posted_grade_id"]), "--json")
    entries = json.loads(history.stdout)["entries"]
    assert [(e["letter"], e["is_amendment"], e["reason"], e["posted_by"]) for e in entries] == [
        ("B", False, None, "cli:registrar"), ("B+", True, "Late work", "cli:registrar"),
    ]  # fmt: skip
    text = run("grades", "history", str(entries[1]["posted_grade_id"])).stdout
    assert "amended" in text
    assert "reason: Late work" in text
    assert "(current)" in text
    listing = json.loads(run("grades", "list", "--school", "RHS", "--period", "Q1", "--json").stdout)
    assert sum(row["is_amendment"] for row in listing) == 1
    assert scalar_count(empty_database_url, AuditLog) >= 2


def test_bad_names_exit_2_with_the_choices(run: Invoke) -> None:
    school = run("grades", "check", "--school", "Nowhere High", "--period", "Q1")
    assert school.exit_code == 2
    assert "the schools are: RHS (Riverbend High School)" in school.output
    period = run("grades", "post", "--school", "RHS", "--period", "Q7", "--yes")
    assert period.exit_code == 2
    assert "its grading periods are: Q1 (Quarter 1)" in period.output
    missing = run("grades", "history", "424242")
    assert missing.exit_code == 2
    assert "no posted grade 424242" in missing.output


def test_reports_equity(run: Invoke) -> None:
    text = run("reports", "equity", "--school", "RHS", "--as-of", "2026-12-01")
    assert text.exit_code == 0, text.output
    assert "Equity report: Riverbend High School, as of 2026-12-01" in text.stdout
    assert "No demographics synced" in text.stdout
    data = json.loads(run("reports", "equity", "--school", "RHS", "--min-group-size", "50", "--json").stdout)
    assert data["min_group_size"] == 50
    assert data["rows"]
    groups = [group for row in data["rows"] for group in row["groups"]]
    assert groups
    assert all(group["suppressed"] for group in groups)
    assert all(d["counts"] is None and d["group_size"] is None for g in groups for d in g["distributions"])
    bad = run("reports", "equity", "--school", "RHS", "--as-of", "tomorrow")
    assert bad.exit_code == 2
    assert "--as-of: 'tomorrow' is not a date" in bad.output
    assert run("reports", "equity", "--school", "RHS", "--min-group-size", "0").exit_code == 2
