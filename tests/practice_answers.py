"""Random answer sets for the practice page's differential test (tests/test_practice_browser.py).

Each set is what a student might type into one variant's boxes: a chain of their own values
(right; rounded another way; with a slip, a catalogued mistake or an output claimed equal to its
target somewhere, and everything after it worked out consistently from their own answers), then
written in the ways people type (a decimal comma, a Unicode or ASCII minus, an exponent, fewer or
more digits), with some boxes left blank or filled with text that is not a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from bpquiz.maths.ids import given_id
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.rounding import Rounding
from bpquiz.maths.solution import Quantity, Solution

GARBAGE = (
    "abc",
    "1/2",
    "0.5.5",
    "NaN",
    "-inf",
    "∞",
    "1e400",
    "0,5,5",
    "1.2,3",
    "−",
    "--1",
    "½",
    "0x1A",
    "1_000",
    "٣",
    "1 000",
    "e5",
    ".",
    "0.5e",
    "1,234.5",
    "seven",
    "9" * 70,
    '"0.5"',
    "0.5\u00a0",
)

Change = Callable[[Quantity, dict[str, float]], float | None]
"""What a student writes instead of their own consistent value at one quantity (None: no change)."""


@dataclass(frozen=True)
class AnswerSet:
    answers: dict[str, str | None]
    """By asked id: the text typed, or None for a blank box."""
    story: str
    """How the set was made, for a failure's message."""


def chain(solution: Solution, rule: Rounding, change: Change) -> dict[str, float]:
    """Every computed quantity worked out from the student's own values, rounded as the sheet
    asks, with `change` applied where it says so: a slip or a mistake, carried forward."""
    env = _Ahead(solution, rule)
    env.update(solution.givens())
    for q in solution.computed():
        try:
            changed = change(q, env)
            own = changed if changed is not None else solution.recompute_rounded(q.id, env, rule)
        except ArithmeticError:  # the log of a negative output: the student writes the key's
            own = solution.values[q.id]
        env[q.id] = own
    return env


class _Ahead(dict[str, float]):
    """Values so far; a later one (a hidden δ through the updated weights) worked out when asked."""

    def __init__(self, solution: Solution, rule: Rounding) -> None:
        super().__init__()
        self.solution, self.rule = solution, rule

    def __missing__(self, qid: str) -> float:
        return self.solution.recompute_rounded(qid, self, self.rule)


def _unit(rule: Rounding, value: float) -> Fraction:
    return Fraction(rule.unit(value)).limit_denominator(10**12)


class Writer:
    """Turns values into typed text, in the many ways people type numbers."""

    def __init__(self, rng: np.random.Generator, rule: Rounding) -> None:
        self.rng = rng
        self.rule = rule

    def plain(self, value: float | Fraction, digits: int | None = None) -> str:
        rule = self.rule if digits is None else Rounding(self.rule.mode, digits)
        return rule.format(value)

    def styled(self, text: str) -> str:
        """One way of typing `text` (the sheet's rounding, typographic minus)."""
        style = self.rng.integers(10)
        ascii_text = text.replace("−", "-")
        match style:
            case 0:
                return ascii_text
            case 1:
                return text.replace(".", ",")
            case 2:
                return text.replace("−", "–")
            case 3:
                return ascii_text.replace("-", "- ")
            case 4:
                return ascii_text if ascii_text.startswith("-") else "+" + ascii_text
            case 5:
                return ascii_text.replace("0.", ".", 1) if "0." in ascii_text[:3] else ascii_text
            case 6:
                return f"{float(ascii_text):e}" if ascii_text not in ("0", "-0") else ascii_text
            case 7:
                return f"  {text} "
        return text

    def rounding_variant(self, value: float, exact: float) -> str:
        """A right answer written another way: unrounded, to more or fewer digits, one unit off."""
        digits = self.rule.digits
        match self.rng.integers(5):
            case 0:
                return self.plain(exact, min(digits + 2, 10))
            case 1:
                return self.plain(exact, digits - 1) if digits > 1 else self.plain(exact)
            case 2:
                step = _unit(self.rule, value) * int(self.rng.choice([-1, 1]))
                return self.plain(Fraction(value).limit_denominator(10**12) + step)
            case 3:
                return self.plain(exact)
        return self.plain(value)


def answer_sets(
    solution: Solution, rule: Rounding, asked: list[str], count: int, seed: int
) -> list[AnswerSet]:
    """`count` random answer sets for one variant (reproducible from `seed`)."""
    rng = np.random.default_rng(seed)
    writer = Writer(rng, rule)
    exact = solution.exact_values()
    with_mistakes = [
        (qid, m.code, e)
        for qid in asked
        for m, exprs in solution.mistakes_at(qid)
        for e in range(len(exprs))
    ]
    codes = sorted({code for _, code, _ in with_mistakes})
    outputs = [
        q for q in solution.computed() if q.kind == "a" and q.layer == solution.problem.depth
    ]
    # Where the other rounding of the exact value is accepted too (0.0066 where the key's
    # rounded path has 0.0065): a careful student who carries it on must not lose marks.
    path = solution.rounded_path(rule)
    other_roundings = {}
    for qid in asked:
        right, rounded = float(exact[qid]), path[qid]
        other = rounded + (-1 if rounded > exact[qid] else 1) * _unit(rule, right)
        if abs(float(other) - right) <= rule.tolerance(right, rounded):
            other_roundings[qid] = float(other)
    sets = []
    for n in range(count):
        kinds = ["right", "rounding", "own rounding", "slip", "mistake", "systematic", "gaming"]
        kind = [*kinds, "mistake", "random"][n % 9]
        story = [kind]
        change: Change = lambda q, env: None  # noqa: E731
        picked: list[tuple[str, str, int]] = []
        if kind == "slip":
            at = str(rng.choice(asked))
            factor = float(rng.choice([-1.0, 0.5, 1.5, 3.0]))
            story.append(f"slip at {at} ×{factor}")

            def change(q: Quantity, env: dict[str, float], at: str = at, f: float = factor):
                if q.id != at:
                    return None
                return rule.round(f * solution.recompute_rounded(q.id, env, rule) + 0.01)

        elif kind == "own rounding" and other_roundings:
            at = str(rng.choice(list(other_roundings)))
            story.append(f"the other accepted rounding at {at}")

            def change(q: Quantity, env: dict[str, float], at: str = at):
                return other_roundings[at] if q.id == at else None

        elif kind == "mistake" and with_mistakes:
            picked = [with_mistakes[int(rng.integers(len(with_mistakes)))]]
            if rng.random() < 0.3:  # sometimes a second mistake further on
                picked.append(with_mistakes[int(rng.integers(len(with_mistakes)))])
        elif kind == "systematic" and codes:
            # One misconception wherever it can be made (every update the wrong way).
            code = str(rng.choice(codes))
            picked = [(qid, c, e) for qid, c, e in with_mistakes if c == code and e == 0]
        elif kind == "gaming" and outputs:
            out = outputs[int(rng.integers(len(outputs)))]
            story.append(f"{out.id} = its target")

            def change(q: Quantity, env: dict[str, float], out: Quantity = out):
                if q.id != out.id:
                    return None
                batch = solution.problem.examples > 1
                return env[given_id("t", q.neuron or 1, q.example or 1, batch)]

        if picked:
            story += [f"{code} at {qid}" for qid, code, _ in picked]

            def change(q: Quantity, env: dict[str, float], picked=picked):
                for qid, code, e in picked:
                    if q.id == qid:
                        value = solution.mistaken(qid, CATALOGUE[code])[e].eval(env)
                        return rule.round(value) if np.isfinite(value) else None
                return None

        values = chain(solution, rule, change)
        answers: dict[str, str | None] = {}
        for qid in asked:
            if kind == "random":
                text = writer.plain(float(exact[qid]) * float(rng.uniform(-2, 2)))
            elif kind == "rounding" and rng.random() < 0.4:
                text = writer.rounding_variant(values[qid], float(exact[qid]))
            else:
                text = writer.plain(values[qid])
            answers[qid] = text
        blanks, garbage, styles = rng.random(3) * [0.4, 0.25, 1.0]
        for qid in asked:
            roll = rng.random()
            if roll < blanks:
                answers[qid] = None if rng.random() < 0.8 else "   "
            elif roll < blanks + garbage:
                answers[qid] = str(rng.choice(GARBAGE))
            elif rng.random() < styles and answers[qid] is not None:
                answers[qid] = writer.styled(str(answers[qid]))
        story.append(f"blanks {blanks:.2f}, garbage {garbage:.2f}, styles {styles:.2f}")
        sets.append(AnswerSet(answers, "; ".join(story)))
    return sets
