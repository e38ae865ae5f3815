"""The answer key: one JSON document per exam, holding every variant's problem and quantities."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpquiz import __version__
from bpquiz.errors import BpquizError
from bpquiz.files import Refused, read_limited
from bpquiz.maths.ids import INTERMEDIATE_KINDS, KINDS
from bpquiz.maths.notation import Notation, make_notation
from bpquiz.maths.rounding import Mode, Rounding

if TYPE_CHECKING:
    # Type-only: importing these pulls in numpy, and `bpquiz grade` reads keys without it.
    from bpquiz.exercises.draw import Variant
    from bpquiz.exercises.presets import Settings
    from bpquiz.maths.solution import Solution

KEY_FORMAT = "bpquiz-key/1"
ANSWERS_FORMAT = "bpquiz-answers/1"
"""The format of a student's answers file (`bpquiz.exercises.exam` writes its blank template)."""
CLASS_LIST_COLUMNS = ("id", "name", "variant", "sheet", "solution", "answers")
"""The header of the class list (students.csv) `generate --roster` writes beside the sheets."""
DEFAULT_KEYS_DIR = Path("answer_keys")
MAX_KEY_BYTES = 64 << 20
"""A variant takes ~20 kB of key: this is 3,000 students' own variants."""
MAX_HEADER = 200
"""The most of a key's title, course or date a feedback sheet prints."""


def problem_entry(
    solution: Solution,
    rounding: Rounding,
    asked: Iterable[str] | None = None,
    code: str | None = None,
    student: Any = None,
    points: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One variant of the key: its spec and every computed quantity (key notation: layered);
    `asked`: the kinds the sheet asks for (default: all); `points`: per kind, where not 1."""
    p = solution.problem
    notation = make_notation("layered", p.depth, p.examples)
    return {
        "variant": code,
        "student": student,
        "problem": p.to_dict(),
        "quantities": quantity_entries(
            solution, notation, rounding, KINDS if asked is None else asked, points
        ),
    }


def quantity_entries(
    solution: Solution,
    notation: Notation,
    rounding: Rounding,
    asked_kinds: Iterable[str],
    points: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The answer key's quantities: every computed value with its tolerance and how it is written."""
    asked_kinds = set(asked_kinds)
    points = points or {}
    rounded_path = solution.rounded_path(rounding)
    exact = solution.exact_values()
    entries = []
    for q in solution.computed():
        value = float(exact[q.id])
        step = solution.step(q.id, notation, rounding)
        entries.append(
            {
                "id": q.id,
                "kind": q.kind,
                **q.indices(),
                "value": value,
                "tol": {"abs": rounding.tolerance(value, rounded_path[q.id])},
                "points": points.get(q.kind, 1),
                "asked": q.kind in asked_kinds,
                "symbol": step.symbol,
                "formula": step.formula,
                "substituted": step.substituted,
            }
        )
    return entries


def key_document(
    name: str,
    seed: int | None,
    settings: Settings,
    variants: Sequence[Variant],
    header: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The key of an exam; `header`: the title, course and date its sheets print (for the
    feedback sheets graded from it)."""
    return {
        "format": KEY_FORMAT,
        "exam": {
            "name": name,
            **dict(header or {}),
            "seed": seed,
            "preset": settings.preset,
            "rounding": settings.rounding.to_dict(),
            "asked": list(settings.asked),
            "points": dict(settings.points),
            "bpquiz_version": __version__,
        },
        "variants": [
            problem_entry(
                v.solution,
                settings.rounding,
                settings.asked,
                v.code,
                v.student,
                dict(settings.points),
            )
            for v in variants
        ],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


# --- reading keys back (for `bpquiz grade`) ------------------------------------------------
#
# Everything below is pure Python on purpose: grading one file must not import numpy. The maths
# (Problem, Solution) is rebuilt from a variant's "problem" only when a marker needs it.


class KeyFileError(BpquizError):
    """An answer key that can't be used; the message names the file and the field."""


@dataclass(frozen=True)
class KeyQuantity:
    """One quantity of a key variant, as the grader needs it."""

    id: str
    kind: str
    value: float
    tol_abs: float
    points: float
    asked: bool
    symbol: str


@dataclass(frozen=True)
class KeyVariant:
    """One variant of a loaded key: its quantities in teaching order, and where it came from."""

    code: str
    student: str | None
    """The roster id this variant was drawn for, or None."""
    quantities: tuple[KeyQuantity, ...]
    rounding: Rounding
    exam: str
    source: str
    """The key file, for messages."""
    problem: dict[str, Any] = field(repr=False, compare=False)
    """The raw spec; parse_problem() turns it into the maths when follow-through needs it."""
    header: tuple[tuple[str, str], ...] = ()
    """The title, course and date the exam's sheets print, as (field, text)."""
    student_name: str = ""
    """The roster name of the student the variant was drawn for."""
    student_email: str = ""
    """Their roster email, when the roster gave one (an LMS gradebook matches students by it)."""

    @cached_property
    def asked(self) -> tuple[KeyQuantity, ...]:
        """The quantities the sheet asks for, in teaching order (computed once per variant)."""
        return tuple(q for q in self.quantities if q.asked)

    @cached_property
    def asked_ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.asked)

    @property
    def delta_sign(self) -> str:
        """The convention for δ this variant was set in (bpquiz.maths.spec.DELTA_SIGNS)."""
        sign = self.problem.get("delta_sign", "gradient")
        return sign if isinstance(sign, str) else "gradient"

    def with_points(self, points: Mapping[str, float]) -> KeyVariant:
        """The variant with the points of these kinds of quantity replaced (regrading)."""
        quantities = tuple(
            replace(q, points=float(points[q.kind])) if q.kind in points else q
            for q in self.quantities
        )
        return replace(self, quantities=quantities)

    @cached_property
    def solution(self) -> Solution:
        """The quantity graph, built once per variant and only when asked for (it needs numpy)."""
        from bpquiz.maths.solution import Solution
        from bpquiz.maths.spec import parse_problem

        steps = any(q.kind in INTERMEDIATE_KINDS for q in self.quantities)
        return Solution(parse_problem(self.problem, source=self.source), steps)


def normalise_code(code: str) -> str:
    """Variant codes are read off paper: ignore case and surrounding spaces."""
    return code.strip().upper()


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise KeyFileError(f"{where}: expected a finite number, got {json.dumps(value)[:40]}")
    return float(value)


def _quantity(entry: Any, where: str) -> KeyQuantity:
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: expected an object")
    for name in ("id", "kind"):
        if not isinstance(entry.get(name), str):
            raise KeyFileError(f"{where}.{name}: expected a string")
    tol = entry.get("tol")
    if not isinstance(tol, dict):
        raise KeyFileError(f'{where}.tol: expected an object like {{"abs": 6e-05}}')
    tol_abs = _number(tol.get("abs"), f"{where}.tol.abs")
    points = _number(entry.get("points", 1), f"{where}.points")
    if tol_abs < 0 or points < 0:
        raise KeyFileError(f"{where}: tol.abs and points must not be negative")
    return KeyQuantity(
        id=entry["id"],
        kind=entry["kind"],
        value=_number(entry.get("value"), f"{where}.value"),
        tol_abs=tol_abs,
        points=points,
        asked=entry.get("asked", True) is True,
        symbol=entry["symbol"] if isinstance(entry.get("symbol"), str) else entry["id"],
    )


def parse_key(document: Any, source: str) -> list[KeyVariant]:
    """The variants of a key document, checked field by field (raises KeyFileError)."""
    if not isinstance(document, dict):
        raise KeyFileError(f"{source}: not an answer key (expected a JSON object)")
    if document.get("format") != KEY_FORMAT:
        raise KeyFileError(
            f"{source}: not an answer key (format is {json.dumps(document.get('format'))[:40]}, "
            f'expected "{KEY_FORMAT}")'
        )
    exam = document.get("exam")
    if not isinstance(exam, dict):
        raise KeyFileError(f"{source}: exam: expected an object")
    try:
        rounding = Rounding(Mode(exam["rounding"]["mode"]), int(exam["rounding"]["digits"]))
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(
            f'{source}: exam.rounding: expected {{"mode": "decimals"|"sigfigs", "digits": n}}'
        ) from None
    name = str(exam["name"]) if isinstance(exam.get("name"), str) else Path(source).stem
    header = tuple(
        (field, exam[field][:MAX_HEADER])
        for field in ("title", "course", "date")
        if isinstance(exam.get(field), str)
    )
    entries = document.get("variants")
    if not isinstance(entries, list):
        raise KeyFileError(f"{source}: variants: expected a list")
    variants = []
    seen: dict[str, int] = {}
    for n, entry in enumerate(entries):
        where = f"{source}: variants[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("variant"), str):
            raise KeyFileError(f"{where}.variant: expected a variant code")
        code = normalise_code(entry["variant"])
        if code in seen:  # grading finds a variant by its code alone
            shown = json.dumps(code, ensure_ascii=False)[:40]
            raise KeyFileError(
                f"{where}.variant: the code {shown} is also variants[{seen[code]}]'s: "
                "each variant of a key needs its own code"
            )
        seen[code] = n
        quantities = entry.get("quantities")
        if not isinstance(quantities, list):
            raise KeyFileError(f"{where}.quantities: expected a list")
        student = entry.get("student")
        student_name = student_email = ""
        if isinstance(student, dict):  # a roster row: {"id": …, "name": …, "email": …}
            name_text, email = student.get("name"), student.get("email")
            student_name = name_text if isinstance(name_text, str) else ""
            student_email = email if isinstance(email, str) else ""
            student = student.get("id")
        variants.append(
            KeyVariant(
                code=code,
                student=str(student) if student not in (None, "") else None,
                quantities=tuple(
                    _quantity(q, f"{where}.quantities[{i}]") for i, q in enumerate(quantities)
                ),
                rounding=rounding,
                exam=name,
                source=source,
                header=header,
                student_name=student_name,
                student_email=student_email,
                problem=problem if isinstance(problem := entry.get("problem"), dict) else {},
            )
        )
    return variants


def load_key(path: Path) -> list[KeyVariant]:
    """Read one key file (raises KeyFileError with a one-line reason). The read is bounded and
    never blocks: a FIFO, a link to /dev/zero or a 2 GB file among the keys is an error."""
    try:
        text = read_limited(Path(path), MAX_KEY_BYTES, "an answer key").decode("utf-8")
    except Refused as exc:
        if str(exc) == "is a folder":
            raise KeyFileError(
                f"{path}: is a folder; use --keys DIR for a folder of keys"
            ) from None
        raise KeyFileError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text, so not an answer key") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise KeyFileError(f"{path}: not JSON ({exc})") from None
    return parse_key(document, str(path))


@dataclass(frozen=True)
class KeyIndex:
    """Key variants by code. A code is only ever looked up here, never turned into a path."""

    variants: dict[str, tuple[KeyVariant, ...]]
    errors: tuple[tuple[str, str], ...] = ()
    """(file, reason) for key files that could not be read."""

    def with_points(self, points: Mapping[str, float]) -> KeyIndex:
        """Every variant with the points of these kinds of quantity replaced (`grade --points`)."""
        if not points:
            return self
        return KeyIndex(
            {code: tuple(v.with_points(points) for v in vs) for code, vs in self.variants.items()},
            self.errors,
        )

    def find(self, code: str) -> KeyVariant:
        """The variant with this code, or LookupError saying why not."""
        found = self.variants.get(normalise_code(code), ())
        if len(found) == 1:
            return found[0]
        shown = json.dumps(code, ensure_ascii=False)[:40]
        if not found:
            hint = f" ({len(self.errors)} key file(s) could not be read)" if self.errors else ""
            raise LookupError(f"unknown variant {shown}: it is in no answer key{hint}")
        files = ", ".join(v.source for v in found)
        raise LookupError(
            f"variant {shown} is in several keys ({files}): choose one with --key FILE"
        )


def index_keys(paths: Sequence[Path]) -> KeyIndex:
    """Load several key files; a broken one is recorded in `errors`, the rest are used."""
    loaded: list[KeyVariant] = []
    errors = []
    for path in paths:
        try:
            loaded += load_key(path)
        except KeyFileError as exc:
            errors.append((str(path), str(exc).removeprefix(f"{path}: ")))
    return KeyIndex(_by_code(loaded), tuple(errors))


def key_files(folder: Path) -> list[Path]:
    """The *.json files of a keys folder (raises KeyFileError when there are none)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KeyFileError(
            f"no answer-key folder {folder}/: run `bpquiz generate` first, "
            "or point to the key with --key FILE or --keys DIR"
        )
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    if not files:
        raise KeyFileError(f"no answer keys (*.json) in {folder}/")
    return files


def open_keys(key: Path | None = None, folder: Path | None = None) -> KeyIndex:
    """The keys to grade against: one file (which must be readable), or every key in a folder
    (default answer_keys/; a broken one is recorded in the index's errors, the rest are used)."""
    if key is not None:
        return KeyIndex(_by_code(load_key(key)))
    index = index_keys(key_files(folder or DEFAULT_KEYS_DIR))
    if not index.variants:
        first_file, first_error = index.errors[0]
        raise KeyFileError(f"no usable answer key: {first_file}: {first_error}")
    return index


def _by_code(variants: Sequence[KeyVariant]) -> dict[str, tuple[KeyVariant, ...]]:
    grouped: dict[str, list[KeyVariant]] = {}
    for v in variants:
        grouped.setdefault(v.code, []).append(v)
    return {code: tuple(vs) for code, vs in grouped.items()}
