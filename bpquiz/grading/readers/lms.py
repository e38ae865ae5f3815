"""Response exports an LMS writes (Moodle's quiz "Responses" report, Canvas's "Student Analysis"),
recognised by their header and read into one AnswerSheet per attempt.

This module holds what the readers share; bpquiz.grading.lms tries each reader on a CSV file.
Each attempt is traced to its key variant by what the LMS shows of the question (the question text
bpquiz exported, or the right answers); an attempt that can't be traced is one error naming its
row, an attempt that was never finished one note, and every other attempt is graded like an answers
file, with the LMS's sign-in as the student.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from bpquiz.exercises.key import KeyIndex, KeyVariant, normalise_code
from bpquiz.files import SPREADSHEET_DELIMITERS
from bpquiz.grading.readers.numbers import shown
from bpquiz.grading.readers.sheet import AnswersError, AnswerSheet
from bpquiz.grading.readers.spreadsheet import (
    MAX_COLUMNS,
    MAX_ROWS,
    cells_at_most,
    first_line,
)


@dataclass(frozen=True)
class Attempt:
    """One row of an LMS export: an attempt to grade, or why it isn't graded."""

    row: int
    """The row number a spreadsheet shows (the header is row 1)."""
    sheet: AnswerSheet | None = None
    error: str = ""
    note: str = ""


@dataclass(frozen=True)
class LmsExport:
    lms: str
    """"Moodle" or "Canvas"."""
    attempts: tuple[Attempt, ...]
    notes: tuple[str, ...] = ()
    """About the file as a whole (a quiz question that is not a bpquiz one)."""
    reads: Callable[[str], float | None] | None = None
    """How the LMS itself reads a typed number (None where unknown), so that feedback can say when
    it marked an answer otherwise than bpquiz."""


MAX_CELL = 64 << 10
"""Characters in one cell of an LMS export: Moodle puts each question's text in a cell (3 kB for
a classic exercise); 16 times that is not a question of ours."""


def rows_of(text: str, has_header: Callable[[list[str]], bool]) -> list[list[str]] | None:
    """The CSV's records, with whichever delimiter gives a header `has_header` accepts; None when
    none does (not this LMS's export). Read within the spreadsheet's budgets (lines ending in CR
    LF, LF or CR alone; at most MAX_ROWS rows and MAX_COLUMNS columns, MAX_CELL characters a
    cell), counted while reading: a file over one is AnswersError."""
    header_line = first_line(text)
    for delimiter in SPREADSHEET_DELIMITERS:
        if header_line.count(delimiter) >= MAX_COLUMNS:
            continue  # counted before parsing: not an export of one quiz
        try:
            with cells_at_most(MAX_CELL):
                header = next(
                    csv.reader(io.StringIO(header_line, newline=""), delimiter=delimiter), []
                )
        except csv.Error:
            continue
        if not has_header([h.strip() for h in header]):
            continue
        reader = csv.reader(io.StringIO(text.lstrip("\r\n"), newline=""), delimiter=delimiter)
        records: list[list[str]] = []
        try:
            with cells_at_most(MAX_CELL):
                for record in reader:
                    if len(records) > MAX_ROWS:
                        raise AnswersError(
                            f"more than {MAX_ROWS} rows: not one class's attempts (split the file)"
                        )
                    records.append([cell.strip() for cell in record])
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"a cell of more than {MAX_CELL} characters: a quote never closed?"
            raise AnswersError(
                f"not a readable CSV file (line {reader.line_num}: {reason})"
            ) from None
        return records
    return None


def variant_of(keys: KeyIndex, code: str, exam: str) -> KeyVariant | str:
    """The key variant an LMS question names, or why there is none."""
    try:
        return keys.find(code)
    except LookupError as exc:
        if keys.variants.get(normalise_code(code)):
            return str(exc)  # in several keys: --key FILE chooses
        return (
            f"variant {shown(code)} of exam {shown(exam)} is in no answer key: a question from "
            "another exam?"
        )
