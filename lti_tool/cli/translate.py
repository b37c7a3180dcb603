"""`mastery-bridge translate`: evidence CSVs in, grade and GPA CSVs out, offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lti_tool.cli.core import InputError, log, main
from lti_tool.errors import MasteryBridgeError

# -- translate ------------------------------------------------------------------------------------------


@main.command()
@click.option("--policy", "policy_name", required=True, help="A shipped policy name or a policy .toml file.")
@click.option(
    "--evidence", "evidence_path", required=True, type=click.Path(path_type=Path), help="evidence.csv"
)
@click.option("--periods", "periods_path", required=True, type=click.Path(path_type=Path), help="periods.csv")
@click.option(
    "--courses", "courses_path", type=click.Path(path_type=Path), help="courses.csv (credits, levels, NCAA)"
)
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="Write grades here (default: stdout)."
)
@click.option("--gpa", "gpa_path", type=click.Path(path_type=Path), help="Write GPA figures here.")
@click.option("--explain", is_flag=True, help="Print a plain-words explanation of each grade to stdout.")
@click.option("--student", "students", multiple=True, help="Only explain these students (repeatable).")
def translate(
    policy_name: str,
    evidence_path: Path,
    periods_path: Path,
    courses_path: Path | None,
    out_path: Path | None,
    gpa_path: Path | None,
    explain: bool,
    students: tuple[str, ...],
) -> None:
    """Translate evidence into period grades, final grades, GPA and NCAA figures, offline."""
    import csv

    from lti_tool import translate as tr
    from mappings import render_explanation

    try:
        policy = tr.resolve_policy(policy_name)
        courses = tr.read_courses(courses_path) if courses_path else None
        evidence = tr.read_evidence(evidence_path, courses)
        periods = tr.read_periods(periods_path)
        result = tr.translate(policy, evidence, periods, courses, periods_file=str(periods_path))
    except MasteryBridgeError as exc:
        raise InputError(str(exc)) from exc
    outputs: list[tuple[Path, tuple[str, ...], list[list[str]]]] = []
    if out_path:
        outputs.append((out_path, tr.GRADES_HEADER, list(tr.grade_rows(result.grades))))
    if gpa_path:
        outputs.append((gpa_path, tr.GPA_HEADER, list(tr.gpa_rows(result.gpas))))
    tr.write_csv_files(outputs)
    if not out_path and not explain:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(tr.GRADES_HEADER)
        writer.writerows(tr.grade_rows(result.grades))
    if explain:
        wanted = set(students)
        for grade in result.grades:
            if wanted and grade.student_id not in wanted:
                continue
            course = result.courses.get(grade.course_id)
            click.echo(f"Student {grade.student_id}")
            click.echo(
                render_explanation(grade, course_title=course.title if course else None, policy=policy)
            )
            click.echo()
    log.info(
        "translated %d evidence rows into %d grades for %d students with policy %s %s",
        len(evidence),
        len(result.grades),
        len(result.gpas),
        policy.name,
        policy.version,
    )
