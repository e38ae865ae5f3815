"""A worked step, as a teacher writes it: symbol = formula = numbers substituted = result.

`Solution.step` makes them; the worked solution, the feedback sheets and `bpquiz solve` all write
a step through `Step.working` and `Step.note`, so it reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE = "({} from unrounded values)"
"""Beside a worked result that unrounded values would give otherwise (both are accepted)."""


@dataclass(frozen=True)
class Step:
    id: str
    symbol: str
    formula: str
    substituted: str
    """The formula with the numbers put in: the rounded results of the steps before, as printed."""
    result: str
    """What those numbers give, rounded as the sheet asks: every line checks on a calculator."""
    exact: str
    """The result from unrounded values (the key's value), rounded: it may differ in the last
    digit."""

    @property
    def note(self) -> str:
        """'(0.0066 from unrounded values)' where the unrounded result differs, else ''."""
        return "" if self.exact == self.result else NOTE.format(self.exact)

    @property
    def numbers(self) -> str:
        """The substituted line, or '' where it is the result itself (a single number)."""
        return self.substituted if self.substituted != self.result else ""

    @property
    def working(self) -> str:
        """'= numbers = result', or '= result' where the numbers are the result."""
        return (f"= {self.numbers} " if self.numbers else "") + f"= {self.result}"

    @property
    def equation(self) -> str:
        """The general formula: 'symbol = formula'."""
        return f"{self.symbol} = {self.formula}"
