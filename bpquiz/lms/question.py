"""One key variant as an LMS question: the problem sheet's content as HTML, one answer box per
asked quantity (with the key's value, tolerance and points) and the worked solution.

The content is the sheet's own (`bpquiz.sheets.context`), so an online question says what the
printed one says; the templates in `templates/` write it as HTML that is also well-formed XML,
because QTI embeds it as XHTML. Each target (Moodle, QTI, Canvas) only says how a box is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from bpquiz.errors import BpquizError
from bpquiz.exercises.key import KeyVariant
from bpquiz.maths.rounding import Rounding

TEMPLATES = Path(__file__).parent / "templates"
IMAGE = "network.svg"
"""The network drawing's file name, next to each question."""


class ExportError(BpquizError):
    """A key or an output that can't be exported; the message says what to do."""


def ascii_minus(text: str) -> str:
    """Numbers as students should type them into an LMS box: Moodle refuses '−' (U+2212)."""
    return text.replace("−", "-")


def plain_number(value: float) -> str:
    """A float as the shortest decimal that reads back as the same float: '-0.399', '6e-05'."""
    text = repr(float(value))
    return "0" if text in ("0.0", "-0.0") else text.removesuffix(".0")


@dataclass(frozen=True)
class Box:
    """One asked quantity: what the student types into one box, and how it is marked."""

    id: str
    symbol: str
    value: float
    """The key's exact value."""
    tol: float
    points: float
    shown: str
    """The value written to the rounding rule, with a plain minus: what an LMS shows as the right
    answer."""


@dataclass(frozen=True)
class Part:
    """A numbered question of the sheet: its boxes, in the sheet's rows."""

    title: str
    rows: tuple[tuple[Box, ...], ...]

    @property
    def boxes(self) -> tuple[Box, ...]:
        return tuple(b for row in self.rows for b in row)

    @property
    def points(self) -> float:
        return math.fsum(b.points for b in self.boxes)


@dataclass(frozen=True)
class WorkedStep:
    id: str
    symbol: str
    formula: str
    working: str
    """'= numbers = result', as on the worked solution (with its note where unrounded values give
    another last digit)."""
    accepted: str
    """'low … high' for an asked quantity, else ''."""


@dataclass(frozen=True)
class Question:
    """One variant of an exam, ready to be written for any LMS."""

    exam: str
    code: str
    rounding: Rounding
    content: dict[str, Any]
    """The sheet's instructions and given tables (bpquiz.sheets.context)."""
    svg: str
    """The network drawing, a standalone SVG document."""
    width: int
    height: int
    parts: tuple[Part, ...]
    steps: tuple[tuple[str, tuple[WorkedStep, ...]], ...]
    """The worked solution: (section title, its steps)."""

    @property
    def name(self) -> str:
        """The question's name in a bank: the exam and the variant code."""
        return f"{self.exam} · {self.code}"

    @property
    def boxes(self) -> tuple[Box, ...]:
        return tuple(b for part in self.parts for b in part.boxes)

    @property
    def points(self) -> float:
        return math.fsum(b.points for b in self.boxes)

    def html(self, box: Callable[[Box], str], image: str) -> str:
        """The question text: instructions, the network (<img src=`image`>), the givens, and
        each asked quantity's box written by `box` (markup for the target)."""
        return render(
            "question.html",
            question=self,
            image=image,
            box=lambda b: Markup(box(b)),
            **self.content,
        )

    def stimulus_html(self, image: str) -> str:
        """The question text without boxes (Canvas asks each quantity as its own question)."""
        return render("question.html", question=self, image=image, box=None, **self.content)

    def solution_html(self, only: str | None = None) -> str:
        """The worked solution (every step, or only the step of quantity `only`)."""
        steps = self.steps
        if only is not None:
            steps = tuple(
                (title, chosen)
                for title, section in steps
                if (chosen := tuple(s for s in section if s.id == only))
            )
        return render("solution.html", question=self, sections=steps, single=only is not None)


@cache
def _environment() -> jinja2.Environment:
    # Autoescaping for everything, XML included: exam names, symbols and formulas are text.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["ascii"] = ascii_minus
    environment.filters["number"] = plain_number
    return environment


def render(name: str, **context: Any) -> str:
    """A template of bpquiz/lms/templates, rendered."""
    return _environment().get_template(name).render(context)


def accepted_range(rounding: Rounding, value: float, tol: float) -> str:
    """'0.43039 … 0.43051': value ± tol, one digit more than the rule asks, so it shows where the
    range ends."""
    places = max(0, -math.floor(math.log10(rounding.unit(value))) + 1)
    return f"{value - tol:.{places}f} … {value + tol:.{places}f}".replace("-", "−")


def _svg_size(svg: str) -> tuple[int, int]:
    found = re.search(r'<svg[^>]*\bwidth="([\d.]+)"[^>]*\bheight="([\d.]+)"', svg)
    if not found:
        return 680, 300
    return round(float(found.group(1))), round(float(found.group(2)))


def question(variant: KeyVariant) -> Question:
    """A key variant as a Question (rebuilds its maths: needs numpy)."""
    from bpquiz.exercises.draw import Variant
    from bpquiz.exercises.presets import Settings
    from bpquiz.sheets.context import sheet_context
    from bpquiz.sheets.options import SheetOptions

    solution = variant.solution
    problem = solution.problem
    asked = [q for q in variant.quantities if q.asked]
    if not asked:
        raise ExportError(f"{variant.source}: variant {variant.code} asks for nothing")
    # The sheet's own content: only what the sheet asks for and how it rounds matter here.
    settings = Settings(
        preset="",
        description="",
        layers=tuple(problem.layers),
        activations=tuple(problem.activations),
        loss=problem.loss,
        bias=problem.bias,
        rounding=variant.rounding,
        asked=tuple(dict.fromkeys(q.kind for q in asked)),
    )
    context = sheet_context(Variant(variant.code, solution), settings, SheetOptions())
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(context["diagram"]) + "\n"
    width, height = _svg_size(svg)
    return Question(
        exam=variant.exam,
        code=variant.code,
        rounding=variant.rounding,
        content={"instructions": context["instructions"], "givens": context["givens"]},
        svg=svg,
        width=width,
        height=height,
        parts=_in_key_order(_parts(context["questions"], variant), variant),
        steps=_worked_solution(variant),
    )


def _parts(sheet_questions: list[dict[str, Any]], variant: KeyVariant) -> tuple[Part, ...]:
    """The sheet's numbered questions and their rows of boxes; values, tolerances and points come
    from the key file, which is what grading uses."""
    by_id = {q.id: q for q in variant.asked}
    parts = []
    for item in sheet_questions:
        rows = []
        for line in item["rows"]:
            row = tuple(
                Box(
                    q.id,
                    entry["symbol"],
                    q.value,
                    q.tol_abs,
                    q.points,
                    ascii_minus(variant.rounding.format(q.value)),
                )
                for entry in line
                if (q := by_id.get(entry["id"])) is not None
            )
            if row:
                rows.append(row)
        if rows:
            parts.append(Part(item["title"], tuple(rows)))
    return tuple(parts)


def _in_key_order(parts: tuple[Part, ...], variant: KeyVariant) -> tuple[Part, ...]:
    """The parts with their boxes in the key's order. A Moodle response lists the boxes as "part 1,
    part 2, …", and grading reads them in the key's order; where the sheet's layout would reorder
    them, each box gets a row of its own, in the key's order, under its section's title."""
    order = [q.id for q in variant.asked]
    if [b.id for p in parts for b in p.boxes] == order:
        return parts
    placed = {b.id: (p.title, b) for p in parts for b in p.boxes}
    missing = set(order) - set(placed)
    if missing:
        raise ExportError(
            f"{variant.source}: variant {variant.code} asks for "
            f"{', '.join(sorted(missing))}, which its problem does not compute"
        )
    runs: list[tuple[str, list[Box]]] = []
    for qid in order:
        title, b = placed[qid]
        if not runs or runs[-1][0] != title:
            runs.append((title, []))
        runs[-1][1].append(b)
    return tuple(Part(title, tuple((b,) for b in boxes)) for title, boxes in runs)


def _worked_solution(variant: KeyVariant) -> tuple[tuple[str, tuple[WorkedStep, ...]], ...]:
    """Every step under its section's title, as the worked solution sheet writes it."""
    from bpquiz.maths.notation import make_notation

    solution = variant.solution
    problem = solution.problem
    notation = make_notation("layered", problem.depth, problem.examples)
    asked = {q.id: q for q in variant.asked}
    sections = []
    for title, quantities in solution.sections():
        steps = []
        for q in quantities:
            step = solution.step(q.id, notation, variant.rounding)
            entry = asked.get(q.id)
            accepted = accepted_range(variant.rounding, entry.value, entry.tol_abs) if entry else ""
            working = f"{step.working} {step.note}" if step.note else step.working
            steps.append(WorkedStep(q.id, step.symbol, step.formula, working, accepted))
        sections.append((title, tuple(steps)))
    return tuple(sections)


def questions(variants: Sequence[KeyVariant]) -> list[Question]:
    return [question(v) for v in variants]
