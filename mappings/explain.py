"""Plain-words explanations of a course grade and a publishable Markdown conversion scale for a policy."""

from __future__ import annotations

from decimal import Decimal

from mappings.methods import describe_method
from mappings.policy import FormativeMode, PeriodMode, Policy, ProficiencyScale
from mappings.records import CourseGrade, GradeStatus

__all__ = ["render_conversion_scale", "render_explanation"]

_STANDARD_SCALE = ProficiencyScale(Decimal(0), Decimal(4), Decimal(3), ())


def _label(value: Decimal, scale: ProficiencyScale | None) -> str:
    if scale is None or not scale.levels:
        names = {1: "Emerging", 2: "Developing", 3: "Proficient", 4: "Exemplary"}
        found = [name for level, name in names.items() if value >= level]
        return found[-1] if found else "below Emerging"
    return scale.label_for(value)


def render_explanation(
    grade: CourseGrade, *, course_title: str | None = None, policy: Policy | None = None
) -> str:
    """A course grade in plain words a parent can follow: evidence, method, per-indicator results, the rule
    behind the course value, the letter-table row, and the policy name and version.

    Pass `policy` to label proficiencies with the school's own scale words (default: 1 Emerging,
    2 Developing, 3 Proficient, 4 Exemplary).
    """
    scale = policy.scale if policy is not None else None
    title = course_title or grade.course_id
    params = dict(grade.method_params)
    lines = [f"{title}, {grade.period_id}: {grade.letter}"]
    lines.append(
        f"Each standard (performance indicator) gets one proficiency from its evidence using "
        f"{describe_method(grade.method, dict(params.items()))} [method {grade.method}"
        + (f"; {', '.join(f'{k}={v}' for k, v in grade.method_params)}" if grade.method_params else "")
        + "]."
    )
    for result in grade.indicators:
        lines.append("")
        if result.proficiency is None:
            lines.append(f"Standard {result.indicator_id}: no proficiency yet.")
        else:
            lines.append(
                f"Standard {result.indicator_id}: proficiency {result.proficiency} "
                f"({_label(result.proficiency, scale)})."
            )
        if result.evidence:
            lines.append("  Evidence used, oldest first:")
        for item in result.evidence:
            task = f" on {item.task}" if item.task else ""
            lines.append(f"  - {item.score} on {item.demonstrated_on.isoformat()}{task} ({item.kind})")
        if result.note:
            lines.append(f"  How it combines: {result.note}.")
        for exclusion in result.excluded:
            item = exclusion.evidence
            lines.append(
                f"  - not used: {item.score} on {item.demonstrated_on.isoformat()}"
                f"{f' on {item.task}' if item.task else ''}, because {exclusion.reason}"
            )
    lines.append("")
    if grade.status is GradeStatus.INSUFFICIENT_EVIDENCE:
        lines.append(f"No letter grade yet ({grade.letter}): {grade.rule}.")
        lines.append(
            "This is not a failing grade; it means more evidence is needed before a grade can be given."
        )
    else:
        lines.append(f"The course value is {grade.course_value}: {grade.rule}.")
        row = grade.cut_row
        if row is not None:
            shown = grade.percent if grade.percent is not None else grade.course_value
            unit = "%" if grade.percent is not None else ""
            if shown is not None and shown >= row.min_value:
                lines.append(
                    f"{shown}{unit} is at or above {row.min_value}{unit}, the lowest value for {row.letter}, "
                    f"which carries {row.points} grade points."
                )
            else:
                lines.append(
                    f"The letter is {row.letter} ({row.points} grade points) because of the rule above."
                )
    lines.append(f"Policy: {grade.policy_name}, version {grade.policy_version}.")
    return "\n".join(lines)


def _range_rows(policy: Policy, unit: str) -> list[str]:
    rows = ["| Letter | From (at or above) | Up to (below) | Grade points |", "|---|---|---|---|"]
    upper = None
    for row in policy.letters:
        top = "and above" if upper is None else f"{upper}{unit}"
        rows.append(f"| {row.letter} | {row.min_value}{unit} | {top} | {row.points} |")
        upper = row.min_value
    return rows


def render_conversion_scale(policy: Policy) -> str:
    """Markdown a school can publish (and send to the NCAA Eligibility Center): proficiency -> letter ->
    points, the year it took effect, and how per-standard scores combine into one course grade."""
    scale = policy.scale
    out = [
        f"# Grading conversion scale: {policy.name}",
        "",
        f"Version {policy.version}, in effect from the {policy.effective_year} school year.",
    ]
    if policy.description:
        out += ["", policy.description.strip()]
    out += ["", "## Proficiency scale", "", f"Standards are scored from {scale.minimum} to {scale.maximum}; "
            f"{scale.mastery} is mastery.", "", "| Level | Meaning |", "|---|---|"]  # fmt: skip
    out += [f"| {level.value} | {level.label} |" for level in scale.levels]
    if policy.percent is not None:
        out += ["", "## Proficiency to percentage", "",
                "Between the rows below the percentage is interpolated in a straight line, then "
                f"{policy.percent.rounding.describe()}.", "", "| Course value | Percentage |", "|---|---|"]  # fmt: skip
        out += [f"| {point.value} | {point.percent}% |" for point in policy.percent.points]
        out += ["", "## Percentage to letter grade", ""]
        out += _range_rows(policy, "%")
    else:
        out += ["", "## Course value to letter grade", ""]
        out += _range_rows(policy, "")
    rules = policy.evidence
    method = policy.method
    out += [
        "",
        "## How standard scores become one course grade",
        "",
        f"1. Each standard's proficiency is {describe_method(method.name, dict(method.params))}, "
        f"{policy.proficiency_rounding.describe()}. Scores are taken in date order, including all earlier "
        "evidence in the course: a grade shows where the student stands now.",
        "2. The course value is the "
        + ("weighted mean" if policy.weights else "mean")
        + " of the standards' proficiencies, "
        + policy.course_rounding.describe()
        + "."
        + (
            " Weights: " + ", ".join(f"{name} x{weight}" for name, weight in policy.weights) + "; others x1."
            if policy.weights
            else ""
        ),
        "3. The course value is looked up in the table above (lower bounds are inclusive).",
    ]
    for cap in policy.caps:
        out.append(f"4. If any standard is below {cap.below}, the letter is at most {cap.max_letter}."
                   + (f" {cap.description}" if cap.description else ""))  # fmt: skip
    out += [
        "",
        f"- A grade needs at least {max(rules.min_indicators, 1)} scored standard(s) and at least "
        f"{rules.min_evidence} piece(s) of evidence; otherwise the grade is **{rules.insufficient_code}** "
        f"({rules.insufficient_label}), never an automatic F.",
    ]
    formative = {
        FormativeMode.INCLUDE: "- Formative and summative evidence both count.",
        FormativeMode.EXCLUDE: "- Only summative evidence counts toward grades; formative evidence is feedback.",
        FormativeMode.CAP: f"- Formative evidence weighs at most {(rules.formative_cap or Decimal(0)) * 100:f}% "
        "of each standard's proficiency; it cannot set a proficiency on its own.",
    }
    out.append(formative[rules.formative])
    if policy.period.mode is PeriodMode.COMPOSITE:
        parts = " + ".join(f"{c.weight} x {c.period_id}" for c in policy.period.components)
        out.append(f"- The credit-bearing grade is a composite required by the district: {parts}.")
    else:
        out.append("- Each period grade (and the final grade) is a snapshot of all evidence so far, not an average "
                   "of earlier period grades.")  # fmt: skip
    gpa = policy.gpa
    out += ["", "## GPA", "", f"- GPA is the credit-weighted mean of grade points, {_gpa_rounding(policy)}."]
    if gpa.is_weighted and gpa.bonus:
        bonus = ", ".join(f"{level} +{amount}" for level, amount in gpa.bonus)
        out.append(f"- Weighted GPA adds a bonus per course level: {bonus}.")
    if gpa.excluded_letters:
        out.append(f"- Left out of the GPA: {', '.join(gpa.excluded_letters)}.")
    out.append(f"- Pass grades ({', '.join(policy.ncaa.pass_codes)}) are reported to the NCAA as "
               f"{policy.ncaa.lowest_passing_letter}, the lowest passing letter.")  # fmt: skip
    return "\n".join(out) + "\n"


def _gpa_rounding(policy: Policy) -> str:
    words = {"half_up": "rounded half up", "half_even": "rounded half to even", "truncate": "truncated"}
    return f"{words[policy.gpa.rounding.value]} to {policy.gpa.places} decimal places"
