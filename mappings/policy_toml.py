"""Read grading policies from TOML text (format: mappings/policies/README.md) and the shipped policy files."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any

from mappings.errors import MappingError, PolicyError
from mappings.method_params import to_decimal
from mappings.methods import resolve_method
from mappings.policy import (
    CapRule,
    EvidenceRules,
    FormativeMode,
    GpaRules,
    NcaaRules,
    PercentMapping,
    PercentPoint,
    PeriodComponent,
    PeriodMode,
    PeriodRules,
    Policy,
    ProficiencyScale,
    RoundingRule,
    ScaleLevel,
)
from mappings.records import CourseLevel, CutRow
from mappings.rounding import MAX_PLACES, Rounding

__all__ = ["load_shipped_policy", "parse_policy", "shipped_policy_names"]

_DEFAULT_LEVELS = (
    ScaleLevel(Decimal(1), "Emerging"),
    ScaleLevel(Decimal(2), "Developing"),
    ScaleLevel(Decimal(3), "Proficient"),
    ScaleLevel(Decimal(4), "Exemplary"),
)
_TOP_KEYS = {
    "name", "version", "effective_year", "description", "scale", "method", "rounding",
    "course", "evidence", "period", "letters", "percent", "gpa", "ncaa",
}  # fmt: skip


class _Reader:
    """Typed access to a TOML table that names the key path and the source in every error."""

    def __init__(self, table: Mapping[str, Any], path: str, source: str) -> None:
        self.table, self.path, self.source = table, path, source

    def fail(self, key: str, problem: str) -> PolicyError:
        where = f"{self.path}.{key}" if self.path else key
        return PolicyError(f"{self.source}: {where}: {problem}")

    def only(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(key, f"unknown key; allowed here: {', '.join(sorted(allowed))}")

    def has(self, key: str) -> bool:
        return key in self.table

    def text(self, key: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "is required (a string)")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "is required (a number)")
        try:
            return to_decimal(value, where="value")
        except MappingError as exc:
            raise self.fail(key, f"must be a number, got {value!r}") from exc

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be an integer from {low} to {high}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.table.get(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}")
        return tuple(value)

    def sub(self, key: str) -> _Reader:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {value!r}")
        return _Reader(value, f"{self.path}.{key}" if self.path else key, self.source)

    def rows(self, key: str) -> list[_Reader]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "must be an array of tables ([[...]])")
        prefix = f"{self.path}.{key}" if self.path else key
        return [_Reader(row, f"{prefix}[{index}]", self.source) for index, row in enumerate(value)]


def _rounding_rule(reader: _Reader, default_places: int) -> RoundingRule:
    reader.only({"mode", "places"})
    mode = reader.choice("mode", "half_up", tuple(r.value for r in Rounding))
    return RoundingRule(Rounding(mode), reader.integer("places", default_places, 0, MAX_PLACES))


def _scale(reader: _Reader) -> ProficiencyScale:
    reader.only({"min", "max", "mastery", "levels"})
    minimum = reader.number("min", Decimal(0))
    maximum = reader.number("max", Decimal(4))
    if maximum <= minimum:
        raise reader.fail("max", f"must be above scale.min ({minimum}), got {maximum}")
    mastery = reader.number("mastery", Decimal(3))
    if not minimum <= mastery <= maximum:
        raise reader.fail("mastery", f"must lie within {minimum}-{maximum}, got {mastery}")
    levels = []
    for row in reader.rows("levels"):
        row.only({"value", "label"})
        levels.append(ScaleLevel(row.number("value"), row.text("label")))
    if any(b.value <= a.value for a, b in itertools.pairwise(levels)):
        raise reader.fail("levels", "level values must ascend")
    return ProficiencyScale(minimum, maximum, mastery, tuple(levels) or _DEFAULT_LEVELS)


def _letters(root: _Reader, bottom: Decimal) -> tuple[CutRow, ...]:
    rows = []
    for row in root.rows("letters"):
        row.only({"letter", "min", "points"})
        rows.append(CutRow(row.text("letter"), row.number("min"), row.number("points")))
    if not rows:
        raise root.fail("letters", "is required: an array of tables with letter, min and points")
    for index in range(1, len(rows)):
        if rows[index].min_value >= rows[index - 1].min_value:
            raise root.fail(
                f"letters[{index}].min", "rows must be ordered highest first with falling minimums"
            )
    if len({row.letter for row in rows}) != len(rows):
        raise root.fail("letters", "each letter may appear once")
    if rows[-1].min_value > bottom:
        raise root.fail(f"letters[{len(rows) - 1}].min", f"the lowest row must start at or below {bottom}")
    return tuple(rows)


def _percent(reader: _Reader, scale: ProficiencyScale) -> PercentMapping:
    reader.only({"mode", "places", "points"})
    rounding = _rounding_rule(
        _Reader({k: v for k, v in reader.table.items() if k != "points"}, *_at(reader)), 0
    )
    points = []
    for row in reader.rows("points"):
        row.only({"value", "percent"})
        points.append(PercentPoint(row.number("value"), row.number("percent")))
    if len(points) < 2:
        raise reader.fail("points", "needs at least two breakpoints")
    if any(b.value <= a.value or b.percent < a.percent for a, b in itertools.pairwise(points)):
        raise reader.fail("points", "values must ascend and percentages must not fall")
    if points[0].value > scale.minimum or points[-1].value < scale.maximum:
        raise reader.fail("points", f"must cover the whole scale {scale.minimum}-{scale.maximum}")
    return PercentMapping(tuple(points), rounding)


def _at(reader: _Reader) -> tuple[str, str]:
    return reader.path, reader.source


def _evidence(reader: _Reader) -> EvidenceRules:
    reader.only({"min_indicators", "min_evidence", "insufficient_code", "insufficient_label", "formative",
                 "formative_cap"})  # fmt: skip
    formative = FormativeMode(reader.choice("formative", "include", tuple(m.value for m in FormativeMode)))
    cap = None
    if formative is FormativeMode.CAP:
        cap = reader.number("formative_cap")
        if not Decimal(0) < cap < Decimal(1):
            raise reader.fail("formative_cap", f"must be a share between 0 and 1 (e.g. 0.15), got {cap}")
    elif reader.has("formative_cap"):
        raise reader.fail("formative_cap", 'is only allowed with formative = "cap"')
    return EvidenceRules(
        min_indicators=reader.integer("min_indicators", 1, 0, 1000),
        min_evidence=reader.integer("min_evidence", 1, 0, 100_000),
        insufficient_code=reader.text("insufficient_code", "I"),
        insufficient_label=reader.text("insufficient_label", "Insufficient evidence"),
        formative=formative,
        formative_cap=cap,
    )


def _period(reader: _Reader) -> PeriodRules:
    reader.only({"mode", "components"})
    mode = PeriodMode(reader.choice("mode", "snapshot", tuple(m.value for m in PeriodMode)))
    components = []
    for row in reader.rows("components"):
        row.only({"period_id", "weight"})
        weight = row.number("weight")
        if weight <= 0:
            raise row.fail("weight", f"must be above 0, got {weight}")
        components.append(PeriodComponent(row.text("period_id"), weight))
    if mode is PeriodMode.COMPOSITE and not components:
        raise reader.fail("components", 'is required when mode = "composite"')
    if mode is PeriodMode.SNAPSHOT and components:
        raise reader.fail("components", 'is only allowed when mode = "composite"')
    return PeriodRules(mode, tuple(components))


def _gpa(reader: _Reader) -> GpaRules:
    reader.only({"places", "rounding", "is_weighted", "bonus", "excluded_letters"})
    bonus_reader = reader.sub("bonus")
    levels = tuple(level.value for level in CourseLevel)
    bonus = []
    for key in bonus_reader.table:
        if key not in levels:
            raise bonus_reader.fail(key, f"unknown course level; allowed: {', '.join(levels)}")
        amount = bonus_reader.number(key)
        if amount < 0:
            raise bonus_reader.fail(key, f"must not be negative, got {amount}")
        bonus.append((CourseLevel(key), amount))
    return GpaRules(
        places=reader.integer("places", 2, 0, MAX_PLACES),
        rounding=Rounding(reader.choice("rounding", "half_up", tuple(r.value for r in Rounding))),
        is_weighted=reader.boolean("is_weighted", False),
        bonus=tuple(bonus),
        excluded_letters=reader.strings("excluded_letters", ()),
    )


def parse_policy(text: str, *, source: str = "<string>") -> Policy:
    """A `Policy` from TOML text; any problem raises PolicyError naming the source and the key path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    root = _Reader(data, "", source)
    root.only(_TOP_KEYS)
    scale = _scale(root.sub("scale"))
    rounding = root.sub("rounding")
    rounding.only({"proficiency", "course"})
    proficiency_rounding = _rounding_rule(rounding.sub("proficiency"), 2)
    course_rounding = _rounding_rule(rounding.sub("course"), 2)

    method_reader = root.sub("method")
    method_reader.only({"name", "params"})
    params_reader = method_reader.sub("params")
    params: dict[str, object] = dict(params_reader.table)
    for key in ("places", "rounding"):
        if key in params:
            raise params_reader.fail(
                key, "set rounding in [rounding.proficiency], not in the method parameters"
            )
    method_name = method_reader.text("name", "decaying_average")
    if method_name == "n_mastery":
        params.setdefault("mastery", scale.mastery)
    try:
        method = resolve_method(
            method_name, places=proficiency_rounding.places, rounding=proficiency_rounding.mode, **params
        )
    except MappingError as exc:
        raise PolicyError(f"{source}: method: {exc}") from exc

    percent_reader = root.sub("percent")
    percent = _percent(percent_reader, scale) if root.has("percent") else None
    letters = _letters(root, percent.points[0].percent if percent else scale.minimum)

    course = root.sub("course")
    course.only({"aggregation", "weights", "caps"})
    course.choice("aggregation", "mean", ("mean",))
    weights_reader = course.sub("weights")
    weights = []
    for key in weights_reader.table:
        weight = weights_reader.number(key)
        if weight <= 0:
            raise weights_reader.fail(key, f"must be above 0, got {weight}")
        weights.append((key, weight))
    caps = []
    known = {row.letter for row in letters}
    for row in course.rows("caps"):
        row.only({"below", "max_letter", "description"})
        letter = row.text("max_letter")
        if letter not in known:
            raise row.fail("max_letter", f"{letter!r} is not in the letters table")
        caps.append(CapRule(row.number("below"), letter, str(row.table.get("description", ""))))

    ncaa = root.sub("ncaa")
    ncaa.only({"lowest_passing_letter", "pass_codes"})
    return Policy(
        name=root.text("name"),
        version=root.text("version"),
        effective_year=root.text("effective_year"),
        description=str(data.get("description", "")),
        scale=scale,
        method=method,
        proficiency_rounding=proficiency_rounding,
        course_rounding=course_rounding,
        weights=tuple(weights),
        caps=tuple(caps),
        evidence=_evidence(root.sub("evidence")),
        period=_period(root.sub("period")),
        letters=letters,
        percent=percent,
        gpa=_gpa(root.sub("gpa")),
        ncaa=NcaaRules(ncaa.text("lowest_passing_letter", "D"), ncaa.strings("pass_codes", ("P",))),
    )


def shipped_policy_names() -> tuple[str, ...]:
    """The names of the policies shipped in mappings/policies/, sorted."""
    folder = resources.files("mappings") / "policies"
    return tuple(sorted(item.name[:-5] for item in folder.iterdir() if item.name.endswith(".toml")))


def load_shipped_policy(name: str) -> Policy:
    """Parse one shipped policy by name.

    This is the core's only I/O, and it reads package data, not the outside world: the shipped policies
    are part of the code (versioned with it), so reading them keeps the core pure in every way that matters.
    """
    if name not in shipped_policy_names():
        raise PolicyError(f"no shipped policy named {name!r}; shipped: {', '.join(shipped_policy_names())}")
    resource = resources.files("mappings") / "policies" / f"{name}.toml"
    return parse_policy(resource.read_text(encoding="utf-8"), source=f"mappings/policies/{name}.toml")
