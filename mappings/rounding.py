"""Named rounding rules for grade arithmetic (half-up, half-even, truncate) on Decimal values."""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from mappings.errors import MappingError

__all__ = ["ARITHMETIC_CONTEXT", "Rounding", "parse_rounding", "quantize"]


class Rounding(StrEnum):
    """A named rounding rule; the value is the word used in policy files."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    TRUNCATE = "truncate"


#: The one context every calculation in `mappings` runs in, so the caller's thread context
#: (which anyone may change) can never alter a grade. 28 digits hold every intermediate value
#: exactly for realistic series (scores with <= 2 decimals, weights with <= 2 decimals, <= 10 steps).
ARITHMETIC_CONTEXT: Final = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_DECIMAL_MODE: Final = MappingProxyType(
    {
        Rounding.HALF_UP: decimal.ROUND_HALF_UP,
        Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
        Rounding.TRUNCATE: decimal.ROUND_DOWN,
    }
)

# Exponents for 0..10 places, built once: quantize is on the hot path of every calculation.
_EXPONENTS: Final = tuple(Decimal(1).scaleb(-places) for places in range(11))
MAX_PLACES: Final = len(_EXPONENTS) - 1


def decimal_mode(rounding: Rounding) -> str:
    """The `decimal` module's rounding constant for a named rule."""
    return _DECIMAL_MODE[rounding]


def exponent_for(places: int) -> Decimal:
    """The quantize exponent for `places` decimal places (0-10)."""
    if not 0 <= places <= MAX_PLACES or isinstance(places, bool):
        raise MappingError(f"places must be an integer from 0 to {MAX_PLACES}, got {places!r}")
    return _EXPONENTS[places]


def quantize(value: Decimal, places: int, rounding: Rounding) -> Decimal:
    """Round `value` to `places` decimal places with the named rule (TRUNCATE cuts toward zero)."""
    return value.quantize(exponent_for(places), rounding=_DECIMAL_MODE[rounding], context=ARITHMETIC_CONTEXT)


def parse_rounding(value: object, *, where: str = "rounding") -> Rounding:
    """A `Rounding` from itself or its policy word ("half_up", "half_even", "truncate")."""
    if isinstance(value, Rounding):
        return value
    if isinstance(value, str):
        try:
            return Rounding(value)
        except ValueError:
            pass
    allowed = ", ".join(r.value for r in Rounding)
    raise MappingError(f"{where} must be one of {allowed}, got {value!r}")
