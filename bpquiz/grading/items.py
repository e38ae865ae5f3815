"""Marking one student's answers against their key variant, item by item.

Each asked quantity becomes an Item with a status, a credit in [0, 1] and feedback that says why.
After the plain comparison, every wrong item is offered to the `markers` in turn: follow-through
credit and named misconceptions (bpquiz.grading.marking) plug in there without touching this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from bpquiz.errors import BpquizError
from bpquiz.exercises.key import KeyQuantity, KeyVariant
from bpquiz.files import printable
from bpquiz.grading.compare import Comparison, Model, right_to_fewer_digits
from bpquiz.grading.readers.numbers import JsonNumber, NotANumber, parse_number, shown
from bpquiz.grading.readers.sheet import AnswerSheet, Identity
from bpquiz.maths.rounding import Mode, Rounding


class Status(StrEnum):
    CORRECT = "correct"
    FOLLOW_THROUGH = "follow_through"
    """Wrong against the key, right from the student's own earlier answers (a later issue)."""
    WRONG = "wrong"
    MISSING = "missing"
    INVALID = "invalid"


class SheetError(BpquizError):
    """An answers file that is well-formed but can't be graded against the keys."""


class Item(NamedTuple):
    """One asked quantity, marked. `credit` is the share of `points` earned.

    A NamedTuple rather than a frozen dataclass: just as immutable, but a class of 10,000 students
    makes half a million of these, and a NamedTuple is 3× cheaper to build and to send back from
    a worker process.
    """

    id: str
    status: Status
    credit: float
    points: float
    expected: float
    given: float | str | None
    """The number read from the answer; what was typed (as text) when invalid; None when missing."""
    misconception: str | None = None
    """The code of a catalogued mistake the answer matches (filled by a marker)."""
    feedback: str = ""
    typed: str | None = None
    """The answer exactly as the student typed it ("0,353"), for showing it back; None when
    missing."""
    symbol: str = ""
    """For the terminal table; not part of the JSON report."""

    @property
    def score(self) -> float:
        return self.credit * self.points

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": str(self.status),
            "credit": self.credit,
            "points": self.points,
            "expected": self.expected,
            "given": self.given,
            "typed": self.typed,
            "misconception": self.misconception,
            "feedback": self.feedback,
        }


@dataclass(frozen=True)
class Result:
    """One student's marked answers."""

    student: str
    variant: str
    items: tuple[Item, ...]
    exam: str = ""
    file: str = ""
    rule: Rounding = field(default_factory=Rounding, compare=False)
    """The rounding rule answers were expected to follow, for showing expected values."""
    delta_sign: str = "gradient"
    """The sheet's convention for δ (bpquiz.maths.spec.DELTA_SIGNS), for explaining mistakes."""
    problems: tuple[str, ...] = field(default=(), compare=False)
    """What was wrong with the file although it was graded (an unknown quantity id): reported as
    errors of the file, so a misspelt answer is never silently lost."""
    identity: Identity | None = field(default=None, compare=False)
    """Who an LMS says this is (a name, an email, a student number), for the gradebook."""

    # Cached: the items never change, and reports ask each result for these several times (for
    # a class of 10,000, summing them again took a second).
    @cached_property
    def score(self) -> float:
        return round(math.fsum(i.score for i in self.items), 9)

    @cached_property
    def max_score(self) -> float:
        return round(math.fsum(i.points for i in self.items), 9)

    @cached_property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0

    def ids(self) -> set[str]:
        """Every id a roster may list this student by, casefolded: the student, and what an LMS
        said of them (an email, a student number, its user id)."""
        ids = {self.student, *(self.identity.ids() if self.identity is not None else ())}
        return {i.casefold() for i in ids}

    def to_dict(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "variant": self.variant,
            "score": self.score,
            "max_score": self.max_score,
            "items": [i.to_dict() for i in self.items],
        }


@dataclass(frozen=True)
class GradingError:
    file: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


@dataclass(frozen=True)
class GradingNote:
    """Something a teacher should know that costs no student anything (an LMS's extra column, an
    attempt still in progress): reported, and no reason for exit code 1."""

    file: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "note": self.note}


Outcome = Result | GradingError | GradingNote
"""What grading one file or spreadsheet row comes to."""


@dataclass(frozen=True)
class Enrolled:
    """A student on the class roster: the gradebook lists them whether they handed in or not."""

    id: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...] = ()
    errors: tuple[GradingError, ...] = ()
    notes: tuple[GradingNote, ...] = ()
    roster: tuple[Enrolled, ...] = ()
    """The class, in roster order (empty: no roster); bpquiz.grading.gradebook matches it."""

    @property
    def ok(self) -> bool:
        """Every file was graded (the CLI's exit code 0)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "errors": [e.to_dict() for e in self.errors],
            "notes": [n.to_dict() for n in self.notes],
        }


@dataclass(frozen=True)
class Context:
    """What a marker may look at when it re-marks one wrong item."""

    variant: KeyVariant
    """The key variant; `variant.solution` rebuilds the maths (once) for recomputing quantities."""
    given: Mapping[str, float]
    """Every valid number the student gave, by quantity id."""
    graded: Mapping[str, Item]
    """The items marked so far, in teaching order (so earlier steps are already final)."""
    comparison: Comparison
    rule: Rounding
    """The rounding rule answers are expected to follow."""


Marker = Callable[[Item, Context], Item]
"""Re-marks a wrong item, e.g. as follow_through with credit, or with a misconception code; returns
the item unchanged when it doesn't apply. Must be a module-level function so workers can use it."""


# --- one item, one sheet -----------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _written(rule: Rounding, value: float) -> str:
    """The expected value as the sheet writes it; cached because Decimal rounding is slow and a
    class repeats the same few hundred values in many students' feedback."""
    return rule.format(value)


def _units(mode: Mode, n: int) -> str:
    if mode is Mode.SIGFIGS:
        return f"{n} significant figure{'s' * (n != 1)}"
    return f"{n} decimal place{'s' * (n != 1)}"


def as_typed(text: str) -> str:
    """An answer as the student typed it, for a sentence: its digits and decimal comma as typed,
    a leading minus written as the sheet writes one (−)."""
    text = text.strip()
    return "−" + text[1:].lstrip() if text[:1] == "-" else text


def mark_item(q: KeyQuantity, raw: Any, comparison: Comparison, rule: Rounding) -> Item:
    """One answer against one key quantity, without any follow-through."""
    # Items are built directly, not with dataclasses.replace(): this runs 50 times per file.
    if raw is None:
        return Item(
            q.id, Status.MISSING, 0.0, q.points, q.value, None, None, "no answer", None, q.symbol
        )
    if type(raw) is JsonNumber:
        typed = str(raw)  # a JSON literal: nothing around it to strip
    else:
        typed = raw.strip() if isinstance(raw, str) else shown(raw)
    if type(raw) is JsonNumber:
        # Fast path for the common case: a JSON number literal is always valid float() syntax
        # (NaN and Infinity, which json also lets through, are never accepted below).
        given = float(raw)
        if (
            # The key model inlined (it is most of the work): the key's value and tol are
            # finite, so a NaN or infinite answer fails this test, exactly as within_tolerance.
            abs(given - q.value) <= q.tol_abs
            if comparison.model is Model.KEY
            else comparison.accepts(given, q.value, q.tol_abs)
        ):
            return Item(
                q.id, Status.CORRECT, 1.0, q.points, q.value, given, None, "", typed, q.symbol
            )
    try:
        number = parse_number(raw)
    except NotANumber as exc:
        text = raw[:40] if isinstance(raw, str) else shown(raw)
        return Item(
            q.id, Status.INVALID, 0.0, q.points, q.value, text, None, str(exc), typed, q.symbol
        )
    given = number.value
    if comparison.accepts(given, q.value, q.tol_abs):
        return Item(q.id, Status.CORRECT, 1.0, q.points, q.value, given, None, "", typed, q.symbol)
    typed_digits = number.digits(rule.mode)
    if right_to_fewer_digits(given, q.value, typed_digits, rule):
        feedback = (
            f"right to {_units(rule.mode, typed_digits)}, but the sheet asks for "
            f"{_units(rule.mode, rule.digits)}: {_written(rule, q.value)}"
        )
    else:
        allowance = comparison.allowance(q.value, q.tol_abs)
        feedback = (
            f"expected {_written(rule, q.value)}; {as_typed(typed)} is off by "
            f"{abs(given - q.value):.2g} (accepted: ±{allowance:.2g})"
        )
    return Item(q.id, Status.WRONG, 0.0, q.points, q.value, given, None, feedback, typed, q.symbol)


def student_of(sheet: AnswerSheet, variant: KeyVariant) -> str:
    """Who this is: the LMS's student; else the roster id the variant was drawn for, else the
    file's, else the file name (any of them made printable: a file name may hold an ESC sequence
    or a line break)."""
    if sheet.identity is not None:
        return printable(sheet.student)
    if variant.student is not None:
        if sheet.student and sheet.student != variant.student:
            raise SheetError(
                f'the file says student "{sheet.student}", but variant {variant.code} was drawn '
                f'for "{variant.student}": check who handed it in, then fix "student"'
            )
        return printable(variant.student)
    return printable(sheet.student or Path(sheet.source).stem)


def grade_sheet(
    sheet: AnswerSheet,
    variant: KeyVariant,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
) -> Result:
    """Mark every asked quantity of `variant`. An id the variant doesn't ask is no reason to lose
    the other answers: they are graded, and the result's `problems` name it."""
    comparison = comparison or Comparison()
    asked = variant.asked
    answers = sheet.answers
    problems: tuple[str, ...] = ()
    if not answers.keys() <= variant.asked_ids:
        problems = (unknown_ids(answers, variant),)
    student = student_of(sheet, variant)
    rule = comparison.rule(variant.rounding)
    if not markers:
        get = answers.get
        items = tuple([mark_item(q, get(q.id), comparison, rule) for q in asked])
    else:
        graded: dict[str, Item] = {}
        given: dict[str, float] = {}
        for q in asked:
            item = mark_item(q, answers.get(q.id), comparison, rule)
            if item.status is not Status.INVALID and isinstance(item.given, float):
                given[q.id] = item.given
            if item.status is Status.WRONG:
                context = Context(variant, given, graded, comparison, rule)
                for marker in markers:
                    item = marker(item, context)
            graded[q.id] = item
        items = tuple(graded.values())
    return Result(
        student,
        variant.code,
        items,
        variant.exam,
        sheet.source,
        rule,
        variant.delta_sign,
        problems,
        sheet.identity,
    )


def unknown_ids(answers: Mapping[str, Any], variant: KeyVariant) -> str:
    """The message for answers under ids the variant doesn't ask."""
    asked = variant.asked
    unknown = [k for k in answers if k not in variant.asked_ids]
    listed = ", ".join(_short(k) for k in unknown[:10]) + (" …" if len(unknown) > 10 else "")
    return (
        f"unknown quantity id{'s' * (len(unknown) != 1)} {listed} "
        f"(variant {variant.code} asks for {asked[0].id if asked else 'nothing'} … "
        f"{asked[-1].id if asked else ''}; see the answers template): "
        f"{'they were' if len(unknown) != 1 else 'it was'} not graded, the other answers were"
    )


def _short(text: str) -> str:
    return shown(text, 30)
