"""Policy files (shipped and broken), explanations and the published conversion scale."""

from __future__ import annotations

from datetime import date

import pytest

from mappings import (
    PolicyError,
    grade_period,
    load_shipped_policy,
    parse_policy,
    render_conversion_scale,
    render_explanation,
    shipped_policy_names,
)
from tests.unit.mappings.builders import COURSE, Q1, STUDENT, evidence

MINIMAL = """
name = "t"
version = "1"
effective_year = "2026-27"
[[letters]]
letter = "P"
min = 2
points = 4
[[letters]]
letter = "F"
min = 0
points = 0
"""


@pytest.mark.parametrize("name", ["four-point-plus-minus", "four-point-no-minus", "marzano-100"])
def test_each_shipped_policy_parses_with_the_default_method(name: str) -> None:
    assert name in shipped_policy_names()
    policy = load_shipped_policy(name)
    assert policy.name == name
    assert policy.method.name == "decaying_average"
    assert policy.method.params_text == (("weight", "0.65"),)
    assert policy.effective_year == "2026-27"


def test_unknown_shipped_policy() -> None:
    with pytest.raises(PolicyError, match="nope"):
        load_shipped_policy("nope")


def _edited(old: str, new: str) -> str:
    """MINIMAL with `old` replaced by `new`; with no `old`, tables go after the top-level keys, keys before."""
    if old:
        return MINIMAL.replace(old, new, 1)
    return MINIMAL + new if new.startswith("[") else new + MINIMAL


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (("", "[method]\nname = 'avg'\n"), ["method", "unknown method 'avg'"]),
        (("", "[method]\nparams = { weight = 2 }\n"), ["method", "'weight'", "0.50 to 0.99"]),
        (("", "[gpa]\nrounding = 'up'\n"), ["gpa.rounding", "half_up"]),
        (("", "[gpa]\nbonus = { gifted = 1 }\n"), ["gpa.bonus.gifted", "unknown course level"]),
        (("", "[scale]\nmin = 4\nmax = 1\n"), ["scale.max"]),
        (("min = 2", "min = 'two'"), ["letters[0].min", "number"]),
        (("min = 0", "min = 1"), ["letters[1].min", "at or below 0"]),
        (("min = 0", "min = 3"), ["letters[1].min", "highest first"]),
        (('name = "t"', ""), ["name", "required"]),
        (("", "colour = 'red'\n"), ["colour", "unknown key"]),
        (("", "[evidence]\nformative = 'cap'\n"), ["evidence.formative_cap", "required"]),
        (
            ("", "[evidence]\nformative = 'cap'\nformative_cap = 1.5\n"),
            ["evidence.formative_cap", "between 0 and 1"],
        ),
        (("", "[period]\nmode = 'composite'\n"), ["period.components", "required"]),
        (("", "[[course.caps]]\nbelow = 3\nmax_letter = 'Z'\n"), ["course.caps[0].max_letter", "'Z'"]),
        (("", "[course.weights]\nI1 = 0\n"), ["course.weights.I1", "above 0"]),
        (('version = "1"', "version = 1"), ["version", "string"]),
        (("", "[rounding]\ncourse = { places = 12 }\n"), ["rounding.course.places", "0 to 10"]),
    ],
)
def test_broken_policy_names_the_key_and_the_source(change: tuple[str, str], fragments: list[str]) -> None:
    old, new = change
    text = _edited(old, new)
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="district.toml")
    message = str(caught.value)
    assert "district.toml" in message
    for fragment in fragments:
        assert fragment in message


def test_invalid_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("name = ", source="x.toml")


def test_minimal_policy_uses_the_documented_defaults() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.method.name == "decaying_average"
    assert policy.evidence.insufficient_code == "I"
    assert [level.label for level in policy.scale.levels] == [
        "Emerging",
        "Developing",
        "Proficient",
        "Exemplary",
    ]


def test_n_mastery_takes_the_scale_mastery_level() -> None:
    policy = parse_policy(
        MINIMAL + "[scale]\nmastery = 2.5\n[method]\nname = 'n_mastery'\nparams = { n = 2 }\n"
    )
    assert dict(policy.method.params_text) == {"mastery": "2.5", "n": "2"}


def test_explanation_names_evidence_method_rule_cut_row_and_version() -> None:
    policy = load_shipped_policy("four-point-plus-minus")
    items = [
        evidence("ALG.1", 2, date(2026, 9, 3), task="Quiz 1"),
        evidence("ALG.1", 3, date(2026, 9, 17), task="Lab"),
        evidence("ALG.1", 4, date(2026, 10, 1), task="Project"),
    ]
    grade = grade_period(policy, items, Q1, student_id=STUDENT, course_id=COURSE)
    text = render_explanation(grade, course_title="Algebra I", policy=policy)
    for fragment in [
        "Algebra I, Q1: A",
        "2 on 2026-09-03 on Quiz 1",
        "3 on 2026-09-17 on Lab",
        "4 on 2026-10-01 on Project",
        "decaying average",
        "65%",
        "proficiency 3.53 (Proficient)",
        "the mean of 1 indicator proficiencies",
        "3.53 is at or above 3.40, the lowest value for A",
        "four-point-plus-minus, version 1.0.0",
    ]:
        assert fragment in text


def test_explanation_of_insufficient_evidence_says_what_is_missing() -> None:
    policy = load_shipped_policy("four-point-no-minus")
    grade = grade_period(policy, [], Q1, student_id=STUDENT, course_id=COURSE)
    text = render_explanation(grade)
    assert "No letter grade yet (INS)" in text
    assert "at least 1 scored indicator(s) (has 0)" in text
    assert "not a failing grade" in text


@pytest.mark.parametrize("name", ["four-point-plus-minus", "four-point-no-minus", "marzano-100"])
def test_conversion_scale_lists_every_letter_row_and_the_year(name: str) -> None:
    policy = load_shipped_policy(name)
    text = render_conversion_scale(policy)
    assert "2026-27" in text
    for row in policy.letters:
        assert f"| {row.letter} | {row.min_value}" in text
    assert "decaying average" in text
    assert policy.evidence.insufficient_code in text
