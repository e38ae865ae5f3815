"""The gradebook CSV: bpquiz's own, or one that Moodle's or Canvas's gradebook import takes.

- `bpquiz`: student, variant, score, max_score, percent, then the points of each quantity; with a
  roster also `name` and `status` (graded, absent, not_on_roster, graded_twice), every roster
  student in roster order.
- `moodle` (Grades > Import > CSV file, grade/import/csv): a user column to map ("Map from"
  `Email address` or `Student ID`, "Map to" Email address, ID number or Username), per exam its
  points and its percentage (a new grade item Moodle makes has a maximum of 100: map the `%`
  column to it; map the points to an item whose maximum is the exam's total), blank for no grade,
  and a `Feedback` column to map to an existing item's feedback. Moodle stops the whole import at
  a user it doesn't know, so only students on the course belong in it.
- `canvas` (Grades > Import): the header Canvas's GradebookImporter requires, `Student`, `ID`,
  `SIS User ID`, `SIS Login ID`, `Section`, then a column per exam (a new assignment of that name
  unless one exists), a `Points Possible` row, and a row per student, matched by Canvas user ID,
  else by SIS User ID, else by name. Canvas treats every other column as an assignment, so there
  is nothing else.

Text cells that a spreadsheet would run as a formula get a leading apostrophe (report.neutralise).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from bpquiz.grading.classlist import Attendance, Line, class_lines
from bpquiz.grading.items import Report, Result, Status
from bpquiz.grading.report import gradebook_csv as plain_gradebook
from bpquiz.grading.report import neutralise, number

STYLES = ("bpquiz", "moodle", "canvas")


def gradebook_csv(report: Report, style: str = "bpquiz") -> str:
    """The gradebook of `report` in one of STYLES."""
    if style == "moodle":
        return _moodle(report)
    if style == "canvas":
        return _canvas(report)
    if not report.roster:
        return plain_gradebook(report)
    return _bpquiz_with_roster(report)


def _exams(lines: Iterable[Line]) -> list[str]:
    return list(dict.fromkeys(line.result.exam for line in lines if line.result is not None))


def _bpquiz_with_roster(report: Report) -> str:
    lines = class_lines(report)
    ids: dict[str, None] = {}
    for line in lines:
        if line.result is not None:
            ids.update(dict.fromkeys(item.id for item in line.result.items))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student", "name", "variant", "score", "max_score", "percent", "status", *ids])
    for line in lines:
        r = line.result
        earned = {item.id: number(item.score) for item in r.items} if r else {}
        writer.writerow(
            [
                neutralise(line.student),
                neutralise(line.name),
                neutralise(r.variant) if r else "",
                number(r.score) if r else "",
                number(r.max_score) if r else "",
                f"{r.percent:.1f}" if r else "",
                str(line.status),
                *(earned.get(qid, "") for qid in ids),
            ]
        )
    return buffer.getvalue()


def feedback_line(result: Result) -> str:
    """A one-line summary for an LMS's feedback column."""
    counts = {status: 0 for status in Status}
    for item in result.items:
        counts[item.status] += 1
    words = {
        Status.FOLLOW_THROUGH: "follow-through",
        Status.WRONG: "wrong",
        Status.MISSING: "missing",
        Status.INVALID: "not a number",
    }
    parts = [f"{n} {words[s]}" for s, n in counts.items() if n and s in words]
    codes = sorted({i.misconception for i in result.items if i.misconception})
    text = f"bpquiz: {number(result.score)}/{number(result.max_score)} ({result.percent:.1f}%)"
    if parts:
        text += "; " + ", ".join(parts)
    if codes:
        text += "; mistakes: " + ", ".join(codes)
    return text


def _counted(lines: list[Line]) -> list[Line]:
    """The lines an LMS gradebook takes: a second result of one student is not one of them."""
    return [line for line in lines if line.status is not Attendance.GRADED_TWICE]


def _moodle(report: Report) -> str:
    lines = _counted(class_lines(report))
    exams = _exams(lines)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = [name for exam in exams for name in (exam, f"{exam} %")]
    writer.writerow(["Student ID", "Email address", "Name", *columns, "Feedback"])
    for line in lines:
        r = line.result
        email = line.email or (line.identity.email if line.identity else "")
        grades = [
            cell
            for exam in exams
            for cell in (
                (number(r.score), f"{r.percent:.2f}")
                if r is not None and r.exam == exam
                else ("", "")
            )
        ]
        writer.writerow(
            [
                neutralise(line.student),
                neutralise(email),
                neutralise(line.name),
                *grades,
                feedback_line(r) if r is not None else "",
            ]
        )
    return buffer.getvalue()


def _canvas(report: Report) -> str:
    lines = _counted(class_lines(report))
    exams = _exams(lines)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *exams])
    possible = []
    for exam in exams:
        maxima = {
            line.result.max_score for line in lines if line.result and line.result.exam == exam
        }
        possible.append(number(maxima.pop()) if len(maxima) == 1 else "")
    writer.writerow(["Points Possible", "", "", "", "", *possible])
    for line in lines:
        r = line.result
        identity = line.identity
        canvas_id = identity.lms_user if identity else ""
        sis = identity.number if identity and identity.number else ""
        if not sis and line.student != canvas_id:
            sis = line.student
        grades = [number(r.score) if r is not None and r.exam == exam else "" for exam in exams]
        writer.writerow(
            [
                neutralise(line.name or line.student),
                neutralise(canvas_id),
                neutralise(sis),
                "",
                "",
                *grades,
            ]
        )
    return buffer.getvalue()
