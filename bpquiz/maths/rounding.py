"""The rounding rule a sheet states, and the tolerance it implies for each answer.

This is the one home of the tolerance rule: the unit of the last digit a student writes (`unit`),
how far an answer rounded to that digit may sit from a value (`ALLOWANCE_UNITS`), and the key's
tolerance of a quantity (`Rounding.tolerance`). Grading's comparison models use the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from bpquiz.errors import OptionError
from bpquiz.maths.exact import decimal_text, exact_of, exponent, round_half_away

DEFAULT_DECIMALS = 4
FLOOR_UNITS = 0.1
"""Added to every tolerance, in units of the last asked digit, so floating-point noise never fails a
right answer."""
HUGE = 10**15
"""From here on a number is written in scientific notation."""
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

    def place(self, value: Fraction) -> int:
        """The power of ten of the last digit a student writes for `value` (exact)."""
        if self.mode is Mode.DECIMALS or value == 0:
            return -self.digits
        return exponent(value) - self.digits + 1

    def round_exact(self, value: Fraction) -> Fraction:
        """Round half away from zero, as on a calculator, exactly."""
        return round_half_away(value, self.place(value))

    def round(self, value: float) -> float:
        """The printed decimal a float stands for, rounded half away from zero as on a calculator
        (Python's round() rounds half to even), as a float."""
        if not math.isfinite(value) or value == 0:
            return value
        return float(self.round_exact(exact_of(value)))

    def format(self, value: float | Fraction) -> str:
        """The value written to this rule (typographic minus); a float stands for its printed
        decimal (bpquiz.maths.exact.exact_of)."""
        rounded = self.round_exact(value if isinstance(value, Fraction) else exact_of(value))
        if abs(rounded) >= HUGE:  # only a student's wild number: written as a calculator would
            return f"{float(rounded):.6g}".replace("-", "−")
        if self.mode is Mode.DECIMALS:
            places = self.digits
        else:
            places = max(0, -exponent(rounded) + self.digits - 1) if rounded else 0
        return decimal_text(rounded, places).replace("-", "−")

    def describe(self) -> str:
        if self.mode is Mode.DECIMALS:
            return f"{self.digits} decimal places"
        return f"{self.digits} significant figures"

    def tolerance(self, exact: float, rounded_path: float | Fraction) -> float:
        """Accept the exact value, the rounded-intermediates value, and nothing looser than needed."""
        step = self.unit(exact)
        return max(abs(float(rounded_path) - exact), step / 2) + FLOOR_UNITS * step

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
        raise OptionError(f"--{'sigfigs' if sigfigs is not None else 'decimals'}: {exc}") from None
