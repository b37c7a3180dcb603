"""Write the demo district as the CSV files `mastery-bridge translate` reads."""

from __future__ import annotations

from pathlib import Path

from lti_tool.demo.district import DemoDistrict
from lti_tool.translate import write_csv_files


def write_translate_inputs(district: DemoDistrict, folder: Path) -> list[Path]:
    """Write evidence.csv, periods.csv and courses.csv into `folder`; return their paths."""
    sessions = {session.sourced_id: session for session in district.sessions}
    evidence_rows = [
        [
            e.student_id,
            e.course_code,
            e.indicator_code,
            str(e.score),
            e.demonstrated_on.isoformat(),
            e.kind,
            e.task_id,
        ]
        for e in sorted(
            district.evidence, key=lambda e: (e.student_id, e.course_code, e.demonstrated_on, e.task_id)
        )
    ]
    period_rows = []
    for course in district.courses:
        for period_id in course.period_ids:
            session = sessions[period_id]
            period_rows.append(
                [period_id, course.code, session.start.isoformat(), session.end.isoformat(),
                 "true" if session.is_credit_bearing else "false"]
            )  # fmt: skip
    course_rows = [
        [c.code, c.title, str(c.credits), c.level, "true" if c.is_ncaa_core else "false", c.ncaa_area or ""]
        for c in district.courses
    ]
    outputs = [
        (folder / "evidence.csv",
         ("student_id", "course_id", "indicator_id", "score", "demonstrated_on", "kind", "task"), evidence_rows),
        (folder / "periods.csv", ("period_id", "course_id", "start", "end", "credit_bearing"), period_rows),
        (folder / "courses.csv", ("course_id", "title", "credits", "level", "ncaa_core", "ncaa_area"), course_rows),
    ]  # fmt: skip
    write_csv_files(outputs)
    return [path for path, _, _ in outputs]
