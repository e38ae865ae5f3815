"""Canvas Classic Quizzes' "Student Analysis" report (CSV) of a quiz `bpquiz export --canvas` made.

Canvas's layout (canvas-lms, app/models/quizzes/quiz_statistics/student_analysis.rb, `to_csv`):
"name", "id", "sis_id", ["root_account"], "section", "section_id", "section_sis_id", "submitted",
["attempt"], then two columns per question, "<question id>: <question text without tags>" (the
answer as typed) and "<points possible>" (the points it earned), then "n correct", "n incorrect",
"score". Bracketed columns appear only sometimes, so columns are found by name.

Each numerical question bpquiz exported ends its text with `[bpquiz EXAM/CODE/ID]`, so the
header says which variant and quantity a column holds. The student is the SIS id, else Canvas's
user id. No real Canvas was reachable to make a sample: this follows Canvas's source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bpquiz.exercises.key import KeyIndex
from bpquiz.grading.readers.lms import Attempt, LmsExport, rows_of, variant_of
from bpquiz.grading.readers.sheet import MAX_STUDENT, AnswersError, AnswerSheet, Identity

LMS = "Canvas"
QUESTION = re.compile(r"\d+: ")
MARKER = re.compile(
    r"\[bpquiz (?P<exam>[^/\]]{1,200}?)/(?P<code>[0-9A-Za-z]{1,16})/(?P<id>[A-Za-z0-9_]{1,64})\]"
)
"""Bounded repeats: an unbounded `.+?` took seconds on a header cell of many "[bpquiz " (each
start scanned the rest of the cell)."""


def is_student_analysis_header(header: Sequence[str]) -> bool:
    return (
        len(header) > 3
        and {"name", "id", "submitted", "n correct", "score"} <= set(header)
        and any(QUESTION.match(h) for h in header)
    )


def read_student_analysis(text: str, source: str, keys: KeyIndex) -> LmsExport | None:
    """The attempts of a Student Analysis report; None when `text` is not one."""
    records = rows_of(text, is_student_analysis_header)
    if records is None:
        return None
    header, body = records[0], records[1:]
    columns = {name: i for i, name in enumerate(header)}
    # (column of the answer, exam, code, quantity id); the points column follows each answer.
    marked = [
        (i, m["exam"], m["code"], m["id"])
        for i, h in enumerate(header)
        if QUESTION.match(h) and (m := MARKER.search(h))
    ]
    if not marked:
        raise AnswersError(
            "a Canvas Student Analysis report with no bpquiz question (their text ends with "
            "[bpquiz EXAM/CODE/ID] when `bpquiz export --canvas` wrote them): another quiz's?"
        )
    attempts = []
    for number, record in enumerate(body, start=2):
        if not any(record):
            continue

        def cell(at: int | None, record: list[str] = record) -> str:
            return record[at] if at is not None and at < len(record) else ""

        identity = Identity(
            name=cell(columns.get("name")),
            number=cell(columns.get("sis_id")),
            lms_user=cell(columns.get("id")),
        )
        student = identity.number or identity.lms_user
        who = f"{identity.name} ({student})" if identity.name else student
        if not student:
            attempts.append(Attempt(number, error="no sis_id or id to tell who it is"))
            continue
        if len(student) > MAX_STUDENT or not student.isprintable():
            attempts.append(
                Attempt(
                    number,
                    error=f"the student must be printable text of at most {MAX_STUDENT} characters",
                )
            )
            continue
        # A question the student did not get has both its cells blank.
        taken = [(i, e, c, q) for i, e, c, q in marked if cell(i) or cell(i + 1)]
        codes = sorted({(e, c) for _, e, c, _ in taken})
        if len(codes) != 1:
            error = (
                "answered no bpquiz question"
                if not codes
                else f"answered questions of several variants ({', '.join(c for _, c in codes)})"
            )
            attempts.append(Attempt(number, error=f"{who}: {error}"))
            continue
        exam, code = codes[0]
        found = variant_of(keys, code, exam)
        if isinstance(found, str):
            attempts.append(Attempt(number, error=f"{who}: {found}"))
            continue
        answers = {q: (cell(i) or None) for i, _, _, q in taken}
        attempts.append(Attempt(number, AnswerSheet(source, code, student, answers, identity)))
    return LmsExport(LMS, tuple(attempts))
