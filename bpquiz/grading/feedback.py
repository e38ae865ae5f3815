"""Feedback sheets: one PDF per marked student, in the look of the exam's other sheets.

Each sheet shows every answer next to the right one with its verdict and feedback, then the worked
step (`Solution.step`, written as on the worked solution) of every item that lost points, with the
misconception explained when one was recognised. `feedback_context` gives plain data,
`render_feedback_html` the HTML, `write_feedback` the files (WeasyPrint only on that path).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bpquiz.exercises.key import KeyIndex, KeyVariant
from bpquiz.files import write_atomic
from bpquiz.grading.items import Item, Report, Result, Status, as_typed
from bpquiz.grading.outputs import Inputs, check_output, refuse_existing
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.notation import make_notation
from bpquiz.sheets.options import SheetOptions, header
from bpquiz.sheets.templates import render_template, template_roots
from bpquiz.sheets.workers import pdfs_in_parallel

VERDICT_WORDS = {
    Status.CORRECT: "correct",
    Status.FOLLOW_THROUGH: "follow-through",
    Status.WRONG: "wrong",
    Status.MISSING: "missing",
    Status.INVALID: "not a number",
}
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_NAME = 60


def number(value: float) -> str:
    """Points without float noise: 1, 0.5."""
    return f"{round(value, 2):g}"


def safe_stem(student: str) -> str:
    """A file-name stem from a student id, which is user text: only letters, digits, '-', '_'
    and '.', never a leading dot or dash, never a path component; 'student' if nothing is left."""
    stem = SAFE_NAME.sub("_", student).strip("._-")[:MAX_NAME].rstrip("._-")
    return stem or "student"


def _given(item: Item) -> str:
    """The answer as the student typed it ("0,353" stays 0,353), its minus written as a sheet's."""
    if item.given is None:
        return "—"
    if isinstance(item.given, float) and item.typed is not None:
        return as_typed(item.typed)
    return f"“{item.given}”"


def _with_header(options: SheetOptions, header: dict[str, str]) -> SheetOptions:
    """The sheet options with the exam's own title, course and date, as its key keeps them."""
    return replace(
        options,
        title=header.get("title", options.title),
        course=header.get("course", options.course),
        date=header.get("date", options.date),
    )


def feedback_context(result: Result, variant: KeyVariant, options: SheetOptions) -> dict[str, Any]:
    """Everything one student's feedback sheet shows, as plain data."""
    rule = result.rule
    solution = variant.solution
    problem = solution.problem
    notation = make_notation(
        "layered", problem.depth, problem.examples
    )  # the key's notation, as its symbols

    written = rule.format

    rows, steps = [], []
    for item in result.items:
        row = {
            "id": item.id,
            "symbol": item.symbol,
            "given": _given(item),
            "expected": written(item.expected),
            "status": str(item.status),
            "verdict": VERDICT_WORDS[item.status],
            "points": f"{number(item.score)}/{number(item.points)}",
            # A right answer needs no words, and a missing one has its verdict ("missing").
            "feedback": item.feedback
            if item.status not in (Status.CORRECT, Status.MISSING)
            else "",
        }
        rows.append(row)
        if item.credit < 1:
            step = solution.step(item.id, notation, rule)
            mistake = CATALOGUE.get(item.misconception or "")
            steps.append(
                {
                    **row,
                    "formula": step.formula,
                    "working": step.working,
                    "substituted": step.numbers,
                    "result": step.result,
                    "result_note": step.note,
                    "misconception": mistake.code if mistake else "",
                    "explanation": mistake.explain(result.delta_sign) if mistake else "",
                }
            )
    counts = {VERDICT_WORDS[s]: sum(i.status is s for i in result.items) for s in Status}
    return {
        **header(
            "feedback",
            _with_header(options, dict(variant.header)),
            result.variant,
            {"name": variant.student_name, "id": result.student},
        ),
        "score": number(result.score),
        "max_score": number(result.max_score),
        "percent": f"{result.percent:.1f}",
        "counts": [(word, n) for word, n in counts.items() if n],
        "rounding": rule.describe(),
        "rows": rows,
        "steps": steps,
    }


def render_feedback_html(result: Result, variant: KeyVariant, options: SheetOptions) -> str:
    return render_template(
        "feedback.html", feedback_context(result, variant, options), options.templates
    )


def feedback_paths(results: Sequence[Result], folder: Path) -> list[Path]:
    """One file per result, named after the student (made safe); clashes get the variant code,
    then a number, so no student's sheet replaces another's."""
    taken: set[str] = set()
    paths = []
    for result in results:
        stem = safe_stem(result.student)
        candidates = [stem, f"{stem}-{safe_stem(result.variant)}"]
        candidates += [f"{stem}-{n}" for n in range(2, len(results) + 2)]
        name = next(c for c in candidates if c.lower() not in taken)
        taken.add(name.lower())  # case-insensitive file systems
        paths.append(folder / f"{name}-feedback.pdf")
    return paths


def write_feedback(
    report: Report,
    keys: KeyIndex,
    folder: Path,
    options: SheetOptions | None = None,
    replace: bool = False,
    inputs: Inputs | None = None,
) -> list[Path]:
    """Write each graded student's feedback PDF into `folder` (atomically), rendering them over
    worker processes as the exam sheets are. Before anything is rendered: no sheet may replace
    one of the `inputs` being graded (OptionError), nor an earlier sheet unless `replace`
    (OutputExists)."""
    options = options or SheetOptions()
    paths = feedback_paths(report.results, folder)
    if inputs is not None:
        for path in paths:
            check_output(path, inputs, "--feedback")
    refuse_existing(paths, replace)
    htmls = [render_feedback_html(r, keys.find(r.variant), options) for r in report.results]
    pdfs = pdfs_in_parallel(htmls, template_roots(options.templates))
    for path, (data, _pages) in zip(paths, pdfs, strict=True):
        write_atomic(path, data, replace=replace)
    return paths
