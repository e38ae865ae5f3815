"""Is a submitted number right? One small pure function per comparison model.

Every function takes the submitted value first and the true value second, and every boundary is
inclusive: a difference exactly equal to the allowance passes. A NaN or an infinity on either side is
never right (the grader never produces them, so one showing up means something went wrong).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bpquiz.rounding import DEFAULT_DECIMALS, FLOOR_UNITS, Mode, Rounding

DEFAULT_ATOL = 0.0
"""--rtol alone means a purely relative allowance."""
DEFAULT_RTOL = 0.0
"""--atol alone means a purely absolute allowance."""
DEFAULT_SIGFIGS = 4
DIGIT_SLACK = 0.5 + FLOOR_UNITS
"""Allowance of the digit models, in units of the last digit: half a unit for the student's
rounding, plus the key's floor for floating-point noise (so --decimals 4 accepts what the key
would for a value without rounding-path drift)."""


class Model(StrEnum):
    KEY = "key"
    """Each quantity's own tol.abs from the answer key (the default)."""
    TOLERANCE = "tolerance"
    """--atol / --rtol: |given − true| ≤ atol + rtol·|true|."""
    SIGFIGS = "sigfigs"
    DECIMALS = "decimals"


def within_tolerance(
    given: float, true: float, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> bool:
    """|given − true| ≤ atol + rtol·|true| (numpy.isclose's rule, not symmetric in the two)."""
    if not (math.isfinite(given) and math.isfinite(true)):
        return False
    return abs(given - true) <= atol + rtol * abs(true)


def digit_unit(mode: Mode, digits: int, true: float) -> float:
    """One unit in the last of `digits` decimals or significant figures of `true`."""
    if mode is Mode.DECIMALS or true == 0 or not math.isfinite(true):
        return 10.0**-digits
    return 10.0 ** (math.floor(math.log10(abs(true))) - digits + 1)


def within_sigfigs(given: float, true: float, digits: int = DEFAULT_SIGFIGS) -> bool:
    """Right to `digits` significant figures of the true value (±DIGIT_SLACK units of the last)."""
    return within_tolerance(given, true, atol=DIGIT_SLACK * digit_unit(Mode.SIGFIGS, digits, true))


def within_decimals(given: float, true: float, digits: int = DEFAULT_DECIMALS) -> bool:
    """Right to `digits` decimal places (±DIGIT_SLACK units of the last)."""
    return within_tolerance(given, true, atol=DIGIT_SLACK * digit_unit(Mode.DECIMALS, digits, true))


def right_to_fewer_digits(given: float, true: float, typed: int, rule: Rounding) -> bool:
    """The answer has `typed` digits (counted as `rule` counts them), fewer than the rule asks,
    and is right to those digits: worth saying so instead of a bare 'wrong'."""
    if typed >= rule.digits or typed < 0:
        return False
    unit = digit_unit(rule.mode, typed, true)
    return within_tolerance(given, true, atol=DIGIT_SLACK * unit)


@dataclass(frozen=True)
class Comparison:
    """The comparison model chosen for a grading run, with its parameters."""

    model: Model = Model.KEY
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    digits: int = 0
    """For SIGFIGS and DECIMALS."""

    def __post_init__(self) -> None:
        if self.model in (Model.SIGFIGS, Model.DECIMALS) and not 1 <= self.digits <= 10:
            raise ValueError(f"digits must be 1 to 10, got {self.digits}")
        if not (math.isfinite(self.atol) and math.isfinite(self.rtol)):
            raise ValueError("tolerances must be finite numbers")
        if self.atol < 0 or self.rtol < 0:
            raise ValueError("tolerances must not be negative")

    def accepts(self, given: float, true: float, key_tol: float) -> bool:
        """Is `given` right for a quantity whose true value and key tolerance are these?"""
        match self.model:
            case Model.KEY:
                return within_tolerance(given, true, atol=key_tol)
            case Model.TOLERANCE:
                return within_tolerance(given, true, self.atol, self.rtol)
            case Model.SIGFIGS:
                return within_sigfigs(given, true, self.digits)
            case Model.DECIMALS:
                return within_decimals(given, true, self.digits)
        raise AssertionError(self.model)  # pragma: no cover - Model is closed

    def allowance(self, true: float, key_tol: float) -> float:
        """The largest accepted |given − true| for this quantity, for feedback."""
        match self.model:
            case Model.KEY:
                return key_tol
            case Model.TOLERANCE:
                return self.atol + self.rtol * abs(true)
            case Model.SIGFIGS:
                return DIGIT_SLACK * digit_unit(Mode.SIGFIGS, self.digits, true)
            case Model.DECIMALS:
                return DIGIT_SLACK * digit_unit(Mode.DECIMALS, self.digits, true)
        raise AssertionError(self.model)  # pragma: no cover

    def rule(self, exam_rule: Rounding) -> Rounding:
        """The rounding rule answers are expected to follow: the override's, else the exam's."""
        if self.model is Model.SIGFIGS:
            return Rounding(Mode.SIGFIGS, self.digits)
        if self.model is Model.DECIMALS:
            return Rounding(Mode.DECIMALS, self.digits)
        return exam_rule

    def describe(self) -> str:
        match self.model:
            case Model.KEY:
                return "the key's tolerance for each quantity"
            case Model.TOLERANCE:
                return f"|given − expected| ≤ {self.atol:g} + {self.rtol:g}·|expected|"
            case Model.SIGFIGS:
                return f"right to {self.digits} significant figures"
            case Model.DECIMALS:
                return f"right to {self.digits} decimal places"
        raise AssertionError(self.model)  # pragma: no cover

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"model": str(self.model)}
        if self.model is Model.TOLERANCE:
            data |= {"atol": self.atol, "rtol": self.rtol}
        elif self.model in (Model.SIGFIGS, Model.DECIMALS):
            data["digits"] = self.digits
        return data
