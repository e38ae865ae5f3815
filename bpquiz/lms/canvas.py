"""Canvas (Classic Quizzes): a QTI 1.2 package in Canvas's own flavour, one quiz per variant.

Canvas can't give each student one whole set of related questions at random (a question group
draws single questions), and its one multi-box question type (fill in multiple blanks) matches
text, not numbers within a tolerance. So each variant becomes a quiz of its own: the problem as a
text-only question, then one numerical question per asked quantity, scored as the key's value ±
the key's tolerance (Canvas's "exact answer with margin"), with the key's points and the worked
step as its feedback; the teacher assigns each quiz to its students ("Assign to").

Every numerical question's text ends with a marker `[bpquiz EXAM/CODE/ID]`; Canvas's "Student
Analysis" report puts the question text into its column headers, which is how `bpquiz grade`
maps the report back to the key (bpquiz.grading.readers.canvas).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup

from bpquiz.lms.package import identifier, zip_bytes
from bpquiz.lms.question import Box, Question, plain_number, render

FILEBASE = "%24IMS-CC-FILEBASE%24"
"""How a Canvas package refers to its own files from question HTML."""


def marker(exam: str, code: str, box_id: str) -> str:
    """The text that identifies a question in Canvas's reports."""
    return f"[bpquiz {exam}/{code}/{box_id}]"


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def numerical_item(question: Question, box: Box, quiz: str) -> dict[str, object]:
    value, tol = _decimal(box.value), _decimal(box.tol)
    text = Markup(
        "<p><strong>{}</strong> = ? Round to {}; type a decimal point and a plain minus sign.</p>"
        "<p><small>{}</small></p>"
    ).format(box.symbol, question.rounding.describe(), marker(question.exam, question.code, box.id))
    return {
        "ident": identifier(f"{quiz}-{box.id}"),
        "box": box,
        # HTML as text: the template escapes it once more, as Canvas's <mattext> wants.
        "text": str(text),
        "exact": plain_number(box.value),
        "low": _plain(value - tol),
        "high": _plain(value + tol),
        "feedback": question.solution_html(only=box.id),
    }


def canvas_package(questions: Sequence[Question]) -> bytes:
    """The package's bytes: one quiz per variant, its drawing under images/."""
    exam = questions[0].exam
    files: dict[str, str | bytes] = {}
    quizzes = []
    for q in questions:
        quiz = identifier(f"{exam}-{q.code}")
        image = f"images/{quiz}-network.svg"
        title = f"{exam} – variant {q.code}"
        files[f"{quiz}/{quiz}.xml"] = render(
            "canvas_quiz.xml",
            identifier=quiz,
            title=title,
            question=q,
            stimulus=q.stimulus_html(f"{FILEBASE}/{image}"),
            items=[numerical_item(q, b, quiz) for b in q.boxes],
        )
        files[f"{quiz}/assessment_meta.xml"] = render(
            "canvas_meta.xml",
            identifier=quiz,
            title=title,
            points=q.points,
            description=(
                f"Backpropagation exercise {exam}, variant {q.code}. Assign this quiz only to "
                f"the students who have variant {q.code}."
            ),
        )
        files[image] = q.svg
        quizzes.append(
            {
                "identifier": quiz,
                "href": f"{quiz}/{quiz}.xml",
                "meta": f"{quiz}/assessment_meta.xml",
                "image": image,
            }
        )
    manifest = render("canvas_manifest.xml", identifier=identifier(exam), quizzes=quizzes)
    return zip_bytes({"imsmanifest.xml": manifest, **files})
