"""What the sheets show, as plain data: a variant and its settings → the templates' context.

`sheet_context` and `solution_context` turn a variant into lists, numbers and strings; the templates
in `templates/` (or a teacher's edited copy) lay them out; `render_html` returns the HTML. Every
text that varies between the variants of a preset goes through a `Texts` (bpquiz.sheets.variable),
so that the same context can be laid out once and stamped (bpquiz.sheets.stamping); nothing here
knows how.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.key import quantity_entries
from bpquiz.exercises.presets import POINTS_DECIMALS, Settings
from bpquiz.maths.functions import ACTIVATIONS, number_text
from bpquiz.maths.ids import bias_id, given_id, weight_id
from bpquiz.maths.notation import Notation, Symbol, make_notation
from bpquiz.maths.rounding import Rounding
from bpquiz.maths.solution import Quantity
from bpquiz.maths.step import NOTE
from bpquiz.sheets.diagram import network_svg
from bpquiz.sheets.options import DOCUMENTS, SheetOptions, header
from bpquiz.sheets.templates import layout, render_template
from bpquiz.sheets.variable import PLAIN, Texts, estimated_width, room_for

KIND_WORDS = {
    "z": "net inputs",
    "a": "activations",
    "loss": "loss",
    "grad_a": "derivatives of the loss with respect to the activations",
    "dact": "activation derivatives",
    "delta": "deltas",
    "grad_w": "weight gradients",
    "grad_b": "bias gradients",
    "w_new": "updated weights",
    "b_new": "updated biases",
}


def _text(symbol: Symbol) -> str:
    # Unicode sub- and superscripts rather than <sub>/<sup>: every inline element costs WeasyPrint
    # layout time, and the worked solution has hundreds of symbols (plain text is ~3× faster).
    return symbol.text()


def _neuron_symbol(notation: Notation, layer: int, neuron: int) -> Symbol:
    return notation.symbol("x" if layer == 0 else "a", layer, neuron)


def _given_tables(variant: Variant, notation: Notation, texts: Texts) -> dict[str, Any]:
    """Inputs, targets, weight matrices with row/column labels, biases and η, as strings."""
    p = variant.problem
    givens = variant.solution.givens()
    batch = p.examples > 1
    outputs, neurons = range(1, p.depth + 1), lambda l: range(1, p.layers[l] + 1)

    def examples_table(letter: str, layer: int) -> dict[str, Any]:
        rows = []
        for e in range(1, p.examples + 1):
            ids = [given_id(letter, i, e, batch) for i in neurons(layer)]
            rows.append(
                {
                    "header": f"example {e}" if batch else "",
                    "cells": [texts(number_text(givens[i])) for i in ids],
                }
            )
        return {
            "columns": [
                _text(notation.symbol(letter, layer, i, example=None)) for i in neurons(layer)
            ],
            "rows": rows,
            "has_header": batch,
        }

    weights = []
    for l in outputs:
        weights.append(
            {
                "symbol": _text(notation.weight(l, 1, 1).stem()),
                "from": [_text(_neuron_symbol(notation, l - 1, i)) for i in neurons(l - 1)],
                "to": [_text(_neuron_symbol(notation, l, j)) for j in neurons(l)],
                "rows": [
                    [texts(number_text(givens[weight_id("w", l, i, j)])) for j in neurons(l)]
                    for i in neurons(l - 1)
                ],
            }
        )
    biases = []
    if p.bias == "per_neuron":
        for l in outputs:
            biases.append(
                {
                    "symbol": _text(notation.symbol("b", l, 1).stem()),
                    "columns": [_text(notation.symbol("b", l, j)) for j in neurons(l)],
                    "cells": [texts(number_text(givens[bias_id("b", l, j)])) for j in neurons(l)],
                }
            )
    elif p.bias == "shared":
        biases.append(
            {
                "symbol": "",
                "columns": [_text(notation.symbol("b", l, 1).stem()) for l in outputs],
                "cells": [texts(number_text(givens[bias_id("b", l, None)])) for l in outputs],
            }
        )
    return {
        "inputs": examples_table("x", 0),
        "targets": examples_table("t", p.depth),
        "weights": weights,
        "biases": biases,
        "bias_mode": p.bias,
        "learning_rate": {
            "symbol": _text(Symbol("η")),
            "value": texts(number_text(p.learning_rate)),
        },
    }


def _instructions(variant: Variant, settings: Settings, notation: Notation) -> dict[str, Any]:
    """What to compute, the rounding rule and the formulas the course assumes."""
    p = variant.problem
    solution = variant.solution

    def first(kind: str, layer: int | None = None) -> str:
        q = next(q for q in solution.computed() if q.kind == kind and layer in (None, q.layer))
        return solution.step(q.id, notation, settings.rounding).equation

    formulas = [{"name": "Net input", "text": first("z")}]
    layers_of: dict[str, list[int]] = {}
    for l, name in enumerate(p.activations, start=1):
        layers_of.setdefault(name, []).append(l)
    for name, layers in layers_of.items():
        where = (
            "All layers"
            if len(layers) == p.depth
            else ", ".join("Output layer" if l == p.depth else f"Hidden layer {l}" for l in layers)
        )
        act = ACTIVATIONS[name]
        # The first neuron's own line, in the sheet's notation, then the function in general.
        definition = f"{act.definition};  " if act.definition else ""
        text = f"{first('a', layers[0])} (and so on);  {definition}{act.derivative_text}"
        formulas.append({"name": where, "text": text})
    formulas.append({"name": "Loss", "text": first("loss")})
    error = p.delta_sign == "error"
    update = "w′ = w − η·∂L/∂w = w + η·δ·a" if error else "w′ = w − η·∂L/∂w"
    formulas.append({"name": "Update", "text": f"{update}, and the same for every bias"})
    asked = [KIND_WORDS[k] for k in settings.asked]
    combined = "mean" if p.batch_reduction == "mean" else "sum"
    return {
        "asked": ", ".join(asked[:-1]) + (" and " if len(asked) > 1 else "") + asked[-1],
        "rounding": settings.rounding.describe(),
        "formulas": formulas,
        "examples": p.examples,
        "bias_mode": p.bias,
        "batch": f"the loss is the {combined} of the examples' losses, and each gradient the "
        f"{combined} of theirs",
        "delta": (
            "Each δ is a neuron's error term: minus the derivative of the loss with respect to its "
            "net input (before its activation), δ = −∂L/∂z, so at the output δ = (t − y)·f′(z), "
            "with target t and output y"
            if error
            else "Each δ is the derivative of the loss with respect to a neuron's net input "
            "(before its activation)"
        ),
    }


def _rows_of(
    quantities: Sequence[Quantity], notation: Notation, per_row: int
) -> list[list[dict[str, str]]]:
    """Answer boxes laid out as the quantities are: weight-shaped ones as a matrix (a row per source
    neuron), others a row per kind; short neighbouring rows share a line so small nets stay short."""
    lines: list[list[Quantity]] = []
    by_kind: dict[str, list[Quantity]] = {}
    for q in quantities:
        by_kind.setdefault(q.kind, []).append(q)
    for kind, group in by_kind.items():
        if kind in ("grad_w", "w_new"):
            sources = sorted({q.source or 0 for q in group})
            lines.extend([q for q in group if q.source == i] for i in sources)
        else:
            lines.append(group)
    rows: list[list[Quantity]] = []
    for line in lines:
        for start in range(0, len(line), per_row):
            chunk = line[start : start + per_row]
            if rows and len(rows[-1]) + len(chunk) <= per_row and len(chunk) == 1:
                rows[-1] = rows[-1] + chunk
            else:
                rows.append(chunk)
    depth = notation.depth
    return [
        [{"id": q.id, "symbol": _text(q.symbol(notation)), "words": words(q, depth)} for q in row]
        for row in rows
    ]


def _neuron_words(layer: int, neuron: int | None, depth: int) -> str:
    if layer == depth:
        return f"output neuron {neuron}"
    where = "hidden" if depth == 2 else f"hidden layer {layer},"
    return f"{where} neuron {neuron}"


def words(q: Quantity, depth: int) -> str:
    """What a quantity is, in words, for a tooltip or a screen reader: "net input of hidden
    neuron 1", "gradient of the weight from hidden neuron 2 to output neuron 1"."""
    example = f", example {q.example}" if q.example and q.id.endswith(f"_e{q.example}") else ""
    layer, neuron = q.layer or 0, q.neuron
    match q.kind:
        case "loss":
            return "the loss" + (f" of example {q.example}" if q.example else "")
        case "grad_w" | "w_new" | "w":
            source = (
                f"input {q.source}" if layer == 1 else _neuron_words(layer - 1, q.source, depth)
            )
            weight = f"the weight from {source} to {_neuron_words(layer, q.target, depth)}"
            return {"w": weight, "grad_w": f"gradient of {weight}", "w_new": f"updated {weight}"}[
                q.kind
            ]
        case "grad_b" | "b_new" | "b":
            owner = (
                f"layer {layer}'s shared bias"
                if neuron is None
                else f"the bias of {_neuron_words(layer, neuron, depth)}"
            )
            return {"b": owner, "grad_b": f"gradient of {owner}", "b_new": f"updated {owner}"}[
                q.kind
            ]
    what = {
        "z": "net input",
        "a": "activation",
        "grad_a": "derivative of the loss with respect to the activation",
        "dact": "activation's derivative",
        "delta": "delta",
    }[q.kind]
    return f"{what} of {_neuron_words(layer, neuron, depth)}{example}"


def _key(variant: Variant, settings: Settings, notation: Notation) -> dict[str, dict[str, Any]]:
    return {
        e["id"]: e
        for e in quantity_entries(
            variant.solution, notation, settings.rounding, settings.asked, dict(settings.points)
        )
    }


def sheet_context(
    variant: Variant, settings: Settings, options: SheetOptions, texts: Texts = PLAIN
) -> dict[str, Any]:
    """Everything a student sheet shows, as plain data: nothing computed from the givens."""
    p = variant.problem
    notation = make_notation(options.notation, p.depth, p.examples)
    numbers = layout(options.templates)
    key = _key(variant, settings, notation)
    questions: list[dict[str, Any]] = []
    for title, quantities in variant.solution.sections():
        asked = [q for q in quantities if q.kind in settings.asked]
        if not asked:
            continue
        questions.append(
            {
                "number": len(questions) + 1,
                "title": title,
                "points": _whole(sum(key[q.id]["points"] for q in asked)),
                "rows": _rows_of(asked, notation, numbers.cells_per_row),
            }
        )
    drawing = network_svg(variant.solution, notation, numbers.drawing_width, texts=texts)
    compact = all(len(q["rows"]) == 1 and len(q["rows"][0]) <= 2 for q in questions)
    return {
        **header("sheet", options, variant.code, variant.student, texts),
        "instructions": _instructions(variant, settings, notation),
        # Markup: the drawing escapes every text it writes (bpquiz.sheets.diagram).
        "diagram": Markup(drawing.svg),
        "givens": _given_tables(variant, notation, texts),
        "questions": questions,
        "total_points": _whole(sum(q["points"] for q in questions)),
        "cells_per_row": numbers.cells_per_row,
        # Questions of one short line each (a small net) go two to a line, each two boxes wide.
        "compact": compact,
        "columns": 2 if compact else numbers.cells_per_row,
    }


def _whole(points: float) -> float | int:
    """Points as a teacher writes them: 42, not 42.0 (but 10.5); a sum of hundredths (key
    points) as one, 0.3, not 0.30000000000000004."""
    points = float(round(points, POINTS_DECIMALS))
    return int(points) if points.is_integer() else points


def _range_places(rounding: Rounding, value: float) -> int:
    """One digit more than the rule asks, so the accepted range shows where it ends."""
    return max(0, -math.floor(math.log10(rounding.unit(value))) + 1)


def _signed(text: str) -> str:
    return text.replace("-", "−")


def solution_context(
    variant: Variant, settings: Settings, options: SheetOptions, texts: Texts = PLAIN
) -> dict[str, Any]:
    """Every step (formula, numbers, result), the annotated diagram and the marking table."""
    p = variant.problem
    solution = variant.solution
    rounding = settings.rounding
    notation = make_notation(options.notation, p.depth, p.examples)
    numbers = layout(options.templates)
    key = _key(variant, settings, notation)

    sections = []
    for title, quantities in solution.sections():
        steps = []
        for q in quantities:
            step = solution.step(q.id, notation, rounding)
            lines = _working_lines(step.working, NOTE.format(step.result), numbers.note_size)
            steps.append(
                {
                    "id": q.id,
                    "symbol": step.symbol,
                    "formula": step.formula,
                    # The numbers: "= substituted = result", broken into lines where long.
                    "working": [texts(line, "working") for line in lines],
                    "substituted": step.numbers,
                    "result": step.result,
                    # Room for a note on every step, so that the layout is the same whether a
                    # variant's step has one or not.
                    "result_note": texts(step.note, "number", NOTE.format(step.result)),
                    "asked": q.kind in settings.asked,
                }
            )
        sections.append({"title": title, "steps": steps})

    # The diagram shows the first example's forward values and deltas under each neuron, as the
    # steps give them (the rounded path).
    rounded = solution.rounded_path(rounding)
    annotations: dict[tuple[int, int], list[str]] = {}
    for q in solution.computed():
        if q.kind in ("z", "a", "delta") and (q.example or 1) == 1:
            stem = notation.symbol(q.kind, q.layer, q.neuron).text()
            annotations.setdefault((q.layer or 0, q.neuron or 0), []).append(
                f"{stem} = {rounding.format(rounded[q.id])}"
            )

    answers = []
    for q in solution.computed():
        entry = key[q.id]
        if entry["asked"]:
            value, tol = entry["value"], entry["tol"]["abs"]
            places = _range_places(rounding, value)
            answers.append(
                {
                    "id": q.id,
                    "value": solution.exact_text(q.id, rounding),
                    "low": _signed(f"{value - tol:.{places}f}"),
                    "high": _signed(f"{value + tol:.{places}f}"),
                    "points": entry["points"],
                }
            )
    drawing = network_svg(solution, notation, numbers.drawing_width, annotations, texts)
    return {
        **header("solution", options, variant.code, variant.student, texts),
        "instructions": _instructions(variant, settings, notation),
        "diagram": Markup(drawing.svg),
        "diagram_example": p.examples > 1,
        # The tables repeat what a fully labelled drawing already shows; the key is for the teacher.
        "givens": None if drawing.all_givens else _given_tables(variant, notation, texts),
        "sections": sections,
        "answer_lines": [texts(line, "open") for line in _marking_lines(answers)],
        "total_points": _whole(sum(a["points"] for a in answers)),
    }


WORKING_LINE = 70
"""How long a worked line may grow (in digit widths, `estimated_width`, of its widest form) before
it is broken: a line of the solution holds about 80."""
LINE_WITH_NOTE = 80
"""How long the last line with its note may be, the note counted at its smaller size (measured:
up to 79 fits on A4, from 85 on the note wraps)."""


def _working_lines(working: str, note: str, note_size: float) -> list[str]:
    """A worked line broken before its + and − terms (and =) where it would not fit on one line,
    and before its "= result" where the result and its possible `note` would not fit after it.

    The breaks follow the widest forms (`room_for`), so they are the same for every variant of a
    preset, and the same whether the sheet is stamped or rendered whole.
    """
    lines: list[list[str]] = []
    for piece in re.split(r" (?=[+−=] )", working):
        candidate = " ".join([*lines[-1], piece]) if lines else piece
        if lines and estimated_width(room_for(candidate, "working")) <= WORKING_LINE:
            lines[-1].append(piece)
        else:
            lines.append([piece])
    last = " ".join(lines[-1])
    with_note = estimated_width(room_for(last, "working")) + 0.5
    with_note += estimated_width(room_for(note, "number")) * note_size
    if len(lines[-1]) > 1 and with_note > LINE_WITH_NOTE:
        lines.append([lines[-1].pop()])
    return [" ".join(line) for line in lines]


def _marking_lines(answers: Sequence[dict[str, Any]]) -> list[str]:
    """The marking table as aligned monospace lines, two answers per line.

    One preformatted block instead of a table: a table cell costs WeasyPrint as much layout time as
    a whole line of text, and the class set has thousands of them.
    """
    cells = [(a["id"], a["value"], f"{a['low']} … {a['high']}") for a in answers]
    header = ("id", "value", "accepted range")
    widths = [max(len(c[k]) for c in [header, *cells]) for k in range(3)]

    def cell(c: tuple[str, str, str]) -> str:
        return f"{c[0]:<{widths[0]}}  {c[1]:>{widths[1]}}  {c[2]:<{widths[2]}}"

    half = (len(cells) + 1) // 2
    gap = "   │   "
    lines = [cell(header) + gap + cell(header), ""]
    for k in range(half):
        right = cell(cells[half + k]) if half + k < len(cells) else ""
        lines.append((cell(cells[k]) + gap + right).rstrip())
    return lines


def render_html(
    document: str,
    variant: Variant,
    settings: Settings,
    options: SheetOptions,
    texts: Texts = PLAIN,
) -> str:
    """The HTML of a variant's student sheet (`document="sheet"`) or worked solution."""
    if document not in DOCUMENTS:
        raise ValueError(f"document must be one of {DOCUMENTS}, got {document!r}")
    context = (sheet_context if document == "sheet" else solution_context)(
        variant, settings, options, texts
    )
    return render_template(f"{document}.html", context, options.templates)
