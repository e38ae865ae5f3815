"""Is a submitted number right? One small pure function per comparison model.

Every function takes the submitted value first and the true value second, and every boundary is
inclusive: a difference exactly equal to the allowance passes. A NaN or an infinity on either side is
never right (the grader never produces them, so one showing up means something went wrong). The
unit of a digit and the allowance around it are the rounding rule's (bpquiz.maths.rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bpquiz.errors import OptionError
from bpquiz.maths.rounding import ALLOWANCE_UNITS, DEFAULT_DECIMALS, Mode, Rounding, unit

DEFAULT_ATOL = 0.0
"""--rtol alone means a purely relative allowance."""
DEFAULT_RTOL = 0.0
"""--atol alone means a purely absolute allowance."""
DEFAULT_SIGFIGS = 4


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


def _digits_allowance(mode: Mode, digits: int, true: float) -> float:
    return ALLOWANCE_UNITS * unit(mode, digits, true)


def within_sigfigs(given: float, true: float, digits: int = DEFAULT_SIGFIGS) -> bool:
    """Right to `digits` significant figures of the true value (± the allowance of the last)."""
    return within_tolerance(given, true, atol=_digits_allowance(Mode.SIGFIGS, digits, true))


def within_decimals(given: float, true: float, digits: int = DEFAULT_DECIMALS) -> bool:
    """Right to `digits` decimal places (± the allowance of the last)."""
    return within_tolerance(given, true, atol=_digits_allowance(Mode.DECIMALS, digits, true))


def right_to_fewer_digits(given: float, true: float, typed: int, rule: Rounding) -> bool:
    """The answer has `typed` digits (counted as `rule` counts them), fewer than the rule asks,
    and is right to those digits: worth saying so instead of a bare 'wrong'."""
    if typed >= rule.digits or typed < 0:
        return False
    return within_tolerance(given, true, atol=_digits_allowance(rule.mode, typed, true))


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
            raise OptionError(f"--{self.model}: digits must be 1 to 10, got {self.digits}")
        if not (math.isfinite(self.atol) and math.isfinite(self.rtol)):
            raise OptionError("--atol/--rtol: tolerances must be finite numbers")
        if self.atol < 0 or self.rtol < 0:
            raise OptionError("--atol/--rtol: tolerances must not be negative")

    @classmethod
    def from_options(
        cls,
        atol: float | None = None,
        rtol: float | None = None,
        sigfigs: int | None = None,
        decimals: int | None = None,
    ) -> Comparison:
        """The model the grading options ask for: at most one of --atol/--rtol, --sigfigs and
        --decimals; none means the key's own tolerances."""
        chosen = [
            option
            for option, value in [
                ("--atol/--rtol", atol if atol is not None else rtol),
                ("--sigfigs", sigfigs),
                ("--decimals", decimals),
            ]
            if value is not None
        ]
        if len(chosen) > 1:
            raise OptionError(f"choose one way to compare: {' or '.join(chosen)}")
        if sigfigs is not None:
            return cls(Model.SIGFIGS, digits=sigfigs)
        if decimals is not None:
            return cls(Model.DECIMALS, digits=decimals)
        if atol is not None or rtol is not None:
            return cls(Model.TOLERANCE, atol=atol or 0.0, rtol=rtol or 0.0)
        return cls()

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
                return _digits_allowance(Mode.SIGFIGS, self.digits, true)
            case Model.DECIMALS:
                return _digits_allowance(Mode.DECIMALS, self.digits, true)
        raise AssertionError(self.model)  # pragma: no cover

    def rule(self, exam_rule: Rounding) -> Rounding:
        """The rounding rule answers are expected to follow: the override's, else the exam's."""
        if self.model is Model.SIGFIGS:
            return Rounding(Mode.SIGFIGS, self.digits)
        if self.model is Model.DECIMALS:
            return Rounding(Mode.DECIMALS, self.digits)
        return exam_rule
