"""The class list: the roster matched to the graded results, so that a gradebook lists every
student in roster order, those who handed nothing in as absent.

A result belongs to a roster student when its student is the roster id, or when an LMS said who
handed it in and one of the ids it gave (the email, the student number, the LMS's user id) is the
roster id or the roster's email. Results that belong to nobody on the roster come last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from bpquiz.exercises.key import KeyIndex
from bpquiz.grading.items import Enrolled, GradingError, Report, Result
from bpquiz.grading.readers.sheet import Identity


class Attendance(StrEnum):
    GRADED = "graded"
    ABSENT = "absent"
    NOT_ON_ROSTER = "not_on_roster"
    GRADED_TWICE = "graded_twice"
    """A second result of a roster student: listed after the roster, not counted."""


@dataclass(frozen=True)
class Line:
    """One line of a gradebook: a student, and their result unless they are absent."""

    student: str
    name: str
    status: Attendance
    result: Result | None = None
    email: str = ""

    @property
    def identity(self) -> Identity | None:
        return self.result.identity if self.result is not None else None


def _wanted(enrolled: Enrolled) -> set[str]:
    """The ids a result of this roster student may carry."""
    return {enrolled.id.casefold()} | ({enrolled.email.casefold()} if enrolled.email else set())


def _name(result: Result) -> str:
    return result.identity.name if result.identity is not None else ""


def class_lines(report: Report) -> list[Line]:
    """Every roster student in roster order, then the results of students not on it; without a
    roster, a line per result."""
    if not report.roster:
        return [Line(r.student, _name(r), Attendance.GRADED, r) for r in report.results]
    by_id: dict[str, list[int]] = {}
    for i, result in enumerate(report.results):
        for student_id in result.ids():
            by_id.setdefault(student_id, []).append(i)
    lines = []
    taken: set[int] = set()
    owner: dict[int, Enrolled] = {}
    for enrolled in report.roster:
        theirs = sorted({i for student_id in _wanted(enrolled) for i in by_id.get(student_id, ())})
        for i in theirs:
            owner.setdefault(i, enrolled)
        found = next((i for i in theirs if i not in taken), None)
        if found is None:
            lines.append(Line(enrolled.id, enrolled.name, Attendance.ABSENT, email=enrolled.email))
            continue
        taken.add(found)
        result = report.results[found]
        email = enrolled.email or (result.identity.email if result.identity else "")
        lines.append(
            Line(enrolled.id, enrolled.name or _name(result), Attendance.GRADED, result, email)
        )
    for i, result in enumerate(report.results):
        if i in taken:
            continue
        # A second result of a roster student (the same id in two files, or two of their ids) is
        # theirs, graded twice, not a student missing from the roster.
        if i in owner:
            enrolled = owner[i]
            lines.append(
                Line(enrolled.id, enrolled.name, Attendance.GRADED_TWICE, result, enrolled.email)
            )
        else:
            lines.append(Line(result.student, _name(result), Attendance.NOT_ON_ROSTER, result))
    return lines


def absent(report: Report) -> int:
    """How many roster students have no result."""
    return len(absentees(report))


def absentees(report: Report) -> list[str]:
    """The roster students who have no result, in roster order: each by name, else by id."""
    return [
        line.name or line.student
        for line in class_lines(report)
        if line.status is Attendance.ABSENT
    ]


def with_roster(report: Report, roster: list[Enrolled]) -> Report:
    """The report with its roster; a graded student who is not on it is an error (a mistyped id
    on a sheet, or the wrong roster), and a student graded twice under two of their ids too."""
    marked = replace(report, roster=tuple(roster))
    problems = []
    counted = {
        line.student: line.result
        for line in class_lines(marked)
        if line.status is Attendance.GRADED and line.result is not None
    }
    for line in class_lines(marked):
        if line.result is None:
            continue
        if line.status is Attendance.NOT_ON_ROSTER:
            problems.append(
                GradingError(
                    line.result.file,
                    f'student "{line.student}" is not on the roster: listed after the roster '
                    "students in the gradebook; check the id, or the roster",
                )
            )
        first = counted.get(line.student)
        # The same id in two files is reported by the batch already; two ids of one student not.
        if (
            line.status is Attendance.GRADED_TWICE
            and first
            and first.student != line.result.student
        ):
            problems.append(
                GradingError(
                    line.result.file,
                    f'roster student "{line.student}" is also graded as "{first.student}" from '
                    f"{first.file}, which the gradebook counts: remove the file that does not count",
                )
            )
    return replace(marked, errors=report.errors + tuple(problems))


def roster_file(path: Path) -> list[Enrolled]:
    """A roster CSV (id, name, optional email), as `bpquiz generate --roster` reads it."""
    from bpquiz.exercises.roster import load_roster

    return [Enrolled(s["id"], s.get("name", ""), s.get("email", "")) for s in load_roster(path)]


def key_roster(keys: KeyIndex, report: Report, every_key: bool = False) -> list[Enrolled]:
    """The roster an exam was generated with, from its key: the students its variants were drawn
    for, in the key's order. The keys are those the report's results were graded against (or
    every key loaded, with `every_key`)."""
    variants = [v for found in keys.variants.values() for v in found]
    used = {keys.find(r.variant).source for r in report.results}
    return [
        Enrolled(v.student, v.student_name, v.student_email)
        for v in variants
        if v.student is not None and (every_key or v.source in used)
    ]
