"""Student sheets and worked-solution sheets: plain data → Jinja2 HTML → (WeasyPrint) PDF.

`sheet_context` and `solution_context` turn a variant into lists, numbers and strings; the templates
in `templates/` (or a teacher's edited copy) lay them out; `render_html` returns the HTML so tests
and `--format html` can read it; `render_exam` writes every file, rendering variants in parallel
worker processes. WeasyPrint is imported only in the workers' code path (`bpquiz.pdf`).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket
from markupsafe import Markup

import bpquiz
from bpquiz.diagram import network_svg
from bpquiz.functions import ACTIVATIONS, number_text
from bpquiz.generate import Settings, Variant
from bpquiz.notation import Notation, Symbol, make_notation
from bpquiz.rounding import Rounding
from bpquiz.solution import NOTE
from bpquiz.stamp import Fonts, Skeleton, Slots, SvgText, estimated_width, plain, room_for

Var = Callable[..., Any]
"""How a text that varies between variants goes into a template: as itself, or as a slot."""

PAPERS = {"a4": "A4", "letter": "letter"}
FORMATS = ("pdf", "html")
DOCUMENTS = ("sheet", "solution")
DEFAULT_TITLE = "Backpropagation exercise"
STYLESHEET = "bpquiz.css"
TEMPLATE_FILES = (
    "base.html",
    "macros.html",
    "sheet.html",
    "solution.html",
    "feedback.html",
    "summary.html",
    STYLESHEET,
)
CELLS_PER_ROW = 3
"""Answer boxes side by side; more would leave too little room to write a number."""

KIND_WORDS = {
    "z": "net inputs",
    "a": "activations",
    "loss": "loss",
    "delta": "deltas",
    "grad_w": "weight gradients",
    "grad_b": "bias gradients",
    "w_new": "updated weights",
    "b_new": "updated biases",
}


class RenderError(Exception):
    """A problem with the sheets' options or templates that the user can fix."""


@dataclass(frozen=True)
class SheetOptions:
    """How the sheets look: header texts, notation, paper, and an optional template folder."""

    title: str = DEFAULT_TITLE
    course: str = ""
    date: str = ""
    notation: str = "layered"
    paper: str = "a4"
    templates: Path | None = None
    fillable: bool = False
    """Student sheets as PDF forms: answer boxes, name and id are fields (bpquiz.pdf_answers)."""

    def check(self, depth: int) -> None:
        """Raise RenderError for options that cannot work with this depth of network."""
        if self.paper not in PAPERS:
            raise RenderError(f"unknown paper '{self.paper}': expected {' or '.join(PAPERS)}")
        try:
            make_notation(self.notation, depth, 1)
        except ValueError as exc:
            raise RenderError(str(exc)) from None
        if self.templates is not None and not self.templates.is_dir():
            raise RenderError(
                f"{self.templates} is not a folder; write one with `bpquiz templates DIR`"
            )
        for name in TEMPLATE_FILES if self.templates is not None else ():
            path = self.templates / name
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise RenderError(f"{path} is not UTF-8 text: save it as UTF-8") from None
            except OSError:
                continue  # a template the folder does not have comes from the defaults


# --- templates -----------------------------------------------------------------------------


def default_templates() -> Path:
    """The templates shipped in the wheel (bpquiz/templates), or the repository's in a checkout."""
    packaged = Path(bpquiz.__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(bpquiz.__file__).parent.parent / "templates"


def template_roots(custom: Path | None) -> list[Path]:
    """Where templates are looked up: the teacher's folder first, then the defaults."""
    # Absolute, because WeasyPrint's base URL must be a file URI (a relative --templates was not).
    return ([custom.resolve()] if custom is not None else []) + [default_templates()]


def copy_templates(destination: Path, force: bool = False) -> list[Path]:
    """Write a copy of the default templates into `destination` for a teacher to edit."""
    source = default_templates()
    targets = [destination / name for name in TEMPLATE_FILES]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise RenderError(
            f"{existing[0]} already exists. Use --force to overwrite, or choose another folder."
        )
    destination.mkdir(parents=True, exist_ok=True)
    for name, target in zip(TEMPLATE_FILES, targets, strict=True):
        shutil.copyfile(source / name, target)
    return targets


@cache
def environment(custom: Path | None) -> jinja2.Environment:
    # Autoescaping for every template: titles and roster names are user text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(root) for root in template_roots(custom)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_compiled_templates(),
    )


def _compiled_templates() -> jinja2.BytecodeCache | None:
    """Compiled templates kept beside the skeletons (bpquiz.cache): compiling them is a tenth of a
    second of every run. Jinja checks each against its template's source."""
    from bpquiz.cache import folder

    where = folder()
    if where is None:
        return None
    try:
        (where / "jinja").mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _KeptTemplates(str(where / "jinja"))


class _KeptTemplates(jinja2.FileSystemBytecodeCache):
    """A folder of compiled templates that is never an error: unreadable or unwritable, the
    templates are compiled again."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with suppress(OSError):
            super().dump_bytecode(bucket)


# --- plain data for the templates ----------------------------------------------------------


def _text(symbol: Symbol) -> str:
    # Unicode sub- and superscripts rather than <sub>/<sup>: every inline element costs WeasyPrint
    # layout time, and the worked solution has hundreds of symbols (plain text is ~3× faster).
    return symbol.text()


def _stem(symbol: Symbol) -> Symbol:
    """The symbol without neuron indices: W⁽¹⁾, w, b⁽²⁾, h."""
    return Symbol(symbol.base, symbol.sup)


def _neuron_symbol(notation: Notation, layer: int, neuron: int) -> Symbol:
    return notation.symbol("x" if layer == 0 else "a", layer, neuron)


def _header(
    variant: Variant, options: SheetOptions, document: str, var: Var = plain
) -> dict[str, Any]:
    student = variant.student
    return {
        "document": document,
        "title": options.title,
        "course": options.course,
        "date": options.date,
        "code": var(variant.code, "code"),
        # The hidden form field's value: in a skeleton it is stamped in (bpquiz.stamp_pdf.assemble).
        "code_field": "" if isinstance(var, Slots) else variant.code,
        "student": (
            {"name": var(student["name"], "name"), "id": var(student["id"], "name")}
            if student
            else None
        ),
        "paper": PAPERS[options.paper],
        "fillable": options.fillable and document == "sheet",
    }


def _given_tables(variant: Variant, notation: Notation, var: Var = plain) -> dict[str, Any]:
    """Inputs, targets, weight matrices with row/column labels, biases and η, as strings."""
    p = variant.problem
    givens = variant.solution.givens()
    batch = p.examples > 1

    def examples_table(letter: str, layer: int, count: int) -> dict[str, Any]:
        rows = []
        for e in range(1, p.examples + 1):
            ids = [f"{letter}_{i}_e{e}" if batch else f"{letter}_{i}" for i in range(1, count + 1)]
            rows.append(
                {
                    "header": f"example {e}" if batch else "",
                    "cells": [var(number_text(givens[i])) for i in ids],
                }
            )
        return {
            "columns": [
                _text(notation.symbol(letter, layer, i, example=None)) for i in range(1, count + 1)
            ],
            "rows": rows,
            "has_header": batch,
        }

    weights = []
    for l in range(1, p.depth + 1):
        weights.append(
            {
                "symbol": _text(_stem(notation.weight(l, 1, 1))),
                "from": [
                    _text(_neuron_symbol(notation, l - 1, i)) for i in range(1, p.layers[l - 1] + 1)
                ],
                "to": [_text(_neuron_symbol(notation, l, j)) for j in range(1, p.layers[l] + 1)],
                "rows": [
                    [var(number_text(givens[f"w{l}_{i}_{j}"])) for j in range(1, p.layers[l] + 1)]
                    for i in range(1, p.layers[l - 1] + 1)
                ],
            }
        )
    biases = []
    if p.bias == "per_neuron":
        for l in range(1, p.depth + 1):
            biases.append(
                {
                    "symbol": _text(_stem(notation.symbol("b", l, 1))),
                    "columns": [
                        _text(notation.symbol("b", l, j)) for j in range(1, p.layers[l] + 1)
                    ],
                    "cells": [
                        var(number_text(givens[f"b{l}_{j}"])) for j in range(1, p.layers[l] + 1)
                    ],
                }
            )
    elif p.bias == "shared":
        biases.append(
            {
                "symbol": "",
                "columns": [
                    _text(_stem(notation.symbol("b", l, 1))) for l in range(1, p.depth + 1)
                ],
                "cells": [var(number_text(givens[f"b{l}"])) for l in range(1, p.depth + 1)],
            }
        )
    return {
        "inputs": examples_table("x", 0, p.layers[0]),
        "targets": examples_table("t", p.depth, p.layers[-1]),
        "weights": weights,
        "biases": biases,
        "bias_mode": p.bias,
        "learning_rate": {"symbol": _text(Symbol("η")), "value": var(number_text(p.learning_rate))},
    }


def _instructions(variant: Variant, settings: Settings, notation: Notation) -> dict[str, Any]:
    """What to compute, the rounding rule and the formulas the course assumes."""
    p = variant.problem
    solution = variant.solution
    formulas = []
    first_z = next(q for q in solution.computed() if q.kind == "z")
    step = solution.step(first_z.id, notation, settings.rounding)
    formulas.append({"name": "Net input", "text": f"{step['symbol']} = {step['formula']}"})
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
        first = next(q for q in solution.computed() if q.kind == "a" and q.layer == layers[0])
        line = solution.step(first.id, notation, settings.rounding)
        definition = "" if name in ("linear", "softmax") else f"{act.definition};  "
        text = (
            f"{line['symbol']} = {line['formula']} (and so on);  {definition}{act.derivative_text}"
        )
        formulas.append({"name": where, "text": text})
    loss = solution.step(
        next(q.id for q in solution.computed() if q.kind == "loss"), notation, settings.rounding
    )
    formulas.append({"name": "Loss", "text": f"{loss['symbol']} = {loss['formula']}"})
    formulas.append({"name": "Update", "text": "w′ = w − η·∂L/∂w, and the same for every bias"})
    asked = [KIND_WORDS[k] for k in settings.asked]
    return {
        "asked": ", ".join(asked[:-1]) + (" and " if len(asked) > 1 else "") + asked[-1],
        "rounding": settings.rounding.describe(),
        "formulas": formulas,
        "examples": p.examples,
        "bias_mode": p.bias,
    }


def _rows_of(quantities: Sequence[Any], notation: Notation) -> list[list[Any]]:
    """Answer boxes laid out as the quantities are: weight-shaped ones as a matrix (a row per source
    neuron), others a row per kind; short neighbouring rows share a line so small nets stay short."""
    lines: list[list[Any]] = []
    by_kind: dict[str, list[Any]] = {}
    for q in quantities:
        by_kind.setdefault(q.kind, []).append(q)
    for kind, group in by_kind.items():
        if kind in ("grad_w", "w_new"):
            sources = sorted({q.source for q in group})
            lines.extend([q for q in group if q.source == i] for i in sources)
        else:
            lines.append(group)
    rows: list[list[Any]] = []
    for line in lines:
        for start in range(0, len(line), CELLS_PER_ROW):
            chunk = line[start : start + CELLS_PER_ROW]
            if rows and len(rows[-1]) + len(chunk) <= CELLS_PER_ROW and len(chunk) == 1:
                rows[-1] = rows[-1] + chunk
            else:
                rows.append(chunk)
    return [[{"id": q.id, "symbol": _text(q.symbol(notation))} for q in row] for row in rows]


def _key(variant: Variant, settings: Settings, notation: Notation) -> dict[str, dict[str, Any]]:
    return {
        e["id"]: e
        for e in variant.solution.key_entries(notation, settings.rounding, settings.asked)
    }


def sheet_context(
    variant: Variant, settings: Settings, options: SheetOptions, slots: Slots | None = None
) -> dict[str, Any]:
    """Everything a student sheet shows, as plain data: nothing computed from the givens.

    With `slots`, every text that varies between variants becomes a slot (bpquiz.stamp)."""
    var: Var = slots or plain
    p = variant.problem
    notation = make_notation(options.notation, p.depth, p.examples)
    key = _key(variant, settings, notation)
    questions = []
    for title, quantities in variant.solution.sections():
        asked = [q for q in quantities if q.kind in settings.asked]
        if not asked:
            continue
        questions.append(
            {
                "number": len(questions) + 1,
                "title": title,
                "points": sum(key[q.id]["points"] for q in asked),
                "rows": _rows_of(asked, notation),
            }
        )
    return {
        **_header(variant, options, "sheet", var),
        "instructions": _instructions(variant, settings, notation),
        # Markup: the drawing escapes every text it writes (bpquiz.diagram._text).
        "diagram": Markup(network_svg(variant.solution, notation, slots=slots).svg),
        "givens": _given_tables(variant, notation, var),
        "questions": questions,
        "total_points": sum(q["points"] for q in questions),
    }


def _range_places(rounding: Rounding, value: float) -> int:
    """One digit more than the rule asks, so the accepted range shows where it ends."""
    return max(0, -math.floor(math.log10(rounding.unit(value))) + 1)


def _signed(text: str) -> str:
    return text.replace("-", "−")


def solution_context(
    variant: Variant, settings: Settings, options: SheetOptions, slots: Slots | None = None
) -> dict[str, Any]:
    """Every step (formula, numbers, result), the annotated diagram and the marking table."""
    var: Var = slots or plain
    p = variant.problem
    solution = variant.solution
    rounding = settings.rounding
    notation = make_notation(options.notation, p.depth, p.examples)
    key = _key(variant, settings, notation)
    values = solution.values

    sections = []
    for title, quantities in solution.sections():
        steps = []
        for q in quantities:
            step = solution.step(q.id, notation, rounding)
            substituted = step["substituted"] if step["substituted"] != step["result"] else ""
            working = (f"= {substituted} " if substituted else "") + f"= {step['result']}"
            steps.append(
                {
                    "id": q.id,
                    "symbol": step["symbol"],
                    "formula": step["formula"],
                    # The numbers: "= substituted = result", broken into lines where long.
                    "working": [
                        var(line, "working")
                        for line in _working_lines(working, NOTE.format(step["result"]))
                    ],
                    "substituted": substituted,
                    "result": step["result"],
                    # Room for a note on every step, so that the layout is the same whether a
                    # variant's step has one or not.
                    "result_note": var(step["result_note"], "number", NOTE.format(step["result"])),
                    "asked": q.kind in settings.asked,
                }
            )
        sections.append({"title": title, "steps": steps})

    # The diagram shows the first example's forward values and deltas under each neuron.
    annotations: dict[tuple[int, int], list[str]] = {}
    for q in solution.computed():
        if q.kind in ("z", "a", "delta") and (q.example or 1) == 1:
            stem = notation.symbol(q.kind, q.layer, q.neuron).text()
            annotations.setdefault((q.layer, q.neuron), []).append(
                f"{stem} = {rounding.format(values[q.id])}"
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
                    "value": rounding.format(value),
                    "low": _signed(f"{value - tol:.{places}f}"),
                    "high": _signed(f"{value + tol:.{places}f}"),
                    "points": entry["points"],
                }
            )
    drawing = network_svg(solution, notation, annotations, slots=slots)
    return {
        **_header(variant, options, "solution", var),
        "instructions": _instructions(variant, settings, notation),
        "diagram": Markup(drawing.svg),
        "diagram_example": p.examples > 1,
        # The tables repeat what a fully labelled drawing already shows; the key is for the teacher.
        "givens": None if drawing.all_givens else _given_tables(variant, notation, var),
        "sections": sections,
        "answer_lines": [var(line, "open") for line in _marking_lines(answers)],
        "total_points": sum(a["points"] for a in answers),
    }


WORKING_LINE = 70
"""How long a worked line may grow (in digit widths, `bpquiz.stamp.estimated_width`, of its widest
form) before it is broken: a line of the solution holds about 80."""
LINE_WITH_NOTE = 80
"""How long the last line with its note may be, the note counted at its smaller size (measured:
up to 79 fits on A4, from 85 on the note wraps)."""
NOTE_SIZE = 8 / 9.5
"""A note's size beside the solution's text (templates/bpquiz.css: --small-size, --body-size)."""


def _working_lines(working: str, note: str) -> list[str]:
    """A worked line broken before its + and − terms (and =) where it would not fit on one line,
    and before its "= result" where the result and its possible `note` would not fit after it.

    The breaks follow the widest forms (bpquiz.stamp.room_for), so they are the same for every
    variant of a preset, and the same whether the sheet is stamped or rendered whole.
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
    with_note += estimated_width(room_for(note, "number")) * NOTE_SIZE
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
    slots: Slots | None = None,
) -> str:
    """The HTML of a variant's student sheet (`document="sheet"`) or worked solution; with
    `slots`, its skeleton (bpquiz.stamp)."""
    if document not in DOCUMENTS:
        raise ValueError(f"document must be one of {DOCUMENTS}, got {document!r}")
    context = (sheet_context if document == "sheet" else solution_context)(
        variant, settings, options, slots
    )
    try:
        template = environment(options.templates).get_template(f"{document}.html")
        return template.render(context)
    except jinja2.TemplateError as exc:
        where = (
            f" ({exc.filename}:{exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        )
        raise RenderError(f"the {document} template failed{where}: {exc}") from None


# --- writing the files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One document of one variant: its bytes (PDF or UTF-8 HTML) and, for a PDF, its pages."""

    code: str
    document: str
    data: bytes
    pages: int
    printed: bytes | None = None
    """A fillable sheet's pages without form fields, for the class file."""


def render_document(
    document: str,
    variant: Variant,
    settings: Settings,
    options: SheetOptions,
    fmt: str = "pdf",
    print_copy: bool = False,
) -> Rendered:
    html = render_html(document, variant, settings, options)
    if fmt == "html":
        return Rendered(variant.code, document, html.encode(), 0)
    from bpquiz.pdf import html_to_pdf

    roots = template_roots(options.templates)
    if options.fillable and document == "sheet":
        from bpquiz.pdf import html_to_fillable_pdf

        data, printed, pages = html_to_fillable_pdf(html, roots, variant.code, print_copy)
        return Rendered(variant.code, document, data, pages, printed)
    data, pages = html_to_pdf(html, roots)
    return Rendered(variant.code, document, data, pages)


def _render_task(task: tuple[str, Variant, Settings, SheetOptions, str, bool]) -> Rendered:
    return render_document(*task)


def _skeleton_html_task(
    task: tuple[Sequence[Variant], Settings, SheetOptions],
) -> list[tuple[str, Slots]]:
    variants, settings, options = task
    out = []
    for variant in variants:
        for document in DOCUMENTS:
            slots = Slots()
            out.append((render_html(document, variant, settings, options, slots), slots))
    return out


def _skeleton_task(
    task: tuple[str, tuple[Path, ...], str, bool, frozenset[int]],
) -> tuple[Skeleton, Fonts] | None:
    from bpquiz.stamp import Unstampable, build_skeleton

    try:
        return build_skeleton(*task)
    except Unstampable:
        return None


def _stamp_task(
    task: tuple[Skeleton, Fonts, list[tuple[list[str], list[SvgText], str]]],
) -> list[tuple[list[list[str]], bytes] | None]:
    """Each variant's document stamped into the skeleton (None: it cannot be, render it whole)."""
    from bpquiz.pdf_answers import VARIANT_INFO
    from bpquiz.stamp import Unstampable, fill_title, page_ops
    from bpquiz.stamp_pdf import assemble

    skeleton, fonts, variants = task
    out: list[tuple[list[list[str]], bytes] | None] = []
    for texts, drawing, code in variants:
        try:
            ops = page_ops(skeleton, fonts, texts, drawing)
        except Unstampable:
            out.append(None)
            continue
        title = fill_title(skeleton.title, dict(enumerate(texts)))
        if skeleton.printed is None:
            out.append((ops, assemble(skeleton.template, ops, title)))
        else:  # a form carries its code in a field and in the document information
            out.append((ops, assemble(skeleton.template, ops, title, {VARIANT_INFO: code}, code)))
    return out


def _chunks(items: Sequence[Any], jobs: int) -> list[Sequence[Any]]:
    """`items` in a few pieces per worker: small enough to balance, big enough to be worth sending."""
    size = max(1, math.ceil(len(items) / (4 * jobs)))
    return [items[k : k + size] for k in range(0, len(items), size)]


SMALL = 4
"""Up to this many variants, texts are stamped in this process: starting workers costs more."""


@dataclass
class Stamped:
    """A class set's documents (in variant order, sheet then solution) and, where one skeleton
    served every variant of a document, that document's class file."""

    documents: list[Rendered]
    class_files: dict[str, bytes]
    rendered_whole: int = 0
    """Documents that could not be stamped and were rendered whole."""


def stamped_documents(
    variants: Sequence[Variant],
    settings: Settings,
    options: SheetOptions,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    duplex: bool = False,
) -> Stamped:
    """Every variant's sheet and solution as PDF, laid out once per structure (bpquiz.stamp).

    Variants are grouped by their skeleton HTML (for one preset: one group per document); each
    group's skeleton comes from the cache (bpquiz.cache) or is laid out in a worker process, and
    each variant's texts are stamped into it. A variant that cannot be stamped exactly is
    rendered whole.
    """
    from bpquiz import cache
    from bpquiz.stamp import extra_chars, fill_reserves, fill_title, reserves_for
    from bpquiz.stamp_pdf import class_file

    roots = tuple(template_roots(options.templates))
    jobs = max(1, min(jobs or default_jobs(), len(variants)))
    small = len(variants) <= SMALL
    # 1. Each variant's skeleton HTML and texts; variants with the same HTML share a skeleton.
    pieces = _chunks(variants, jobs)
    made = [
        r
        for part in in_workers(
            _skeleton_html_task,
            [(p, settings, options) for p in pieces],
            1 if small else jobs,
            False,
        )
        for r in part
    ]
    slots: dict[tuple[str, int], Slots] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (html, variant_slots) in enumerate(made):
        index, document = divmod(k, len(DOCUMENTS))
        slots[DOCUMENTS[document], index] = variant_slots
        groups.setdefault((DOCUMENTS[document], html), []).append(index)

    # 2. Each group's skeleton: kept from an earlier run, or laid out now (and kept).
    specs = []
    for (document, html), members in groups.items():
        group = [slots[document, i] for i in members]
        reserves = reserves_for(group)
        every = [t for g in group for t in g.texts] + reserves
        every += [item.text for g in group for item in g.drawing]
        opened = frozenset(k for k, kind in enumerate(group[0].kinds) if kind == "open")
        forms = options.fillable and document == "sheet"
        spec = (fill_reserves(html, reserves), roots, extra_chars(every), forms, opened)
        specs.append((cache.key(*spec), spec))
    built: dict[str, tuple[Skeleton, Fonts] | None] = {name: cache.load(name) for name, _ in specs}
    missing = [(name, spec) for name, spec in specs if built[name] is None]
    for (name, _), result in zip(
        missing, in_workers(_skeleton_task, [spec for _, spec in missing], jobs), strict=True
    ):
        built[name] = result
        if result is not None:
            cache.store(name, *result)

    # 3. Each variant stamped into its skeleton, the class files written; the rest rendered whole.
    done: dict[tuple[str, int], Rendered] = {}
    whole: list[tuple[str, int]] = []
    class_files: dict[str, bytes] = {}
    stamped = 0
    for ((document, _), members), (name, _) in zip(groups.items(), specs, strict=True):
        result = built[name]
        if result is None:
            whole.extend((document, i) for i in members)
            continue
        skeleton, fonts = result
        parts = _chunks(members, jobs)
        stamp_tasks = [
            (
                skeleton,
                fonts,
                [
                    (slots[document, i].texts, slots[document, i].drawing, variants[i].code)
                    for i in part
                ],
            )
            for part in parts
        ]
        copies: list[list[list[str]]] = []
        results = in_workers(_stamp_task, stamp_tasks, 1 if small else jobs, False)
        for part, part_results in zip(parts, results, strict=True):
            for i, stamped_one in zip(part, part_results, strict=True):
                if stamped_one is None:
                    whole.append((document, i))
                    continue
                ops, pdf = stamped_one
                copies.append(ops)
                done[document, i] = Rendered(variants[i].code, document, pdf, skeleton.pages)
                stamped += 1
                if progress:
                    progress(stamped // len(DOCUMENTS), len(variants))
        if len(variants) == 1:
            continue
        if len(members) == len(variants) and len(copies) == len(variants):
            class_files[document] = class_file(
                skeleton, fonts, copies, fill_title(skeleton.title, {}), duplex
            )
        elif skeleton.printed is not None:
            # The class file will be joined from each student's print copy.
            for i in members:
                if (document, i) in done:
                    title = fill_title(skeleton.title, dict(enumerate(slots[document, i].texts)))
                    printed = class_file(skeleton, fonts, [copies.pop(0)], title)
                    done[document, i] = dataclasses.replace(done[document, i], printed=printed)
    whole_tasks = [(d, variants[i], settings, options, "pdf", True) for d, i in sorted(whole)]
    for (d, i), rendered in zip(
        sorted(whole), in_workers(_render_task, whole_tasks, jobs), strict=True
    ):
        done[d, i] = rendered
    documents = [done[d, i] for i in range(len(variants)) for d in DOCUMENTS]
    return Stamped(documents, class_files, len(whole))


def _warm_up() -> None:
    # Each worker pays WeasyPrint's import once, before its first document.
    import bpquiz.pdf  # noqa: F401


def _pdf_task(task: tuple[str, tuple[Path, ...]]) -> tuple[bytes, int]:
    from bpquiz.pdf import html_to_pdf

    html, roots = task
    return html_to_pdf(html, list(roots))


def pdfs_in_parallel(
    htmls: Sequence[str], roots: Sequence[Path], jobs: int | None = None
) -> list[tuple[bytes, int]]:
    """PDF bytes and page counts of ready-made HTML documents, in order, over worker processes."""
    return list(in_workers(_pdf_task, [(html, tuple(roots)) for html in htmls], jobs))


def in_workers(
    task: Callable[[Any], Any], items: Sequence[Any], jobs: int | None, weasyprint: bool = True
) -> Iterator[Any]:
    """`task` over `items`, in order, in worker processes that import WeasyPrint once each
    (unless `weasyprint` is false), or in this process when one job is enough."""
    with worker_pool(max(1, min(jobs or default_jobs(), len(items))), weasyprint) as run:
        yield from run(task, items)


Run = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[Any]]


@contextmanager
def worker_pool(jobs: int, weasyprint: bool = True) -> Iterator[Run]:
    """A `map` over `jobs` worker processes that import WeasyPrint once each (or over this
    process, for one job), to run several rounds of tasks without starting workers again."""
    if jobs <= 1:
        yield lambda task, items: map(task, items)
        return
    # fork shares the parent's imports; elsewhere spawn is the safe choice.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_warm_up if weasyprint else None,
    ) as pool:
        yield lambda task, items: pool.map(task, items, chunksize=1)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class ExamFiles:
    """Where the sheets went."""

    sheets: list[Path] = field(default_factory=list)
    solutions: list[Path] = field(default_factory=list)
    class_sheets: Path | None = None
    class_solutions: Path | None = None
    pages: int = 0


def render_exam(
    variants: Sequence[Variant],
    settings: Settings,
    options: SheetOptions,
    out_dir: Path,
    name: str,
    *,
    fmt: str = "pdf",
    duplex: bool = False,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExamFiles:
    """Write each variant's sheet and solution; for a class set also the two combined PDFs."""
    from bpquiz.files import write_atomic

    if fmt not in FORMATS:
        raise RenderError(f"unknown format '{fmt}': expected {' or '.join(FORMATS)}")
    options.check(variants[0].problem.depth)
    results: list[Rendered] = []
    class_files: dict[str, bytes] = {}
    if fmt == "pdf":
        stamped = stamped_documents(variants, settings, options, jobs, progress, duplex)
        results, class_files = stamped.documents, stamped.class_files
    else:  # HTML takes milliseconds a document, here in this process
        results = [
            render_document(d, v, settings, options, fmt) for v in variants for d in DOCUMENTS
        ]

    files = ExamFiles()
    for rendered in results:
        path = out_dir / f"{rendered.code}-{rendered.document}.{fmt}"
        write_atomic(path, rendered.data)
        (files.sheets if rendered.document == "sheet" else files.solutions).append(path)
        files.pages += rendered.pages
    if fmt == "pdf" and len(variants) > 1:
        from bpquiz.pdf import join_pdfs

        for document, attr in (("sheet", "class_sheets"), ("solution", "class_solutions")):
            path = out_dir / f"{name}-{document}s.pdf"
            if document in class_files:
                write_atomic(path, class_files[document])
            else:
                parts = [(r.printed or r.data, r.pages) for r in results if r.document == document]
                write_atomic(path, join_pdfs(parts, duplex=duplex))
            setattr(files, attr, path)
    return files
