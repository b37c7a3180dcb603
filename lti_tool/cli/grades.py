"""`mastery-bridge grades`: the registrar's pre-posting check, posting a grading period, amendments, history.

Schools and periods are named by sourcedId, internal id or title; a miss lists the choices (exit code 2).
`grades post` shows the check first and refuses on blocking issues (exit code 1); grades it posts are
locked and queued for the SIS in the same transaction.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from lti_tool.cli.core import CliContext, InputError, main, pass_context, transaction

if TYPE_CHECKING:
    from lti_tool.registrar.amendments import GradeHistory
    from lti_tool.registrar.precheck import PrepostCheck

__all__ = ["grades", "render_check"]


@main.group()
def grades() -> None:
    """Registrar: check, post and amend grading-period grades."""


def _actor() -> str:
    """Who is acting, for audit rows and `posted_by`: the login name of the shell user."""
    return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"


@contextmanager
def registrar_errors() -> Iterator[None]:
    """Bad names and invalid amendments exit 2 with the message; a refused posting exits 1."""
    from lti_tool.registrar.errors import AmendmentError, NotFoundError, PostingRefusedError

    try:
        yield
    except (NotFoundError, AmendmentError) as exc:
        raise InputError(str(exc)) from exc
    except PostingRefusedError as exc:
        raise click.ClickException(str(exc)) from exc


def render_check(check: PrepostCheck) -> str:
    """The check as text: verdict, counts, issues, then one line per class."""
    counts = check.counts
    verdict = "BLOCKED" if check.is_blocked else "ready to post"
    lines = [
        f"Pre-posting check: {check.period_title} ({check.period_start} to {check.period_end}) at "
        f"{check.school_name}: {verdict}",
        f"  {counts['classes']} classes, {counts['students']} students, {counts['grades']} grades: "
        f"{counts['graded']} graded, {counts['insufficient_evidence']} insufficient evidence",
    ]
    for title, issues in (("Blocking", check.blocking), ("Warnings", check.warnings)):
        if issues:
            lines.append(f"{title}:")
            lines += [f"  - {issue.message}" for issue in issues]
    if check.classes:
        lines.append("Classes:")
        for item in check.classes:
            flags = []
            if not item.has_policy:
                flags.append("shipped default policy")
            if item.unmatched:
                flags.append(f"{len(item.unmatched)} unmatched")
            lines.append(
                f"  {item.sourced_id or item.class_id:<14} {item.title:<32} {item.student_count:>4} students "
                f"{item.graded_count:>4} graded {len(item.insufficient):>4} insufficient"
                + (f"  ({'; '.join(flags)})" if flags else "")
            )
    return "\n".join(lines)


def _check(context: CliContext, school: str, period: str) -> PrepostCheck:
    from lti_tool.registrar.lookup import resolve_period, resolve_school
    from lti_tool.registrar.precheck import check_before_posting

    with registrar_errors(), transaction(context) as session:
        found = resolve_school(session, school)
        return check_before_posting(session, found, resolve_period(session, found, period))


@grades.command("check")
@click.option("--school", required=True, help="School sourcedId, id or name.")
@click.option("--period", required=True, help="Grading period sourcedId, id or title (e.g. Q1).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def grades_check(context: CliContext, school: str, period: str, as_json: bool) -> None:
    """Show what is missing or disputed before posting PERIOD (exit 1 when something blocks posting)."""
    check = _check(context, school, period)
    click.echo(json.dumps(check.to_dict(), indent=2) if as_json else render_check(check))
    if check.is_blocked:
        sys.exit(1)


@grades.command("post")
@click.option("--school", required=True, help="School sourcedId, id or name.")
@click.option("--period", required=True, help="Grading period sourcedId, id or title (e.g. Q1).")
@click.option("--yes", is_flag=True, help="Post without asking for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the posting as JSON.")
@pass_context
def grades_post(context: CliContext, school: str, period: str, yes: bool, as_json: bool) -> None:
    """Post PERIOD for a school: snapshot grades stored, locked and queued for the SIS."""
    from lti_tool.registrar.lookup import resolve_period, resolve_school
    from lti_tool.registrar.posting import post_period

    check = _check(context, school, period)
    click.echo(render_check(check), err=as_json)
    if check.is_blocked:
        reasons = "; ".join(issue.message for issue in check.blocking)
        raise click.ClickException(f"not posted: {reasons}")
    total = check.counts["grades"]
    if not yes:
        click.confirm(
            f"Post {check.period_title} for {check.school_name} ({total} grades)? Posted grades are locked",
            abort=True,
            err=True,
        )
    with registrar_errors(), transaction(context) as session:
        found = resolve_school(session, school)
        chosen = resolve_period(session, found, period)
        with click.progressbar(length=max(total, 1), label="posting", file=sys.stderr) as bar:
            posting = post_period(session, found, chosen, actor=_actor(), progress=bar.update)
        posting_id, counts = posting.id, dict(posting.counts)
        summary = {"posting_id": posting_id, "posted_at": posting.posted_at.isoformat(),
                   "posted_by": posting.posted_by, "counts": counts}  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    outbox: dict[str, Any] = counts.get("outbox", {})
    queued, skipped = outbox.get("queued", {}), outbox.get("skipped", {})
    click.echo(
        f"Posted {check.period_title} for {check.school_name}: {counts['posted']} grades in "
        f"{counts['classes']} classes (posting {posting_id}), locked."
    )
    if not queued and not skipped:
        click.echo("Nothing queued for the SIS: no SIS connection serves this school (see the check).")
        return
    click.echo(f"Queued for the SIS: {queued.get('result', 0)} results" + (
        f"; not sent: {', '.join(f'{n} ({why})' for why, n in skipped.items())}" if skipped else ""))  # fmt: skip


@grades.command("list")
@click.option("--school", required=True, help="School sourcedId, id or name.")
@click.option("--period", required=True, help="Grading period sourcedId, id or title.")
@click.option("--class", "class_id", type=int, default=None, help="Only this class (internal id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def grades_list(context: CliContext, school: str, period: str, class_id: int | None, as_json: bool) -> None:
    """List the current posted grades of a period (amended grades marked as amendments)."""
    from lti_tool.registrar.lookup import resolve_period, resolve_school
    from lti_tool.registrar.queries import current_grade_views

    with registrar_errors(), transaction(context) as session:
        found = resolve_school(session, school)
        chosen = resolve_period(session, found, period)
        views = current_grade_views(
            session, academic_session_id=chosen.id, org_id=found.id, class_id=class_id
        )
    if as_json:
        click.echo(json.dumps([{
            "posted_grade_id": v.posted_grade_id, "student_id": v.student_id, "sis_id": v.sis_id,
            "class_id": v.class_id, "letter": v.letter, "course_value": _text(v.course_value),
            "grade_points": _text(v.grade_points), "status": v.status.value, "is_amendment": v.is_amendment,
            "amendments": v.amendment_count, "original_letter": v.original_letter,
        } for v in views], indent=2))  # fmt: skip
        return
    for v in views:
        note = f"  amended from {v.original_letter} ({v.amendment_count}x)" if v.is_amendment else ""
        click.echo(f"{v.posted_grade_id:>8} class {v.class_id:<6} student {v.student_id:<8} "
                   f"{v.sis_id or '-':<14} {v.letter or '-':<4} {_text(v.course_value) or '':<6}{note}")  # fmt: skip


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@grades.command("amend")
@click.argument("posted_grade_id", type=int)
@click.option("--letter", default=None, help="The new letter (its grade points come from the policy).")
@click.option("--course-value", default=None, help="The new course value (the letter follows from it).")
@click.option("--reason", required=True, help="Why the grade changes (kept in the audit trail).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def grades_amend(
    context: CliContext,
    posted_grade_id: int,
    letter: str | None,
    course_value: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Amend posted grade POSTED_GRADE_ID: a new locked row in its chain, audited and queued for the SIS."""
    from lti_tool.registrar.amendments import amend_grade, grade_history, parse_course_value

    with registrar_errors(), transaction(context) as session:
        value = parse_course_value(course_value, field="--course-value") if course_value is not None else None
        amended = amend_grade(
            session, posted_grade_id, letter=letter, course_value=value, reason=reason, actor=_actor()
        )
        history = grade_history(session, amended.id)
    old, new = history.entries[-2].values, history.current.values
    if as_json:
        click.echo(json.dumps(_history_json(history), indent=2))
        return
    click.echo(f"Amended posted grade {posted_grade_id}: {old.describe()} -> {new.describe()} "
               f"(new posted grade {amended.id}); queued for the SIS.")  # fmt: skip


def _history_json(history: GradeHistory) -> dict[str, Any]:
    return {
        "student_id": history.student_id,
        "class_id": history.class_id,
        "academic_session_id": history.academic_session_id,
        "entries": [
            {"posted_grade_id": e.posted_grade_id, "amendment_of_id": e.amendment_of_id,
             "is_amendment": e.is_amendment, "is_current": e.is_current, **e.values.to_dict(),
             "posted_at": e.posted_at.isoformat() if e.posted_at else None, "posted_by": e.posted_by,
             "reason": e.reason}
            for e in history.entries
        ],
    }  # fmt: skip


@grades.command("history")
@click.argument("posted_grade_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def grades_history(context: CliContext, posted_grade_id: int, as_json: bool) -> None:
    """Show the chain of a posted grade: the original posting and every amendment, oldest first."""
    from lti_tool.registrar.amendments import grade_history

    with registrar_errors(), transaction(context) as session:
        history = grade_history(session, posted_grade_id)
    if as_json:
        click.echo(json.dumps(_history_json(history), indent=2))
        return
    click.echo(
        f"Student {history.student_id}, class {history.class_id}, period {history.academic_session_id}:"
    )
    for entry in history.entries:
        what = "amended" if entry.is_amendment else "posted "
        when = entry.posted_at.isoformat(timespec="minutes") if entry.posted_at else "-"
        current = "  (current)" if entry.is_current else ""
        click.echo(f"  {entry.posted_grade_id:>8} {what} {when} by {entry.posted_by or '-'}: "
                   f"{entry.values.describe()}{current}")  # fmt: skip
        if entry.reason:
            click.echo(f"           reason: {entry.reason}")
