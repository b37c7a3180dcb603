"""Proficiency methods: turn one indicator's scores (oldest first) into one rounded Decimal, or None."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from types import MappingProxyType
from typing import Final

from mappings.errors import MappingError
from mappings.method_params import PARAM_RULES, ParamValue, to_decimal
from mappings.rounding import ARITHMETIC_CONTEXT, Rounding, decimal_mode, exponent_for, parse_rounding

__all__ = ["METHOD_NAMES", "Method", "calculate", "describe_method", "resolve_method"]

Compute = Callable[[Sequence[Decimal]], Decimal | None]

METHOD_NAMES: Final[tuple[str, ...]] = tuple(PARAM_RULES)

# Regression results come from float arithmetic; 12 significant digits keep every digit that means
# something and drop the binary noise (3.4749999999999996 -> 3.47500000000) before the named rounding.
_FLOAT_CONTEXT: Final = Context(prec=12)
_ZERO: Final = Decimal(0)
# Regression sums over x = ln(1..n) or x = 1..n, computed once for the usual series lengths.
_CACHED_LENGTHS: Final = 64
_LN: Final = tuple(math.log(i) for i in range(1, _CACHED_LENGTHS + 1))


def _x_sums(xs: Sequence[float]) -> tuple[float, float]:
    sx = math.fsum(xs)
    return sx, len(xs) * math.fsum(x * x for x in xs) - sx * sx


_LN_SUMS: Final = tuple(_x_sums(_LN[:n]) for n in range(_CACHED_LENGTHS + 1))
_LINE_SUMS: Final = tuple(_x_sums(range(1, n + 1)) for n in range(_CACHED_LENGTHS + 1))


@dataclass(frozen=True, slots=True)
class Method:
    """A proficiency method with validated parameters and rounding; call it on Decimal scores, oldest first.

    This is the fast path: the scores must already be finite Decimals (`calculate` converts and checks).
    """

    name: str
    params: tuple[tuple[str, ParamValue], ...]
    places: int
    rounding: Rounding
    compute: Compute = field(repr=False, compare=False)

    def __call__(self, scores: Sequence[Decimal]) -> Decimal | None:
        """The rounded proficiency, or None when the scores show no proficiency yet."""
        return self.compute(scores)

    @property
    def params_text(self) -> tuple[tuple[str, str], ...]:
        """The parameters as (name, text) pairs, for records and explanations."""
        return tuple((key, str(value)) for key, value in self.params)

    def describe(self) -> str:
        """The method and its parameters in plain words."""
        return describe_method(self.name, dict(self.params))


def _percent(weight: object) -> str:
    return f"{(Decimal(str(weight)) * 100).normalize():f}%"


def describe_method(name: str, params: dict[str, ParamValue]) -> str:
    """Plain words for a method and its parameters, as a parent would read them."""
    weight = params.get("weight", Decimal("0.65"))
    rest = _percent(Decimal(1) - Decimal(str(weight)))
    words = {
        "most_recent": "the most recent score",
        "highest": "the highest score",
        "mean": "the mean (average) of all scores",
        "median": "the median (middle value) of all scores",
        "mode": f"the most frequent score (ties go to the {str(params.get('tie', 'highest')).replace('_', ' ')})",
        "decaying_average": (
            f"a decaying average: each new score counts {_percent(weight)} and the running result "
            f"before it {rest}, so recent work matters most"
        ),
        "weighted_recent": (
            f"a weighted recent score: the most recent score counts {_percent(weight)} and the mean of all "
            f"earlier scores {rest}"
        ),
        "power_law": (
            "a power-law learning curve (Marzano) fitted to all scores, read at the most recent attempt"
        ),
        "linear_trend": "a straight trend line fitted to all scores, read at the most recent attempt",
        "n_mastery": (
            f"the mean of the scores at or above {params.get('mastery', 3)}, once there are at least "
            f"{params.get('n', 3)} of them"
        ),
        "mean_of_recent": f"the mean of the {params.get('n', 3)} most recent scores",
    }
    try:
        return words[name]
    except KeyError:
        raise MappingError(f"unknown method {name!r}; allowed: {', '.join(METHOD_NAMES)}") from None


# Each factory takes validated parameters plus the rounding and returns the finished closure, so the
# per-call work is the arithmetic alone. Arithmetic runs in ARITHMETIC_CONTEXT, never the caller's.


def _most_recent(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        return scores[-1].quantize(exp, mode, ARITHMETIC_CONTEXT) if scores else None

    return compute


def _highest(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        return max(scores).quantize(exp, mode, ARITHMETIC_CONTEXT) if scores else None

    return compute


def _mean(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        if not scores:
            return None
        with localcontext(ARITHMETIC_CONTEXT):
            return (sum(scores, _ZERO) / len(scores)).quantize(exp, mode)

    return compute


def _median(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        n = len(scores)
        if not n:
            return None
        ordered = sorted(scores)
        with localcontext(ARITHMETIC_CONTEXT):
            middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
            return middle.quantize(exp, mode)

    return compute


def _mode(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    by_recency = p["tie"] == "most_recent"

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        if not scores:
            return None
        counts: dict[Decimal, int] = {}
        last: dict[Decimal, int] = {}
        for index, score in enumerate(scores):
            counts[score] = counts.get(score, 0) + 1
            last[score] = index
        if by_recency:
            best = max(counts, key=lambda s: (counts[s], last[s]))
        else:
            best = max(counts, key=lambda s: (counts[s], s))
        return best.quantize(exp, mode, ARITHMETIC_CONTEXT)

    return compute


def _decaying_average(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    # D1 = s1; Dk = w*sk + (1-w)*D(k-1) (Canvas/Mastery Connect style decaying average).
    weight = Decimal(p["weight"])
    rest = ARITHMETIC_CONTEXT.subtract(Decimal(1), weight)
    # The context's own methods, not a localcontext block: the same operations in the same context, and
    # the default method of every shipped policy does a fifth less work (entering a localcontext costs
    # about as much as the arithmetic of three scores).
    add, multiply = ARITHMETIC_CONTEXT.add, ARITHMETIC_CONTEXT.multiply

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        if not scores:
            return None
        it = iter(scores)
        value = next(it)
        for score in it:
            value = add(multiply(weight, score), multiply(rest, value))
        return value.quantize(exp, mode, ARITHMETIC_CONTEXT)

    return compute


def _weighted_recent(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    # Canvas Outcomes "decaying_average": w*latest + (1-w)*mean(all earlier scores); one score is itself.
    weight = Decimal(p["weight"])
    rest = ARITHMETIC_CONTEXT.subtract(Decimal(1), weight)

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        n = len(scores)
        if n == 0:
            return None
        with localcontext(ARITHMETIC_CONTEXT):
            if n == 1:
                return scores[0].quantize(exp, mode)
            return (weight * scores[-1] + rest * (sum(scores[:-1], _ZERO) / (n - 1))).quantize(exp, mode)

    return compute


def _clamped(value: float, low: Decimal | None, high: Decimal | None, exp: Decimal, mode: str) -> Decimal:
    if not math.isfinite(value):
        raise MappingError(f"the trend fit did not give a finite value ({value!r}); check the scores")
    result = _FLOAT_CONTEXT.create_decimal_from_float(value)
    if low is not None and result < low:
        result = low
    if high is not None and result > high:
        result = high
    return result.quantize(exp, mode, ARITHMETIC_CONTEXT)


def _optional(p: dict[str, ParamValue], key: str) -> Decimal | None:
    value = p.get(key)
    return None if value is None else Decimal(value)


def _power_law(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    # Marzano's power law: least squares of ln(score) on ln(attempt), value of the fit at the last attempt.
    # ln(0) is undefined, so scores below `floor` (default 0.1, a tenth of a level) count as `floor`.
    # The regression runs in float for speed; the result becomes a Decimal (12 digits) before rounding.
    floor = Decimal(p["floor"])
    ln_floor = math.log(float(floor))
    low, high = _optional(p, "minimum"), _optional(p, "maximum")
    log = math.log

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        n = len(scores)
        if n == 0:
            return None
        if n == 1:
            return _clamped(float(scores[0]), low, high, exp, mode)
        ys = [log(float(s)) if s > floor else ln_floor for s in scores]
        if n <= _CACHED_LENGTHS:
            xs: Sequence[float] = _LN
            sx, denominator = _LN_SUMS[n]
        else:
            xs = [log(i) for i in range(1, n + 1)]
            sx, denominator = _x_sums(xs)
        sy = sum(ys)
        sxy = sum(map(float.__mul__, xs[:n], ys))
        slope = (n * sxy - sx * sy) / denominator
        intercept = (sy - slope * sx) / n
        fitted = intercept + slope * xs[n - 1]
        if fitted > 700.0:  # exp() would overflow: the fit has run away from any real scale
            raise MappingError(f"power_law fit exploded for scores {list(map(str, scores))}")
        return _clamped(math.exp(fitted), low, high, exp, mode)

    return compute


def _linear_trend(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    # Least squares of score on attempt number 1..n, value of the line at x = n. Float, as for power_law.
    low, high = _optional(p, "minimum"), _optional(p, "maximum")

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        n = len(scores)
        if n == 0:
            return None
        ys = [float(s) for s in scores]
        if n == 1:
            return _clamped(ys[0], low, high, exp, mode)
        sx, denominator = _LINE_SUMS[n] if n <= _CACHED_LENGTHS else _x_sums(range(1, n + 1))
        sy = sum(ys)
        sxy = sum(i * y for i, y in enumerate(ys, 1))
        slope = (n * sxy - sx * sy) / denominator
        return _clamped(sy / n + slope * (n - sx / n), low, high, exp, mode)

    return compute


def _n_mastery(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    # Canvas Outcomes n_mastery: the mean of the scores at or above mastery, once there are n of them.
    needed = int(p["n"])
    mastery = Decimal(p["mastery"])

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        hits = [s for s in scores if s >= mastery]
        if len(hits) < needed or not hits:
            return None
        with localcontext(ARITHMETIC_CONTEXT):
            return (sum(hits, _ZERO) / len(hits)).quantize(exp, mode)

    return compute


def _mean_of_recent(p: dict[str, ParamValue], exp: Decimal, mode: str) -> Compute:
    count = int(p["n"])

    def compute(scores: Sequence[Decimal]) -> Decimal | None:
        if not scores:
            return None
        recent = scores[-count:]
        with localcontext(ARITHMETIC_CONTEXT):
            return (sum(recent, _ZERO) / len(recent)).quantize(exp, mode)

    return compute


_FACTORIES: Final = MappingProxyType(
    {
        "most_recent": _most_recent,
        "highest": _highest,
        "mean": _mean,
        "median": _median,
        "mode": _mode,
        "decaying_average": _decaying_average,
        "weighted_recent": _weighted_recent,
        "power_law": _power_law,
        "linear_trend": _linear_trend,
        "n_mastery": _n_mastery,
        "mean_of_recent": _mean_of_recent,
    }
)


def resolve_method(name: str, **params: object) -> Method:
    """Validate a method name and its parameters once; the returned `Method` is the fast path.

    `places` (0-10, default 2) and `rounding` (a `Rounding` or its word, default half_up) set the rounding.
    """
    rules = PARAM_RULES.get(name)
    if rules is None:
        raise MappingError(f"unknown method {name!r}; allowed: {', '.join(METHOD_NAMES)}")
    places_value = params.pop("places", 2)
    if isinstance(places_value, bool) or not isinstance(places_value, int):
        raise MappingError(f"parameter 'places' must be an integer from 0 to 10, got {places_value!r}")
    exp = exponent_for(places_value)
    rounding = parse_rounding(params.pop("rounding", Rounding.HALF_UP), where="parameter 'rounding'")
    chosen: dict[str, ParamValue] = {}
    for key, value in params.items():
        rule = rules.get(key)
        if rule is None:
            allowed = ", ".join([*rules, "places", "rounding"])
            raise MappingError(f"unknown parameter {key!r} for method {name!r}; allowed: {allowed}")
        chosen[key] = rule.parse(value, name)
    for key, rule in rules.items():
        if key not in chosen and rule.default is not None:
            chosen[key] = rule.default
    if name in ("power_law", "linear_trend"):
        low, high = chosen.get("minimum"), chosen.get("maximum")
        if low is not None and high is not None and Decimal(low) > Decimal(high):
            raise MappingError(f"parameter 'minimum' ({low}) of method {name!r} is above 'maximum' ({high})")
    compute = _FACTORIES[name](chosen, exp, decimal_mode(rounding))
    ordered = tuple(sorted(chosen.items()))
    return Method(name=name, params=ordered, places=places_value, rounding=rounding, compute=compute)


_DEFAULT_METHODS: Final = MappingProxyType({name: resolve_method(name) for name in METHOD_NAMES})


def _as_decimals(scores: Sequence[float | Decimal | int]) -> list[Decimal]:
    out: list[Decimal] = []
    append = out.append
    for score in scores:
        kind = type(score)
        if kind is Decimal:
            value = score
        elif kind is int:
            value = Decimal(score)
        elif kind is float:
            value = Decimal(str(score))
        elif isinstance(score, str):
            raise MappingError(f"scores must be numbers, got the string {score!r}")
        else:
            value = to_decimal(score, where=f"score {score!r}")
        if not value.is_finite():  # type: ignore[union-attr]
            raise MappingError(f"scores must be finite numbers, got {score!r}")
        append(value)  # type: ignore[arg-type]
    return out


def calculate(method: str, scores: Sequence[float | Decimal | int], **params: object) -> Decimal | None:
    """One indicator's proficiency from its scores (oldest first), rounded; None means no proficiency yet.

    Floats convert via `Decimal(str(x))`. Parameters are checked on every call; callers in a loop should
    `resolve_method` once and call the `Method` on Decimal scores.
    """
    resolved = _DEFAULT_METHODS.get(method) if not params else None
    if resolved is None:
        resolved = resolve_method(method, **params)
    return resolved.compute(_as_decimals(scores))
