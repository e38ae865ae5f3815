"""Moodle's quiz "Responses" report, downloaded as CSV, read into one AnswerSheet per attempt.

What Moodle 4.4 writes (checked with a real Moodle, shared/tools/moodle/quiz_responses.sh): UTF-8
with a BOM; the columns "Last name", "First name", the identity fields the site shows ("Email
address" by default; "ID number", "Username" where the admin adds them), "Status", "Started",
"Completed", "Duration", "Grade/10.00", then per question slot "Response N" (and "Question N",
"Right answer N" when the teacher ticks them); a last row "Overall average". A Cloze response
cell reads `part 1: 0.1234; part 2: ; part 3: 12.5`, as typed; an unfinished attempt shows `-`.

The report names no question, so an attempt is traced to its key variant by the question text
(bpquiz's starts "Variant CODE of exam NAME.") or, failing that, by the right answers (the
variant whose values all lie within the key's tolerance of them). The student is the email
address (else the ID number, else the username).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bpquiz.exercises.key import KeyIndex, KeyVariant
from bpquiz.grading.readers.lms import Attempt, LmsExport, rows_of, variant_of
from bpquiz.grading.readers.numbers import shown
from bpquiz.grading.readers.sheet import MAX_STUDENT, AnswersError, AnswerSheet, Identity

LMS = "Moodle"
RESPONSE = re.compile(r"Response (\d+)$")
VARIANT = re.compile(r"\s*Variant ([0-9A-Za-z]+) of exam (.*?)\.(?:\s|$)")
"""The first words of a bpquiz question's text (bpquiz.lms's question template)."""
IDENTITY = ("Email address", "ID number", "Username")
"""The columns a student can be told by, in the order bpquiz takes the student id from."""
NO_SUMMARY = "-"
FINISHED = "Finished"


def moodle_reads(typed: str) -> float | None:
    """The number Moodle (English language pack) reads from a typed answer, or None where it
    reads none: ',' is its thousands separator, so "0,5" is 5, and only an ASCII '-' is a minus
    ("−0.5" is no number). Measured in the real Moodle, shared/tools/moodle/README.md."""
    text = typed.strip().replace(",", "")
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return None
    return float(text)


def is_responses_header(header: Sequence[str]) -> bool:
    return (
        "Status" in header
        and any(RESPONSE.match(h) for h in header)
        and ("First name" in header or "Last name" in header or "Email address" in header)
    )


def split_parts(cell: str, parts: int) -> list[str] | None:
    """A Cloze response summary 'part 1: 0.1; part 2: ; part 3: 3' → ['0.1', '', '3'] (None when
    it has not `parts` parts). A typed '; part 9:' can't move a part: separators are looked for in
    order, '; part 2:' after part 1 began, and so on."""
    if not cell.startswith("part 1:"):
        return None
    starts = [len("part 1:")]
    ends = []
    for k in range(2, parts + 1):
        at = cell.find(f"; part {k}:", starts[-1])
        if at < 0:
            return None
        ends.append(at)
        starts.append(at + len(f"; part {k}:"))
    ends.append(len(cell))
    return [cell[s:e].strip() for s, e in zip(starts, ends, strict=True)]


def _number_list(cell: str) -> list[float] | None:
    """The right answers Moodle lists, as numbers (None if one is not a number)."""
    if not cell.startswith("part 1:"):
        return None
    parts = cell.count("; part ") + 1
    values = split_parts(cell, parts)
    if values is None:
        return None
    numbers = [moodle_reads(v) for v in values]
    return None if any(n is None for n in numbers) else [n for n in numbers if n is not None]


def _by_right_answers(cell: str, variants: Sequence[KeyVariant]) -> list[KeyVariant]:
    numbers = _number_list(cell)
    if numbers is None:
        return []
    return [
        v
        for v in variants
        if len(v.asked) == len(numbers)
        and all(
            abs(n - q.value) <= q.tol_abs * (1 + 1e-9) + 1e-12
            for n, q in zip(numbers, v.asked, strict=True)
        )
    ]


class _Slot:
    """One question slot of the quiz: its columns, and whether it is a bpquiz question."""

    def __init__(self, number: int, columns: dict[str, int]) -> None:
        self.number = number
        self.response = columns[f"Response {number}"]
        self.question = columns.get(f"Question {number}")
        self.right = columns.get(f"Right answer {number}")


def read_responses(text: str, source: str, keys: KeyIndex) -> LmsExport | None:
    """The attempts of a Moodle Responses report; None when `text` is not one."""
    records = rows_of(text, is_responses_header)
    if records is None:
        return None
    header, body = records[0], records[1:]
    columns = {name: i for i, name in enumerate(header)}
    slots = [_Slot(int(m.group(1)), columns) for h in header if (m := RESPONSE.match(h))]
    if not any(s.question is not None or s.right is not None for s in slots):
        raise AnswersError(
            "a Moodle Responses report without the question or its right answers, so its "
            "attempts can't be traced to their variants: download it again with \"Question "
            'text" or "Right answer" ticked (Display options)'
        )
    variants = [v for found in keys.variants.values() for v in found]
    rows = [
        (number, record)
        for number, record in enumerate(body, start=2)
        if any(record) and record[0] != "Overall average"
    ]
    ours = [s for s in slots if _is_bpquiz(s, rows, variants)]
    notes = tuple(
        f"question {s.number} of the quiz is not a bpquiz question of these keys: not graded"
        for s in slots
        if s not in ours
    )
    if not ours:
        raise AnswersError(
            "no question of this Moodle quiz is a bpquiz question of these keys "
            '(the question text starts "Variant CODE of exam NAME."): another exam\'s report?'
        )
    if len(ours) > 1:
        raise AnswersError(
            f"questions {', '.join(str(s.number) for s in ours)} of this quiz are all bpquiz "
            "questions: bpquiz grades one per quiz (one random question from the exam's category)"
        )
    slot = ours[0]
    attempts = tuple(_attempt(n, r, columns, slot, keys, variants, source) for n, r in rows)
    return LmsExport(LMS, attempts, notes, moodle_reads)


def _cell(record: list[str], at: int | None) -> str:
    return record[at] if at is not None and at < len(record) else ""


LOOKED_AT = 100
"""Attempts showing a question that are looked at to tell whether it is a bpquiz question: its
first ones show it (a file of 300 questions × 1,700 attempts, none of them ours, took 5 s)."""


def _is_bpquiz(slot: _Slot, rows: list[tuple[int, list[str]]], variants: list[KeyVariant]) -> bool:
    shown_in = 0
    for _, record in rows:
        question, right = _cell(record, slot.question), _cell(record, slot.right)
        if VARIANT.match(question) or _by_right_answers(right, variants):
            return True
        shown_in += bool(question or right)
        if shown_in >= LOOKED_AT:
            return False
    return False


def _identity(record: list[str], columns: dict[str, int]) -> tuple[str, Identity]:
    def cell(name: str) -> str:
        return _cell(record, columns.get(name))

    name = " ".join(part for part in (cell("First name"), cell("Last name")) if part)
    identity = Identity(name=name, email=cell("Email address"), number=cell("ID number"))
    student = next((cell(c) for c in IDENTITY if cell(c)), "")
    return student, identity


def _attempt(
    number: int,
    record: list[str],
    columns: dict[str, int],
    slot: _Slot,
    keys: KeyIndex,
    variants: list[KeyVariant],
    source: str,
) -> Attempt:
    student, identity = _identity(record, columns)
    who = f"{identity.name} ({student})" if identity.name else student
    if not student:
        return Attempt(number, error="no Email address, ID number or Username to tell who it is")
    if len(student) > MAX_STUDENT or not student.isprintable():
        return Attempt(
            number, error=f"the student must be printable text of at most {MAX_STUDENT} characters"
        )
    status = _cell(record, columns.get("Status"))
    if status != FINISHED:
        return Attempt(
            number, note=f"{who}: attempt not finished ({status or 'no status'}), not graded"
        )
    text = _cell(record, slot.question)
    named = VARIANT.match(text)
    if named:
        found = variant_of(keys, named.group(1), named.group(2))
        if isinstance(found, str):
            return Attempt(number, error=f"{who}: {found}")
        variant = found
    else:
        matches = _by_right_answers(_cell(record, slot.right), variants)
        if len(matches) != 1:
            why = "match no variant" if not matches else "match several variants"
            return Attempt(
                number,
                error=f"{who}: the question's right answers {why} of the keys: a question from "
                "another exam?",
            )
        variant = matches[0]
    cell = _cell(record, slot.response)
    if cell in ("", NO_SUMMARY):
        parts = [""] * len(variant.asked)
    else:
        split = split_parts(cell, len(variant.asked))
        if split is None:
            return Attempt(
                number,
                error=f"{who}: the response {shown(cell, 40)} is not {len(variant.asked)} "
                f"parts, as variant {variant.code}'s Embedded answers (Cloze) question has",
            )
        parts = split
    answers = {q.id: (typed or None) for q, typed in zip(variant.asked, parts, strict=True)}
    return Attempt(number, AnswerSheet(source, variant.code, student, answers, identity))
