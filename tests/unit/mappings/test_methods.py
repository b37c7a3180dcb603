"""Proficiency methods: the reference vectors, parameter errors and the fast path."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mappings import METHOD_NAMES, MappingError, Rounding, calculate, quantize, resolve_method

VECTORS = [
    ("highest", [3, 1], {}, "3"),
    ("most_recent", [1, 2, 4, 5, 3], {}, "3"),
    ("mean", [1, 2, 3, 4, 5], {}, "3"),
    ("highest", [2, 4, 3], {}, "4"),
    ("mean", [2, 4, 3], {}, "3"),
    ("n_mastery", [3, 1], {"n": 3, "mastery": 3}, None),
    ("n_mastery", [3, 1, 2], {"n": 3, "mastery": 3}, None),
    ("n_mastery", [4, 5, 1, 3, 2, 3], {"n": 3, "mastery": 3}, "3.75"),
    ("n_mastery", [3, 4, 3], {"n": 3, "mastery": 3}, "3.33"),
    ("n_mastery", [1, 2, 3, 4, 5], {"n": 3, "mastery": 3}, "4"),
    ("n_mastery", [1, 2], {"n": 1, "mastery": 3}, None),
    ("n_mastery", [1, 2, 3], {"n": 1, "mastery": 3}, "3"),
    ("n_mastery", [1, 2, 3, 4], {"n": 1, "mastery": 3}, "3.5"),
    ("n_mastery", [1, 2, 3, 4, 5], {"n": 4, "mastery": 3}, None),
    ("weighted_recent", [3], {"weight": 0.75}, "3"),
    ("weighted_recent", [3, 1, 5, 4], {"weight": 0.75}, "3.75"),
    ("weighted_recent", [2, 3], {"weight": 0.65}, "2.65"),
    ("weighted_recent", [2.123], {"weight": 0.65}, "2.12"),
    ("weighted_recent", [2, 3, 4], {"weight": 0.65}, "3.48"),
    ("weighted_recent", [5, 4], {"weight": 0.65}, "4.35"),
    ("weighted_recent", [3, 2], {"weight": 0.65}, "2.35"),
    ("weighted_recent", [1, 2, 3, 4, 5], {"weight": 0.65}, "4.13"),
    ("decaying_average", [2, 3, 4], {"weight": 0.65}, "3.53"),
    ("decaying_average", [3], {"weight": 0.65}, "3"),
    ("decaying_average", [1, 2, 3, 4, 5], {"weight": 0.65}, "4.47"),
]


@pytest.mark.parametrize(("method", "scores", "params", "expected"), VECTORS)
def test_reference_vectors(
    method: str, scores: list[float], params: dict[str, object], expected: str | None
) -> None:
    result = calculate(method, scores, **params)
    if expected is None:
        assert result is None
    else:
        assert result == Decimal(expected)


def test_results_are_rounded_to_two_places_by_default() -> None:
    result = calculate("mean", [1, 2, 2])
    assert result is not None
    assert str(result) == "1.67"


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_empty_scores_mean_no_proficiency_yet(method: str) -> None:
    assert calculate(method, []) is None


def test_places_and_rounding_parameters() -> None:
    assert calculate("mean", [1, 2, 2], places=3) == Decimal("1.667")
    assert calculate("mean", [1, 2, 2], rounding=Rounding.TRUNCATE) == Decimal("1.66")
    assert calculate("mean", [Decimal("2.125")], rounding=Rounding.HALF_EVEN) == Decimal("2.12")
    assert calculate("mean", [Decimal("2.125")], rounding="half_up") == Decimal("2.13")


def test_quantize_rules() -> None:
    assert quantize(Decimal("2.2999"), 3, Rounding.TRUNCATE) == Decimal("2.299")
    assert quantize(Decimal("2.345"), 2, Rounding.HALF_UP) == Decimal("2.35")
    assert quantize(Decimal("2.345"), 2, Rounding.HALF_EVEN) == Decimal("2.34")


def test_floats_convert_through_their_text() -> None:
    # Decimal(2.675) is 2.67499999...; Decimal(str(2.675)) is 2.675 and rounds half up to 2.68.
    assert calculate("most_recent", [2.675]) == Decimal("2.68")


def test_median_and_mode() -> None:
    assert calculate("median", [4, 1, 3]) == Decimal("3")
    assert calculate("median", [4, 1, 3, 2]) == Decimal("2.5")
    assert calculate("mode", [2, 3, 3, 2, 1]) == Decimal("3")
    assert calculate("mode", [3, 2, 3, 2, 1], tie="most_recent") == Decimal("2")
    assert calculate("mode", [Decimal("3"), Decimal("3.0"), 4]) == Decimal("3")


def test_mean_of_recent() -> None:
    assert calculate("mean_of_recent", [0, 0, 2, 3, 4], n=3) == Decimal("3")
    assert calculate("mean_of_recent", [2, 4], n=3) == Decimal("3")


def test_linear_trend_reads_the_line_at_the_last_attempt() -> None:
    assert calculate("linear_trend", [1, 2, 3]) == Decimal("3")
    assert calculate("linear_trend", [1, 2, 4]) == Decimal("3.83")
    assert calculate("linear_trend", [1, 3, 5], maximum=4) == Decimal("4")
    assert calculate("linear_trend", [2]) == Decimal("2")


def test_power_law() -> None:
    assert calculate("power_law", [3]) == Decimal("3")
    assert calculate("power_law", [2, 2, 2, 2]) == Decimal("2")
    # A perfect power curve s = 2 * k^0.5 is recovered exactly at k = 4.
    assert calculate("power_law", [2, 2 * 2**0.5, 2 * 3**0.5, 4]) == Decimal("4")
    rising = calculate("power_law", [0, 1, 2, 3, 4], minimum=0, maximum=4)
    assert rising == Decimal("4")
    falling = calculate("power_law", [4, 3, 2, 1, 0], minimum=0, maximum=4)
    assert falling is not None
    assert falling < 1


def test_power_law_treats_scores_below_floor_as_floor() -> None:
    assert calculate("power_law", [0, 0]) == Decimal("0.1")
    assert calculate("power_law", [0, 0], floor=1) == Decimal("1")


@pytest.mark.parametrize(
    ("method", "params", "fragments"),
    [
        ("average", {}, ["unknown method 'average'", "most_recent", "power_law"]),
        ("weighted_recent", {"weight": 1.5}, ["'weight'", "0.01 to 0.99", "1.5"]),
        ("decaying_average", {"weight": 0.4}, ["'weight'", "0.50 to 0.99", "0.4"]),
        ("n_mastery", {"n": 11, "mastery": 3}, ["'n'", "1 to 10", "11"]),
        ("n_mastery", {"n": 0}, ["'n'", "1 to 10"]),
        ("n_mastery", {"n": 2.5}, ["'n'", "integer"]),
        ("mean", {"weight": 0.5}, ["unknown parameter 'weight'", "'mean'", "places"]),
        ("mode", {"tie": "lowest"}, ["'tie'", "highest, most_recent"]),
        ("mean", {"places": 11}, ["places", "0 to 10"]),
        ("mean", {"rounding": "up"}, ["rounding", "half_up"]),
        ("power_law", {"floor": 0}, ["'floor'", "greater than 0"]),
        ("linear_trend", {"minimum": 4, "maximum": 1}, ["'minimum'", "'maximum'"]),
        ("weighted_recent", {"weight": True}, ["'weight'", "boolean"]),
    ],
)
def test_bad_methods_and_parameters_name_the_problem(
    method: str, params: dict[str, object], fragments: list[str]
) -> None:
    with pytest.raises(MappingError) as caught:
        calculate(method, [1, 2], **params)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), "3", None])
def test_bad_scores_are_rejected(score: object) -> None:
    with pytest.raises(MappingError):
        calculate("mean", [1, score])  # type: ignore[list-item]


def test_resolved_method_is_the_fast_path_and_matches_calculate() -> None:
    method = resolve_method("decaying_average", weight="0.65")
    scores = [Decimal(s) for s in (1, 2, 3, 4, 5)]
    assert method(scores) == calculate("decaying_average", scores) == Decimal("4.47")
    assert method.params_text == (("weight", "0.65"),)
    assert "65%" in method.describe()
    assert resolve_method("decaying_average") == method


def test_every_method_has_words() -> None:
    for name in METHOD_NAMES:
        assert resolve_method(name).describe()
