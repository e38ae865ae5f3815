"""A class roster: a CSV file with the columns id and name (and, optionally, email), one student
per row. The email lets `bpquiz grade` find a student in an LMS export that names students by
email address (Moodle's Responses report)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bpquiz.errors import BpquizError
from bpquiz.files import SPREADSHEET_DELIMITERS, Refused, read_limited, spreadsheet_text

MAX_STUDENTS = 2000
MAX_BYTES = 1 << 20
"""2,000 students with long names are ~200 kB."""
MAX_TEXT = 200
"""Characters of an id or a name: what an answers file allows for a student id; a name that long
still fits its box on the sheet (a 40,000-character one took minutes to lay out)."""


class RosterError(BpquizError):
    """A roster that can't be used; the message names the file and the line."""


def load_roster(path: Path) -> list[dict[str, str]]:
    try:
        text = spreadsheet_text(read_limited(path, MAX_BYTES, "a roster"))
    except Refused as exc:
        raise RosterError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise RosterError(f'{path}: not UTF-8 text: save the roster as "CSV UTF-8"') from None
    lines = text.splitlines()
    if not lines:
        raise RosterError(f"{path}: the roster is empty (expected a header line: id,name)")
    for delimiter in SPREADSHEET_DELIMITERS:  # whichever makes a header with id and name
        rows = _rows(path, text, delimiter)
        header = [cell.strip().lower() for cell in rows[0][1]]
        if "id" in header and "name" in header:
            break
    else:
        raise RosterError(f"{path}: line 1: expected the columns id,name, got {lines[0][:60]}")
    id_col, name_col = header.index("id"), header.index("name")
    email_col = header.index("email") if "email" in header else None
    students: list[dict[str, str]] = []
    seen: set[str] = set()
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(id_col, name_col):
            raise RosterError(
                f"{path}: line {line}: expected an id and a name, got {','.join(row)[:60]}"
            )
        sid, name = row[id_col].strip(), row[name_col].strip()
        email = row[email_col].strip() if email_col is not None and email_col < len(row) else ""
        if not sid:
            raise RosterError(f"{path}: line {line}: the id is empty")
        for what, text in (("id", sid), ("name", name), ("email", email)):
            if "\n" in text or "\r" in text:
                raise RosterError(
                    f"{path}: line {line}: the {what} holds a line break (a quote that is never "
                    "closed? the rows after it would be read as part of this one)"
                )
            if len(text) > MAX_TEXT:
                raise RosterError(
                    f"{path}: line {line}: the {what} is longer than {MAX_TEXT} characters"
                )
            if not text.isprintable():
                raise RosterError(
                    f"{path}: line {line}: the {what} holds a control character (a tab "
                    "inside a cell?)"
                )
        if sid in seen:
            raise RosterError(f"{path}: line {line}: the id '{sid}' appears twice")
        seen.add(sid)
        student = {"id": sid, "name": name}
        if email:
            student["email"] = email
        students.append(student)
    if not students:
        raise RosterError(f"{path}: the roster has a header but no students")
    if len(students) > MAX_STUDENTS:
        raise RosterError(f"{path}: {len(students)} students; at most {MAX_STUDENTS} per exam")
    return students


def _rows(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The rows of the CSV text, each with the line it starts on. A quoted cell may hold a line
    break (so a quote never closed swallows the rows after it): the reader keeps it in the cell,
    where it is reported, rather than joining the lines silently."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:  # a cell over csv's limit (128 KiB): a quote never closed?
        raise RosterError(f"{path}: not a readable CSV file ({exc})") from None
    return rows
