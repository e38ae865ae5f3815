"""Moodle XML: a category named after the exam, one Cloze ("Embedded answers") question a variant.

A quiz's "random question from category" slot then gives every student their own variant. Each
asked quantity is a NUMERICAL gap `{marks:NUMERICAL:=shown:0~=value:tolerance}`: the first
alternative, the value as the sheet's rule writes it with tolerance 0, is what Moodle shows as
"the correct answer"; the second, the key's value with the key's tolerance, is what marks it
(both 100%). Facts measured with Moodle 4.4 (the harness in shared/tools/moodle) that shape this:

- a gap's marks must be a whole number: `{0.5:NUMERICAL:…}` is not read as a gap at all;
- a literal brace in the question text can start a gap, so braces are written as entities;
- Moodle keeps 14 significant digits of a value and widens the interval by 1e-14 of it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from fractions import Fraction

from bpquiz.lms.question import IMAGE, Box, ExportError, Question, plain_number, render

GAP = re.compile(r"\{\d+:NUMERICAL:[^{}]*\}")
SCALES = (1, 2, 4, 5, 10, 20, 25, 50, 100)
"""Factors tried, in turn, to make every gap's marks whole."""


def category_path(exam: str) -> str:
    """Moodle's category path for the exam: course level, under Top; '/' in a name is '//'."""
    return "$course$/top/" + exam.replace("/", "//")


def marks_scale(questions: Sequence[Question]) -> int:
    """The smallest factor that makes every box's points whole (Cloze gaps take whole marks)."""
    points = {Fraction(b.points).limit_denominator(1000) for q in questions for b in q.boxes}
    for scale in SCALES:
        if all((p * scale).denominator == 1 for p in points):
            return scale
    raise ExportError(
        "Moodle's Cloze gaps take whole marks, and no factor up to 100 makes these points whole: "
        f"{', '.join(sorted({plain_number(float(p)) for p in points}))}"
    )


def gap(box: Box, scale: int) -> str:
    marks = round(box.points * scale)
    exact = f"={plain_number(box.value)}:{plain_number(box.tol)}"
    shown = float(box.shown)
    if shown != box.value and abs(shown - box.value) <= box.tol:
        return f"{{{marks}:NUMERICAL:={box.shown}:0~{exact}}}"
    return f"{{{marks}:NUMERICAL:{exact}}}"


def _outside_gaps(html: str) -> str:
    """Braces outside the gaps as entities: Moodle would read `{#1}` or `{1:…}` as a gap."""
    pieces = GAP.split(html)
    gaps = GAP.findall(html)
    escaped = [p.replace("{", "&#123;").replace("}", "&#125;") for p in pieces]
    return "".join(e + (gaps[i] if i < len(gaps) else "") for i, e in enumerate(escaped))


def question_text(question: Question, scale: int) -> str:
    return _outside_gaps(question.html(lambda b: gap(b, scale), f"@@PLUGINFILE@@/{IMAGE}"))


def moodle_xml(questions: Sequence[Question]) -> tuple[str, int]:
    """The Moodle XML file of an exam's questions, and the factor its marks were scaled by."""
    scale = marks_scale(questions)
    exam = questions[0].exam
    info = (
        f"bpquiz exam {exam}: {len(questions)} variant{'s' * (len(questions) != 1)}, one Cloze "
        "question each. Add it to a quiz as a random question from this category, so each "
        "student gets their own variant; then regrade the quiz's Responses report with "
        "`bpquiz grade`."
    )
    written = [
        {
            "name": q.name,
            "code": q.code,
            "text": question_text(q, scale),
            "feedback": _outside_gaps(q.solution_html()),
            "image": base64.b64encode(q.svg.encode("utf-8")).decode("ascii"),
        }
        for q in questions
    ]
    xml = render(
        "moodle.xml", category=category_path(exam), info=info, questions=written, image=IMAGE
    )
    return xml, scale
