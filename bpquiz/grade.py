"""Marking: one answers file against its key variant, item by item; and a whole class at once.

Each asked quantity becomes an Item with a status, a credit in [0, 1] and feedback that says why.
After the plain comparison, every wrong item is offered to the `markers` in turn: later steps
(follow-through credit, named misconceptions) plug in there without touching this module.

A batch never stops at a broken file: each file is graded or becomes one entry in `errors`.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from bpquiz.answers import (
    AnswersError,
    AnswerSheet,
    JsonNumber,
    NotANumber,
    parse_number,
    read_answers,
    shown,
)
from bpquiz.compare import Comparison, Model, right_to_fewer_digits
from bpquiz.key import KeyIndex, KeyQuantity, KeyVariant
from bpquiz.rounding import Mode, Rounding

PARALLEL_FROM = 400
"""Below this many files a worker pool costs more to start than it saves."""


class Status(StrEnum):
    CORRECT = "correct"
    FOLLOW_THROUGH = "follow_through"
    """Wrong against the key, right from the student's own earlier answers (a later issue)."""
    WRONG = "wrong"
    MISSING = "missing"
    INVALID = "invalid"


class SheetError(ValueError):
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

    @property
    def score(self) -> float:
        return round(math.fsum(i.score for i in self.items), 9)

    @property
    def max_score(self) -> float:
        return round(math.fsum(i.points for i in self.items), 9)

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0

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
class Report:
    results: tuple[Result, ...] = ()
    errors: tuple[GradingError, ...] = ()

    @property
    def ok(self) -> bool:
        """Every file was graded (the CLI's exit code 0)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "errors": [e.to_dict() for e in self.errors],
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


def mark_item(q: KeyQuantity, raw: Any, comparison: Comparison, rule: Rounding) -> Item:
    """One answer against one key quantity, without any follow-through."""
    # Items are built directly, not with dataclasses.replace(): this runs 50 times per file.
    if raw is None:
        return Item(q.id, Status.MISSING, 0.0, q.points, q.value, None, None, "no answer", q.symbol)
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
            return Item(q.id, Status.CORRECT, 1.0, q.points, q.value, given, None, "", q.symbol)
    try:
        number = parse_number(raw)
    except NotANumber as exc:
        typed = raw[:40] if isinstance(raw, str) else shown(raw)
        return Item(q.id, Status.INVALID, 0.0, q.points, q.value, typed, None, str(exc), q.symbol)
    given = number.value
    if comparison.accepts(given, q.value, q.tol_abs):
        return Item(q.id, Status.CORRECT, 1.0, q.points, q.value, given, None, "", q.symbol)
    typed_digits = number.digits(rule.mode)
    if right_to_fewer_digits(given, q.value, typed_digits, rule):
        feedback = (
            f"right to {_units(rule.mode, typed_digits)}, but the sheet asks for "
            f"{_units(rule.mode, rule.digits)}: {_written(rule, q.value)}"
        )
    else:
        allowance = comparison.allowance(q.value, q.tol_abs)
        feedback = (
            f"expected {_written(rule, q.value)}; {number.text} is off by "
            f"{abs(given - q.value):.2g} (accepted: ±{allowance:.2g})"
        )
    return Item(q.id, Status.WRONG, 0.0, q.points, q.value, given, None, feedback, q.symbol)


def student_of(sheet: AnswerSheet, variant: KeyVariant) -> str:
    """Who this is: the roster id the variant was drawn for, else the file's, else the file name."""
    if variant.student is not None:
        if sheet.student and sheet.student != variant.student:
            raise SheetError(
                f'the file says student "{sheet.student}", but variant {variant.code} was drawn '
                f'for "{variant.student}": check who handed it in, then fix "student"'
            )
        return variant.student
    return sheet.student or Path(sheet.source).stem


def grade_sheet(
    sheet: AnswerSheet,
    variant: KeyVariant,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
) -> Result:
    """Mark every asked quantity of `variant` (raises SheetError for ids the key doesn't ask)."""
    comparison = comparison or Comparison()
    asked = variant.asked
    answers = sheet.answers
    if not answers.keys() <= variant.asked_ids:
        unknown = [k for k in answers if k not in variant.asked_ids]
        listed = ", ".join(_short(k) for k in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise SheetError(
            f"unknown quantity id{'s' * (len(unknown) != 1)} {listed} "
            f"(variant {variant.code} asks for {asked[0].id if asked else 'nothing'} … "
            f"{asked[-1].id if asked else ''}; see the answers template)"
        )
    student = student_of(sheet, variant)
    rule = comparison.rule(variant.rounding)
    if not markers:
        get = answers.get
        items = tuple([mark_item(q, get(q.id), comparison, rule) for q in asked])
        return Result(student, variant.code, items, variant.exam, sheet.source, rule)

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
    return Result(student, variant.code, items, variant.exam, sheet.source, rule)


def _short(text: str) -> str:
    return shown(text, 30)


def grade_file(
    path: Path,
    keys: KeyIndex,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
) -> Result:
    """Read, look up and mark one file (raises AnswersError or SheetError)."""
    pdf = path.suffix.lower() == ".pdf"
    if pdf:
        from bpquiz.pdf_answers import read_pdf_answers  # pypdf only when a PDF is graded

        sheet = read_pdf_answers(path)
    else:
        sheet = read_answers(path)
    try:
        variant = keys.find(sheet.variant)
    except LookupError as exc:
        raise SheetError(str(exc)) from None
    if pdf:
        from bpquiz.pdf_answers import check_fields

        check_fields(sheet, [q.id for q in variant.asked])
    return grade_sheet(sheet, variant, comparison, markers)


# --- a batch -------------------------------------------------------------------------------


ANSWER_SUFFIXES = (".json", ".pdf", ".csv")
"""What a folder's answer files end with: answers files, filled fillable sheets, spreadsheets."""


def answer_files(paths: Iterable[Path]) -> tuple[list[Path], list[GradingError]]:
    """The files to grade: files as given, folders' answer files (sorted); problems as errors."""
    files: list[Path] = []
    errors: list[GradingError] = []
    seen: set[Path] = set()

    def add(path: Path, resolved: Path) -> None:
        if resolved not in seen:
            seen.add(resolved)
            files.append(path)

    for path in map(Path, paths):
        if path.is_dir():
            # One resolve() per folder, not per file: a class folder may hold thousands.
            folder = path.resolve()
            with os.scandir(path) as entries:
                names = sorted(
                    e.name
                    for e in entries
                    if e.name.lower().endswith(ANSWER_SUFFIXES)
                    and not e.name.startswith(".")
                    and e.is_file()
                )
            if not names:
                errors.append(
                    GradingError(str(path), "no answer files (*.json, *.pdf, *.csv) in this folder")
                )
            for name in names:
                add(path / name, folder / name)
        elif path.exists():
            add(path, path.resolve())
        else:
            errors.append(GradingError(str(path), "no such file or folder"))
    return files, errors


def _grade_one(
    path: Path, keys: KeyIndex, comparison: Comparison, markers: Sequence[Marker]
) -> Result | GradingError:
    try:
        return grade_file(path, keys, comparison, markers)
    except (AnswersError, SheetError) as exc:
        return GradingError(str(path), str(exc))


# Worker state, set once per process by the pool initializer so keys aren't pickled per file.
_worker: tuple[KeyIndex, Comparison, Sequence[Marker]] | None = None

Packed = tuple[str, str, str, tuple[tuple[Any, ...], ...]] | GradingError
"""A result as sent back from a worker: (student, variant, file, item rows without the parts the
parent already has in its key). Rebuilding is ~4× cheaper than unpickling Results."""


def _init_worker(keys: KeyIndex, comparison: Comparison, markers: Sequence[Marker]) -> None:
    global _worker
    _worker = (keys, comparison, markers)
    gc.disable()  # as in the parent; a worker lives for one batch


def _grade_chunk(paths: list[Path]) -> list[Packed]:
    assert _worker is not None, "called outside a worker"
    packed: list[Packed] = []
    for path in paths:
        outcome = _grade_one(path, *_worker)
        if isinstance(outcome, GradingError):
            packed.append(outcome)
        else:
            rows = tuple(item[1:8] for item in outcome.items)  # all but id and symbol
            packed.append((outcome.student, outcome.variant, outcome.file, rows))
    return packed


def _unpack(packed: Packed, keys: KeyIndex, comparison: Comparison) -> Result | GradingError:
    if isinstance(packed, GradingError):
        return packed
    student, code, file, rows = packed
    variant = keys.find(code)
    items = tuple(Item(q.id, *row, q.symbol) for q, row in zip(variant.asked, rows, strict=True))
    return Result(student, code, items, variant.exam, file, comparison.rule(variant.rounding))


def grade_paths(
    paths: Iterable[Path],
    keys: KeyIndex,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
    jobs: int | None = None,
) -> Report:
    """Grade files and folders; results and errors in input order. `jobs` defaults to the CPUs."""
    comparison = comparison or Comparison()
    files, errors = answer_files(paths)
    errors = [GradingError(f, f"answer key: {e}") for f, e in keys.errors] + errors
    jobs = jobs or _cpus()
    # A spreadsheet holds a whole class: graded here, row by row (bpquiz.csv_answers).
    tables = [p for p in files if p.suffix.lower() == ".csv"]
    singles = [p for p in files if p.suffix.lower() != ".csv"] if tables else files
    with _cyclic_gc_paused():
        if jobs > 1 and len(singles) >= PARALLEL_FROM:
            outcomes = _in_parallel(singles, keys, comparison, markers, jobs)
        else:
            outcomes = [_grade_one(p, keys, comparison, markers) for p in singles]
        if tables:
            from bpquiz.csv_answers import grade_table

            graded = {p: grade_table(p, keys, comparison, markers) for p in tables}
            single = iter(outcomes)
            # Back into input order: each table's rows where the table was named.
            outcomes = [o for p in files for o in (graded[p] if p in graded else [next(single)])]
    results = [o for o in outcomes if isinstance(o, Result)]
    errors += [o for o in outcomes if isinstance(o, GradingError)]
    return Report(tuple(results), tuple(errors + _handed_in_twice(results)))


def _handed_in_twice(results: Sequence[Result]) -> list[GradingError]:
    """A student graded from several files gets several gradebook rows: say so, so that a teacher
    keeps the one that counts instead of an LMS silently taking either."""
    files: dict[str, list[str]] = {}
    for result in results:
        files.setdefault(result.student, []).append(result.file)
    return [
        GradingError(
            named[-1],
            f'student "{student}" is also graded from {", ".join(named[:-1])}: both are in the '
            "report; remove the file that does not count",
        )
        for student, named in files.items()
        if len(named) > 1
    ]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Grading builds ~50 objects per file and no reference cycles; left on, the cycle collector
    rescans the growing results over and over (a quarter of the time for a class of 10,000)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))  # what this process may use, not the machine's total
    return os.cpu_count() or 1


def _in_parallel(
    files: list[Path],
    keys: KeyIndex,
    comparison: Comparison,
    markers: Sequence[Marker],
    jobs: int,
) -> list[Result | GradingError]:
    import multiprocessing

    size = max(50, len(files) // (jobs * 4))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    # fork shares the loaded keys with the workers for free; elsewhere they are sent once each.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    with context.Pool(jobs, _init_worker, (keys, comparison, markers)) as pool:
        # imap: the parent rebuilds one chunk while the workers grade the next ones.
        return [
            _unpack(packed, keys, comparison)
            for chunk in pool.imap(_grade_chunk, chunks)
            for packed in chunk
        ]
