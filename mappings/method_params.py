"""Parameter rules for the proficiency methods: names, defaults and allowed ranges, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Final

from mappings.errors import MappingError

__all__ = ["PARAM_RULES", "ParamRule", "ParamValue", "to_decimal"]

ParamValue = Decimal | int | str


def to_decimal(value: object, *, where: str) -> Decimal:
    """A finite Decimal from an int, float (via its shortest repr), Decimal or numeric string."""
    if isinstance(value, bool):
        raise MappingError(f"{where} must be a number, got the boolean {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            # Decimal(str(x)), not Decimal(x): 0.65 means 0.65, not 0.65000000000000002220...
            result = Decimal(str(value))
        elif isinstance(value, str):
            result = Decimal(value.strip())
        else:
            raise MappingError(f"{where} must be a number, got {type(value).__name__} {value!r}")
    except InvalidOperation as exc:
        raise MappingError(f"{where} must be a number, got {value!r}") from exc
    if not result.is_finite():
        raise MappingError(f"{where} must be a finite number, got {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class ParamRule:
    """One method parameter: its kind ("decimal", "int" or "choice"), range or choices, and default."""

    name: str
    kind: str
    default: ParamValue | None
    low: Decimal | None = None
    high: Decimal | None = None
    is_low_open: bool = False
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            kind = "an integer" if self.kind == "int" else "a number"
            return f"{kind} from {self.low} to {self.high}"
        if self.low is not None:
            return f"a number greater than {self.low}" if self.is_low_open else f"a number >= {self.low}"
        return "a finite number"

    def parse(self, value: object, method: str) -> ParamValue:
        """Validate `value` for this parameter of `method`; the error names both and the allowed range."""
        where = f"parameter {self.name!r} of method {method!r}"
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise MappingError(f"{where} must be {self.allowed()}, got {value!r}")
        number = to_decimal(value, where=where)
        too_low = self.low is not None and (number <= self.low if self.is_low_open else number < self.low)
        too_high = self.high is not None and number > self.high
        if too_low or too_high:
            raise MappingError(f"{where} must be {self.allowed()}, got {value!r}")
        if self.kind == "int":
            if number != number.to_integral_value():
                raise MappingError(f"{where} must be {self.allowed()}, got {value!r}")
            return int(number)
        return number


def _decimal(name: str, low: str | None, high: str | None, default: str | None) -> ParamRule:
    return ParamRule(
        name=name,
        kind="decimal",
        default=None if default is None else Decimal(default),
        low=None if low is None else Decimal(low),
        high=None if high is None else Decimal(high),
    )


def _int(name: str, low: int, high: int, default: int) -> ParamRule:
    return ParamRule(name=name, kind="int", default=default, low=Decimal(low), high=Decimal(high))


_CLAMP = {"minimum": _decimal("minimum", None, None, None), "maximum": _decimal("maximum", None, None, None)}

#: Method name -> its parameters. Sources: Canvas Outcomes calculation methods (most_recent, highest,
#: decaying_average [here `weighted_recent`], n_mastery); Marzano, "Formative Assessment & Standards-Based
#: Grading" (2010), for the power law; the rest are the plain statistics their names say.
PARAM_RULES: Final[Mapping[str, Mapping[str, ParamRule]]] = MappingProxyType(
    {
        "most_recent": {},
        "highest": {},
        "mean": {},
        "median": {},
        "mode": {"tie": ParamRule("tie", "choice", "highest", choices=("highest", "most_recent"))},
        "decaying_average": {"weight": _decimal("weight", "0.50", "0.99", "0.65")},
        "weighted_recent": {"weight": _decimal("weight", "0.01", "0.99", "0.65")},
        "power_law": {
            "floor": ParamRule("floor", "decimal", Decimal("0.1"), low=Decimal(0), is_low_open=True),
            **_CLAMP,
        },
        "linear_trend": dict(_CLAMP),
        # Defaults n=3 and mastery=3 (Proficient on a 1-4 scale); policies pass their own mastery level.
        "n_mastery": {"n": _int("n", 1, 10, 3), "mastery": _decimal("mastery", None, None, "3")},
        "mean_of_recent": {"n": _int("n", 1, 100, 3)},
    }
)
