"""Regrading an LMS's response export: every finished attempt graded like an answers file, with
follow-through and misconceptions, and each student's best attempt kept.

An LMS marks each box on its own; bpquiz reads the same typed answers again (a Unicode minus and
a decimal comma included, which Moodle marks wrong) and says in an item's feedback where the LMS
read a number otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bpquiz.exercises.key import KeyIndex
from bpquiz.files import spreadsheet_text
from bpquiz.grading.compare import Comparison
from bpquiz.grading.items import (
    GradingError,
    GradingNote,
    Marker,
    Outcome,
    Result,
    SheetError,
    grade_sheet,
)
from bpquiz.grading.readers.canvas import LMS as CANVAS
from bpquiz.grading.readers.canvas import read_student_analysis
from bpquiz.grading.readers.lms import LmsExport
from bpquiz.grading.readers.moodle import read_responses
from bpquiz.grading.readers.numbers import NotANumber, parse_number, shown
from bpquiz.grading.readers.sheet import AnswerSheet
from bpquiz.grading.report import number


def read_lms_export(data: bytes, source: str, keys: KeyIndex) -> LmsExport | None:
    """A Moodle Responses report or a Canvas Student Analysis report, read; None for any other
    CSV (AnswersError for one of these that can't be used at all)."""
    try:
        text = spreadsheet_text(data)
    except UnicodeDecodeError:
        return None  # the spreadsheet reader says what is wrong with the encoding
    for reader in (read_responses, read_student_analysis):
        export = reader(text, source, keys)
        if export is not None:
            return export
    return None


def grade_lms_export(
    export: LmsExport,
    source: str,
    keys: KeyIndex,
    comparison: Comparison,
    markers: Sequence[Marker],
) -> list[Outcome]:
    """Every attempt graded (or its error or note), in row order; a student's other attempts
    become notes, the best one counts."""
    outcomes: list[tuple[int, Outcome]] = [(0, GradingNote(source, n)) for n in export.notes]
    graded: list[tuple[int, Result]] = []
    for attempt in export.attempts:
        where = f"row {attempt.row}: "
        if attempt.sheet is None:
            if attempt.error:
                outcomes.append((attempt.row, GradingError(source, where + attempt.error)))
            else:
                outcomes.append((attempt.row, GradingNote(source, where + attempt.note)))
            continue
        variant = keys.find(attempt.sheet.variant)
        try:
            result = grade_sheet(attempt.sheet, variant, comparison, markers)
        except SheetError as exc:
            outcomes.append((attempt.row, GradingError(source, where + str(exc))))
            continue
        if export.reads is not None:
            result = _where_the_lms_differs(result, attempt.sheet, export.lms, export.reads, keys)
        if (
            export.lms == CANVAS
            and variant.student is not None
            and variant.student.casefold() not in result.ids()
        ):
            # Canvas gives each variant's quiz to the students it is assigned to (Moodle draws
            # one at random). The LMS signed the student in, so its word on who this is stands;
            # but a teacher who assigned each variant to its roster student wants to know.
            outcomes.append(
                (
                    attempt.row,
                    GradingNote(
                        source,
                        f"{where}{result.student} answered variant {variant.code}, which the key "
                        f'drew for "{variant.student}": graded as {result.student}\'s',
                    ),
                )
            )
        graded.append((attempt.row, result))
    best: dict[str, tuple[int, Result]] = {}
    for row, result in graded:
        if result.student not in best or result.score >= best[result.student][1].score:
            best[result.student] = (row, result)  # the later of equal attempts
    for row, result in graded:
        kept_row, kept = best[result.student]
        if row == kept_row:
            outcomes.append((row, result))
        else:
            outcomes.append(
                (
                    row,
                    GradingNote(
                        source,
                        f"row {row}: another attempt of {result.student} "
                        f"({number(result.score)}/{number(result.max_score)}) is not counted: "
                        f"the best one, row {kept_row} "
                        f"({number(kept.score)}/{number(kept.max_score)}), is",
                    ),
                )
            )
    outcomes.sort(key=lambda numbered: numbered[0])
    return [outcome for _, outcome in outcomes]


def _where_the_lms_differs(
    result: Result,
    sheet: AnswerSheet,
    lms: str,
    reads: Callable[[str], float | None],
    keys: KeyIndex,
) -> Result:
    """Add to an item's feedback where the LMS read the typed number otherwise and so marked
    wrong what bpquiz credits (Moodle reads "0,5" as 5 and "−0.5" as no number)."""
    tolerance = {q.id: q.tol_abs for q in keys.find(result.variant).asked}
    items = []
    for item in result.items:
        typed = sheet.answers.get(item.id)
        if isinstance(typed, str) and item.credit > 0:
            read = reads(typed)
            try:
                ours = parse_number(typed).value
            except NotANumber:
                ours = None
            lms_right = read is not None and abs(read - item.expected) <= tolerance[item.id]
            if read != ours and not lms_right:
                how = f"as {read:g}" if read is not None else "as no number"
                item = item._replace(
                    feedback=(item.feedback + " " if item.feedback else "")
                    + f"({lms} read {shown(typed, 30)} {how} and marked it wrong.)"
                )
        items.append(item)
    return replace(result, items=tuple(items))
