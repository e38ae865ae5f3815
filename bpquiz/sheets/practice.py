"""A practice page: one variant's problem sheet as a web page that checks a student's answers.

The page is the problem sheet's content (`sheet_context`, laid out by `templates/practice.html`)
with the marking rules embedded as data: every quantity's expression (`Expr.tree`), the catalogued
mistakes' variations of each asked quantity (`Solution.mistakes_at`), and the key's values,
tolerances and points. A small script (`practice.js`, beside this module) walks that data: a
generic expression evaluator and the marking of `bpquiz grade` (bpquiz.grading.items and
.marking) ported line for line, so the page knows no formula of its own. It needs no server and
no network: everything is inline.

A practice page holds its answers by design. It is for practice, never for assessment.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.key import quantity_entries
from bpquiz.exercises.presets import Settings
from bpquiz.maths.functions import LEAKY_SLOPE
from bpquiz.maths.ids import given_id
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.maths.notation import make_notation
from bpquiz.sheets.context import sheet_context
from bpquiz.sheets.options import SheetOptions
from bpquiz.sheets.templates import render_template

FORMAT = "bpquiz-practice/1"
SCRIPT = Path(__file__).with_name("practice.js")


@cache
def script() -> Markup:
    """The page's script, inline. It never holds '</' (which would end the script element)."""
    text = SCRIPT.read_text(encoding="utf-8")
    if "</" in text:
        raise ValueError(f"{SCRIPT} must not contain '</'")
    return Markup(text)


def practice_data(variant: Variant, settings: Settings, options: SheetOptions) -> dict[str, Any]:
    """What the page's script marks with, as JSON: the quantity graph, the asked quantities with
    the key's value, tolerance, points and the mistakes that can be made there, and the
    mistakes' explanations under the sheet's convention for δ."""
    solution = variant.solution
    problem = solution.problem
    notation = make_notation(options.notation, problem.depth, problem.examples)
    entries = quantity_entries(
        solution, notation, settings.rounding, settings.asked, dict(settings.points)
    )
    batch = problem.examples > 1
    quantities: dict[str, dict[str, Any]] = {}
    for q in solution.quantities.values():
        entry: dict[str, Any] = {"kind": q.kind, "value": solution.values[q.id]}
        if q.expr is not None:
            entry["expr"] = q.expr.tree()
        if q.kind == "a" and q.layer == problem.depth:
            # An output claimed equal to its target makes every δ after it trivial.
            entry["target"] = given_id("t", q.neuron or 1, q.example or 1, batch)
        quantities[q.id] = entry
    asked = []
    codes: set[str] = set()
    for e in entries:
        if not e["asked"]:
            continue
        made = solution.mistakes_at(e["id"])
        codes.update(mistake.code for mistake, _ in made)
        asked.append(
            {
                "id": e["id"],
                "symbol": e["symbol"],
                "value": e["value"],
                "tol": e["tol"]["abs"],
                "points": e["points"],
                "mistakes": [[m.code, [expr.tree() for expr in exprs]] for m, exprs in made],
            }
        )
    return {
        "format": FORMAT,
        "rounding": settings.rounding.to_dict(),
        "leaky_slope": [LEAKY_SLOPE.numerator, LEAKY_SLOPE.denominator],
        "quantities": quantities,
        "asked": asked,
        "explanations": {
            code: m.explain(problem.delta_sign) for code, m in CATALOGUE.items() if code in codes
        },
    }


def practice_context(variant: Variant, settings: Settings, options: SheetOptions) -> dict[str, Any]:
    """The sheet's context, each box with its worked step, the marking data and the script."""
    context = sheet_context(variant, settings, options)
    solution = variant.solution
    problem = solution.problem
    notation = make_notation(options.notation, problem.depth, problem.examples)
    for question in context["questions"]:
        for row in question["rows"]:
            for cell in row:
                step = solution.step(cell["id"], notation, settings.rounding)
                cell["step"] = {
                    "equation": step.equation,
                    "working": step.working,
                    "note": step.note,
                }
    return {
        **context,
        "document": "practice",
        "fillable": False,
        "data": practice_data(variant, settings, options),
        "script": script(),
    }


def render_practice(variant: Variant, settings: Settings, options: SheetOptions) -> str:
    """The practice page of a variant, as one self-contained HTML document."""
    context = practice_context(variant, settings, options)
    return render_template("practice.html", context, options.templates)
