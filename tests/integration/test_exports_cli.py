"""`mastery-bridge export` and the staff export page against a migrated database (SQLite or PostgreSQL).

The demo district is loaded, Q1 is posted with the registrar's post_period, one grade is amended, and every
export kind is written through the CLI; the staff page downloads the same files as a zip.
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from lti_tool.cli import main
from lti_tool.db import make_engine, make_session_factory
from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.exports import EXPORT_KINDS
from lti_tool.lti.roles import AppRole
from lti_tool.models import AcademicSession, Org, PostedGrade, select_current_posted_grades
from lti_tool.registrar.amendments import amend_grade
from lti_tool.registrar.posting import post_period
from lti_tool.web.auth import LaunchSession, issue_session_token
from tests.integration.launch_harness import build_app

Invoke = Callable[..., Result]
POSTED_AT = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def posted_url(empty_database_url: str) -> str:
    """A database with a small demo district whose Q1 is posted and one grade amended."""
    from lti_tool.db import upgrade_database

    upgrade_database(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            summary = load_district(session, generate_district(student_count=12))
            school = session.get(Org, summary.school_id)
            assert school is not None
            q1 = session.scalar(select(AcademicSession).where(AcademicSession.sourced_id == "Q1"))
            assert q1 is not None
            post_period(session, school, q1, actor="registrar@example.org", now=POSTED_AT)
            first = session.scalars(
                select(PostedGrade).where(PostedGrade.letter.is_not(None)).order_by(PostedGrade.id)
            ).first()
            assert first is not None
            amend_grade(session, first.id, letter="A", reason="Rescored portfolio", actor="registrar@example.org",
                        now=datetime(2026, 11, 9, 9, 0, tzinfo=UTC))  # fmt: skip
    finally:
        engine.dispose()
    return empty_database_url


@pytest.fixture
def run(posted_url: str) -> Invoke:
    runner = CliRunner()
    env = {"DATABASE_URL": posted_url, "MB_PUBLIC_BASE_URL": "https://mb.example.org",
           "MB_SECRET_KEY": "test-secret-key", "MB_LOG_LEVEL": "WARNING"}  # fmt: skip

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_every_kind_writes_files_and_a_manifest_that_checks(run: Invoke, tmp_path: Path) -> None:
    for kind in EXPORT_KINDS:
        out = tmp_path / kind
        result = run("export", kind, "--school", "RHS", "--period", "Q1", "--out", str(out))
        assert result.exit_code == 0, result.output
        manifest = (out / "MANIFEST.sha256").read_text(encoding="utf-8")
        for line in manifest.splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
        check = subprocess.run(
            ["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True, check=False
        )
        assert check.returncode == 0, check.stdout


def test_grades_csv_shows_the_amendment_and_matches_the_database(
    run: Invoke, posted_url: str, tmp_path: Path
) -> None:
    result = run("export", "grades-csv", "--school", "Riverbend High School", "--period", "Quarter 1",
                 "--out", str(tmp_path / "grades.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(
        csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8"), newline=""))
    )
    engine = make_engine(posted_url)
    try:
        with make_session_factory(engine)() as session:
            current = select_current_posted_grades(session)
    finally:
        engine.dispose()
    assert len(rows) == len(current)
    amended = [row for row in rows if row["is_amendment"] == "yes"]
    assert len(amended) == 1
    assert (amended[0]["letter"], amended[0]["amendment_reason"]) == ("A", "Rescored portfolio")
    assert all(row["student_number"].startswith("STU") for row in rows)
    assert (tmp_path / "grades.csv.sha256").read_text().endswith("  grades.csv\n")


def test_same_database_gives_the_same_bytes(run: Invoke, tmp_path: Path) -> None:
    for attempt in ("a", "b"):
        result = run(
            "export",
            "report-card-pdf",
            "--school",
            "RHS",
            "--period",
            "Q1",
            "--out",
            str(tmp_path / f"{attempt}.zip"),
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_one_file_export_goes_to_stdout(run: Invoke) -> None:
    result = run("export", "powerschool-storedgrades", "--school", "RHS", "--period", "Q1")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("STUDENT_NUMBER\tCOURSE_NAME\tGRADE_LEVEL\tTERMID\tSTORECODE")
    assert "no GRADE_LEVEL" in result.stderr


def test_bad_input_exits_2_with_the_choices(run: Invoke) -> None:
    unknown = run("export", "sims-xml", "--school", "RHS", "--period", "Q1")
    assert unknown.exit_code == 2
    assert "the kinds are: powerschool-storedgrades" in unknown.stderr

    school = run("export", "ncaa", "--school", "Nowhere High", "--period", "Q1")
    assert school.exit_code == 2
    assert "RHS (Riverbend High School)" in school.stderr

    period = run("export", "ncaa", "--school", "RHS", "--period", "Q9")
    assert period.exit_code == 2
    assert "Q1 (Quarter 1)" in period.stderr

    several = run("export", "ncaa", "--school", "RHS", "--period", "Q1")
    assert several.exit_code == 2
    assert "give --out DIR" in several.stderr


def test_refuses_a_period_with_nothing_posted(run: Invoke) -> None:
    result = run("export", "transcript-pdf", "--school", "RHS", "--period", "Q2", "--out", "unused.zip")

    assert result.exit_code == 2
    assert "nothing is posted for Quarter 2 (Q2) at Riverbend High School yet" in result.stderr


# -- the staff page -------------------------------------------------------------------------------------------


@pytest.fixture
def app(posted_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(posted_url, tmp_path)


def _token(app: Flask, role: AppRole) -> str:
    with app.test_request_context():
        return issue_session_token(LaunchSession(person_id=1, registration_id=1, deployment_id="dep-1",
                                                 lti_context_id=None, class_id=None, roles=frozenset({role}),
                                                 message_type="LtiResourceLinkRequest", resource_link_id=None))  # fmt: skip


def test_staff_page_offers_the_kinds_and_downloads_a_zip(app: Flask) -> None:
    client = app.test_client()
    token = _token(app, AppRole.STAFF)

    page = client.get("/staff/exports", query_string={"mb_session": token})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="report-card-pdf"' in html
    assert "Riverbend High School" in html
    assert "Q1 (Quarter 1)" in html

    download = client.post(
        "/staff/exports", data={"mb_session": token, "kind": "grades-xlsx", "school": "RHS", "period": "Q1"}
    )
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="grades-xlsx-RHS-Q1.zip"'
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert sorted(archive.namelist()) == ["MANIFEST.sha256", "grades.xlsx"]


def test_staff_page_explains_an_unposted_period_and_refuses_learners(app: Flask) -> None:
    client = app.test_client()
    token = _token(app, AppRole.STAFF)

    refused = client.post(
        "/staff/exports", data={"mb_session": token, "kind": "ncaa", "school": "RHS", "period": "Q3"}
    )
    assert refused.status_code == 422
    assert "nothing is posted for Quarter 3" in refused.get_data(as_text=True)

    bad_kind = client.post(
        "/staff/exports", data={"mb_session": token, "kind": "<script>", "school": "RHS", "period": "Q1"}
    )
    assert bad_kind.status_code == 422
    assert "<script>" not in bad_kind.get_data(as_text=True)

    learner = client.get("/staff/exports", query_string={"mb_session": _token(app, AppRole.STUDENT)})
    assert learner.status_code == 403
