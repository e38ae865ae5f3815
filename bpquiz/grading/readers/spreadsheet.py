"""Answers from a spreadsheet: one row per student, each read as if it were an answers file.

The layout is what a spreadsheet or an LMS quiz export gives: a header row naming the columns
`student`, `variant`, then one column per quantity id (`z1_1`, `a1_1`, …), in any order; a `name`
column may be there too. Each row becomes an AnswerSheet and is graded like a JSON file; a row
that can't be graded is one error naming the file and its row number as a spreadsheet shows it
(the header is row 1). A problem with the file as a whole (not UTF-8, no header, a column twice)
is one error for the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bpquiz.exercises.key import CLASS_LIST_COLUMNS
from bpquiz.files import SPREADSHEET_DELIMITERS, spreadsheet_text
from bpquiz.grading.readers.numbers import shown
from bpquiz.grading.readers.sheet import MAX_STUDENT, AnswersError, NotHandedIn, read_limited

MAX_CSV_BYTES = 10 << 20
"""A class of 2,000 with 50 answers each is about 1 MiB; ten times that is not an answers sheet."""
MAX_ROWS = 10_000
"""Rows of students (blank rows included): five times a class of 2,000."""
MAX_ANSWERS = 500_000
"""Non-blank answer cells in all: five times a class of 2,000 with 50 answers each. Bounds the
memory a file's rows take (~100 bytes an answer) whatever its shape."""
MAX_COLUMNS = 1_000
"""A sheet asks for ~50 quantities; an LMS export adds a few columns of its own."""
MAX_CELL = 4_096
"""Characters in one cell: an answer is at most 64, a student id 200, a name rarely 100."""
STUDENT = "student"
VARIANT = "variant"
NAME = "name"
"""Allowed, for the people reading the spreadsheet; not graded."""
DELIMITERS = SPREADSHEET_DELIMITERS
"""Comma; semicolon (spreadsheets in decimal-comma locales); tab (Excel's "Unicode text")."""


@dataclass(frozen=True)
class Row:
    """One student's row: the non-blank answer cells by column name, still as typed."""

    number: int
    student: str
    variant: str
    answers: dict[str, str]


@dataclass(frozen=True)
class BadRow:
    number: int
    error: str


@dataclass(frozen=True)
class Table:
    source: str
    columns: tuple[str, ...]
    """The answer columns' names (lower case), as in the header, with their letters in `letters`."""
    letters: tuple[str, ...]
    rows: tuple[Row | BadRow, ...]
    filled: frozenset[str]
    """The letters of answer columns with at least one non-blank cell."""


def column_name(cell: str) -> str:
    """A header cell as a column name: "z1_1 (z⁽¹⁾₁)", as bpquiz's blank spreadsheet heads a
    column, is z1_1; case and spaces around it don't matter."""
    name = cell.strip().lower()
    if name.startswith("(") or not name.endswith(")") or "(" not in name:
        return name
    # What the pattern \s*\(.*\)$ removes, found in linear time: a header of cells full of "("
    # made the regular expression take seconds.
    return name[: name.index("(")].rstrip()


def column_letter(index: int) -> str:
    """A spreadsheet's name for the column at 0-based `index`: A … Z, AA, AB, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _decode(data: bytes) -> str:
    try:
        return spreadsheet_text(data)
    except UnicodeDecodeError as exc:
        raise AnswersError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            'save it as "CSV UTF-8"'
        ) from None


def _header_and_delimiter(first_line: str) -> tuple[list[str], str]:
    wide = False
    for delimiter in DELIMITERS:
        if first_line.count(delimiter) >= MAX_COLUMNS:
            wide = True  # counted before parsing: a 10 MiB header is not parsed three times
            continue
        try:
            with cells_at_most(MAX_CELL):
                cells = next(csv.reader(io.StringIO(first_line, newline=""), delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue  # e.g. a cell too long: not this delimiter, or not a header at all
        header = [column_name(c) for c in cells]
        if STUDENT in header and VARIANT in header:
            return header, delimiter
    if wide:
        raise AnswersError(f"more than {MAX_COLUMNS} columns: not a class's answers")
    if tuple(next(csv.reader([first_line]), [])) == CLASS_LIST_COLUMNS:
        raise NotHandedIn(
            "the class list `bpquiz generate --roster` wrote, not answers: not graded"
        )
    # The row's text is never shown: the file may be anything at all (a link to a system file).
    lower = first_line.lower()
    missing = " or ".join(f'"{name}"' for name in (STUDENT, VARIANT) if name not in lower)
    raise AnswersError(
        "the first row must name the columns: student, variant, then one column per quantity id"
        + (f" (it has no column {missing})" if missing else "")
    )


@contextmanager
def cells_at_most(limit: int) -> Iterator[None]:
    """csv's cell size limit, for this parse only (it is a setting of the whole csv module)."""
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)


_FIRST_LINE = re.compile(r"[^\r\n]*")
"""A line ends at CR LF, LF, or CR alone (old Excel for Mac)."""


def first_line(text: str) -> str:
    """The first line of a spreadsheet's text (its header), whatever its lines end with."""
    found = _FIRST_LINE.match(text.lstrip("\r\n"))
    return found[0] if found else ""


def parse_table(data: bytes, source: str) -> Table:
    """Check a spreadsheet's bytes and split it into rows (raises AnswersError for the file).

    Rows are read one at a time and counted as they are read: more than MAX_ROWS rows or
    MAX_ANSWERS answers, or a cell over MAX_CELL characters, and reading stops with one error for
    the file. Lines may end in CR LF, LF or CR alone."""
    if not data.strip():
        raise AnswersError("empty file: the first row names the columns student, variant, …")
    text = _decode(data).lstrip("\r\n")
    header, delimiter = _header_and_delimiter(first_line(text))
    if "score" in header and "max_score" in header:
        raise AnswersError("a gradebook written by `bpquiz grade --csv`, not students' answers")
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name and name in seen:
            raise AnswersError(
                f'the column "{shown(name)[1:-1]}" appears twice (columns '
                f"{column_letter(seen[name])} and {column_letter(index)}): keep one"
            )
        seen[name] = index
    student_at, variant_at = seen[STUDENT], seen[VARIANT]
    answer_at = [i for i, name in enumerate(header) if name not in (STUDENT, VARIANT, NAME)]

    rows: list[Row | BadRow] = []
    filled: set[str] = set()
    answers = 0
    # One reader over the whole text, newline="": CR, LF and CR LF all end a row, and a quoted
    # cell may hold a line break.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        with cells_at_most(MAX_CELL):
            next(reader)
            # Row numbers count records, as a spreadsheet numbers its rows (a cell may hold a
            # newline).
            for number, record in enumerate(reader, start=2):
                if number > MAX_ROWS + 1:
                    raise AnswersError(
                        f"more than {MAX_ROWS} rows: not one class's answers (split the file)"
                    )
                if not any(cell.strip() for cell in record):
                    continue  # blank rows, e.g. the trailing ones a spreadsheet leaves
                if _misaligned(record, len(header), delimiter):
                    rows.append(BadRow(number, _count_problem(len(record), len(header), delimiter)))
                    continue
                record += [""] * (len(header) - len(record))
                row = _row(number, record, header, student_at, variant_at, answer_at)
                if isinstance(row, Row):
                    answers += len(row.answers)
                    if answers > MAX_ANSWERS:
                        raise AnswersError(
                            f"more than {MAX_ANSWERS} answers: not one class's answers "
                            "(split the file)"
                        )
                    filled.update(column_letter(i) for i in answer_at if record[i].strip())
                rows.append(row)
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a cell of more than {MAX_CELL} characters: a quote never closed?"
        raise AnswersError(f"not a readable CSV file (line {reader.line_num}: {reason})") from None
    return Table(
        source,
        tuple(header[i] for i in answer_at),
        tuple(column_letter(i) for i in answer_at),
        tuple(rows),
        frozenset(filled),
    )


def _misaligned(record: list[str], columns: int, delimiter: str) -> bool:
    """A row whose cells may not sit under their column headers.

    An unquoted decimal comma in a comma-separated file ("0,5933") splits one answer into two
    valid-looking numbers and shifts the rest of the row; spreadsheets quote such cells and write
    every row as wide as the header, so there any other width is an error, never a guess. With
    ';' or tabs only non-blank cells beyond the header are; a short row's missing cells are blank.
    """
    if delimiter == ",":
        return len(record) != columns
    return any(cell.strip() for cell in record[columns:])


def _count_problem(cells: int, columns: int, delimiter: str) -> str:
    hint = (
        ": a decimal comma in a comma-separated file? Put the number in quotes, or separate "
        "cells with ';'"
        if delimiter == ","
        else ""
    )
    more = "more" if cells > columns else "fewer"
    return f"{cells} cells, {more} than the header has columns ({columns}){hint}"


def _row(
    number: int,
    cells: list[str],
    header: list[str],
    student_at: int,
    variant_at: int,
    answer_at: list[int],
) -> Row | BadRow:
    student = cells[student_at].strip()
    variant = cells[variant_at].strip()
    if not variant:
        return BadRow(number, "no variant code: copy it from the sheet (e.g. K7Q2M)")
    if len(student) > MAX_STUDENT or not student.isprintable():
        return BadRow(
            number, f"the student must be printable text of at most {MAX_STUDENT} characters"
        )
    answers = {header[i]: cells[i].strip() for i in answer_at if cells[i].strip()}
    return Row(number, student, variant, answers)


def read_table(path: Path) -> Table:
    """Read and check one spreadsheet of answers (raises AnswersError)."""
    return parse_table(read_limited(path, MAX_CSV_BYTES, "a spreadsheet of answers"), str(path))
