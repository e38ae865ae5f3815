"""The rounding rule a sheet states, and the tolerance it implies for each answer.

This is the one home of the tolerance rule: the unit of the last digit a student writes (`unit`),
how far an answer rounded to that digit may sit from a value (`ALLOWANCE_UNITS`), and the key's
tolerance of a quantity (`Rounding.tolerance`). Grading's comparison models use the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bpquiz.errors import OptionError

DEFAULT_DECIMALS = 4
FLOOR_UNITS = 0.1
"""Added to every tolerance, in units of the last asked digit, so floating-point noise never fails a
right answer."""
ALLOWANCE_UNITS = 0.5 + FLOOR_UNITS
"""How far an answer rounded to a digit may sit from a value, in units of that digit: half a unit
for the rounding, plus the floor."""


class Mode(StrEnum):
    DECIMALS = "decimals"
    SIGFIGS = "sigfigs"


def unit(mode: Mode, digits: int, value: float) -> float:
    """The size of one step in the last of `digits` decimals or significant figures of `value`."""
    if mode is Mode.DECIMALS or value == 0 or not math.isfinite(value):
        return 10.0**-digits
    return 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)


@dataclass(frozen=True)
class Rounding:
    mode: Mode = Mode.DECIMALS
    digits: int = DEFAULT_DECIMALS

    def __post_init__(self) -> None:
        if not 1 <= self.digits <= 10:
            raise ValueError(f"rounding digits must be 1 to 10, got {self.digits}")

    def unit(self, value: float) -> float:
        """The size of one step in the last digit a student writes for `value`."""
        return unit(self.mode, self.digits, value)

    def allowance(self, value: float) -> float:
        """How far an answer written to this rule may sit from `value`."""
        return ALLOWANCE_UNITS * self.unit(value)

    def round(self, value: float) -> float:
        """Round half away from zero, as on a calculator (Python's round() rounds half to even)."""
        if not math.isfinite(value) or value == 0:
            return value
        exponent = Decimal(repr(self.unit(value))).normalize()
        return float(Decimal(repr(value)).quantize(exponent, rounding=ROUND_HALF_UP))

    def format(self, value: float) -> str:
        """The value written to this rule (typographic minus)."""
        rounded = self.round(value)
        if self.mode is Mode.DECIMALS:
            text = f"{rounded:.{self.digits}f}"
        else:
            places = (
                max(0, -math.floor(math.log10(abs(rounded))) + self.digits - 1) if rounded else 0
            )
            text = f"{rounded:.{places}f}"
        if float(text) == 0:
            text = text.lstrip("-")
        return text.replace("-", "−")

    def describe(self) -> str:
        if self.mode is Mode.DECIMALS:
            return f"{self.digits} decimal places"
        return f"{self.digits} significant figures"

    def tolerance(self, exact: float, rounded_path: float) -> float:
        """Accept the exact value, the rounded-intermediates value, and nothing looser than needed."""
        step = self.unit(exact)
        return max(abs(rounded_path - exact), step / 2) + FLOOR_UNITS * step

    def to_dict(self) -> dict[str, object]:
        return {"mode": str(self.mode), "digits": self.digits}


def rule(decimals: int | None = None, sigfigs: int | None = None) -> Rounding:
    """The rounding rule of the options --decimals N or --sigfigs N (default: 4 decimals)."""
    if decimals is not None and sigfigs is not None:
        raise OptionError("give either --decimals or --sigfigs, not both")
    try:
        if sigfigs is not None:
            return Rounding(Mode.SIGFIGS, sigfigs)
        return Rounding(Mode.DECIMALS, DEFAULT_DECIMALS if decimals is None else decimals)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
