"""The network drawn as SVG: neurons in layers, inputs and targets, weights on their edges, biases.

Weight labels are placed greedily along their edges, each at the first position where it overlaps
nothing already drawn. When every weight's number fits, the numbers are written on the edges; when
only short symbols fit, the symbols are; otherwise the edges stay bare and the sheet's weight tables
carry the numbers. A label never overlaps another label, a neuron or a text beside a neuron.

Every text with numbers is sized by its widest form (`room`), never by its own digits, so the
layout, and with it which of those three the drawing shows, follows from the network's shape alone:
every variant of a class set gets the same drawing, on paper and on screen, stamped or rendered
whole. (Sized by their own digits, one variant's shorter numbers once took spots that another
weight then lacked, and that student read the weights from the tables while the others read them
on the edges.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from bpquiz.maths.functions import number_text
from bpquiz.maths.ids import bias_id, given_id, weight_id
from bpquiz.maths.notation import Notation, Symbol
from bpquiz.maths.solution import Solution
from bpquiz.sheets.variable import PLAIN, SvgText, Texts, room_for

DRAWING_FONT = ("DejaVu Sans", "sans-serif")
"""The drawing's font family, regular and bold (stamping writes the drawing's texts in it too)."""
RADIUS = 17
COLUMN_GAP = 160
WIDE_GAP = 200
"""Layers are drawn WIDE_GAP apart where the page allows (more room to write weights on their
edges), never less than COLUMN_GAP."""
ROW_GAP = 60
LINE = 12
"""Height of one line of small text, in SVG units (CSS px)."""
FONT = 10
CHAR = 6.3
"""Average advance of a digit or symbol at FONT px in DejaVu Sans: enough to size a label's box."""
MARGIN = 8
ARROW = 26
GAP = 2
"""Free space kept around every label, so no two texts touch."""
# WeasyPrint does not cascade the page's stylesheet into inline SVG, so the drawing carries its
# own presentation attributes; these are the only styling outside templates/bpquiz.css.
STYLE = {
    "edge": 'stroke="#777" stroke-width="0.8"',
    "io": 'stroke="#111" stroke-width="0.8"',
    "arrowhead": 'fill="#111"',
    "neuron": 'fill="#fff" stroke="#111" stroke-width="1.2"',
    "input": 'fill="#eef2f8" stroke="#111" stroke-width="1.2"',
    "label-ground": 'fill="#fff" stroke="#bbb" stroke-width="0.5"',
    "note-ground": 'fill="#fff" fill-opacity="0.85"',
}
TEXT = {
    "name": ("#111", 10.5, False),
    "weight": ("#1f4e8c", 10.0, False),
    "note": ("#444", 9.0, False),
    "given": ("#111", 10.0, True),
    "layer": ("#666", 9.0, False),
}
"""Each kind of text's colour, size and boldness."""
STYLE.update(
    {
        kind: f'fill="{fill}" font-size="{size:g}"' + (' font-weight="bold"' if bold else "")
        for kind, (fill, size, bold) in TEXT.items()
    }
)


def room(text: str) -> int:
    """A text's length in the drawing: its widest form (`room_for`), so that every variant's
    numbers fit the same drawing."""
    return len(room_for(text, "number"))


Emit = Callable[[float, float, str, str, str], str]
POSITIONS = tuple(k / 40 for k in range(6, 35))
"""Where along an edge (0 = source, 1 = target) a weight label may sit."""
PREFERRED = 0.3
"""Where a label sits when several spots are equally clear: near the source."""
CLEAR = 9.0
"""How far (px) a label is kept from every edge but its own where the drawing allows: a label
that close to another edge could be read as that edge's."""


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def overlaps(self, other: Box) -> bool:
        return not (
            self.right <= other.left
            or other.right <= self.left
            or self.bottom <= other.top
            or other.bottom <= self.top
        )


def _text_box(
    x: float, y: float, text: str, anchor: str = "middle", length: Callable[[str], int] = len
) -> Box:
    """The box a one-line text occupies; y is the text's vertical centre."""
    width = length(text) * CHAR + 4
    left = {"middle": x - width / 2, "start": x - 2, "end": x - width + 2}[anchor]
    return Box(left, y - LINE / 2, left + width, y + LINE / 2)


def _padded(box: Box) -> Box:
    return Box(box.left - GAP, box.top - GAP, box.right + GAP, box.bottom + GAP)


def _text(x: float, y: float, text: str, css: str, anchor: str = "middle") -> str:
    # dominant-baseline is not reliable in every renderer; shift by a third of the font size instead.
    return (
        f'<text x="{x:.1f}" y="{y + FONT / 3:.1f}" text-anchor="{anchor}" {STYLE[css]}>'
        f"{escape(text)}</text>"
    )


def _plain(symbol: Symbol) -> str:
    return symbol.text()


@dataclass(frozen=True)
class Drawing:
    svg: str
    all_givens: bool
    """Whether every given number is written in the drawing (one example, weights on the edges)."""


def network_svg(
    solution: Solution,
    notation: Notation,
    page_width: float,
    annotations: Mapping[tuple[int, int], Sequence[str]] | None = None,
    texts: Texts = PLAIN,
) -> Drawing:
    """The SVG of the network, at most `page_width` CSS px wide where it can be;
    `annotations[(layer, neuron)]` are lines written under a neuron.

    Every size is taken from `room`, so that the drawing is the same for every variant; laid out
    once for every variant (`texts.laid_out_once`), the texts with numbers go to `texts` instead of
    into the SVG."""
    drawn: list[SvgText] = []
    """The texts with numbers, when they are handed over instead of written."""

    def variable(x: float, y: float, text: str, css: str, anchor: str = "middle") -> str:
        if not texts.laid_out_once:
            return _text(x, y, text, css, anchor)
        fill, size, bold = TEXT[css]
        drawn.append(SvgText(x, y + FONT / 3, text, anchor, size, fill, bold))
        return ""

    p = solution.problem
    n = p.layers
    depth = p.depth
    single = p.examples == 1
    givens = solution.givens()
    annotations = annotations or {}
    below = max((len(lines) for lines in annotations.values()), default=0)
    below += 1 if p.bias == "per_neuron" else 0
    row_gap = max(ROW_GAP, 2 * RADIUS + below * LINE + 14)
    top = MARGIN + LINE + 4  # a line for the layer titles
    rows = max(n)
    inner = rows * row_gap
    shared_line = LINE + 4 if p.bias == "shared" else 0
    height = top + inner + shared_line + MARGIN
    # Room left of the inputs for their values and right of the outputs for the targets.
    left = (
        RADIUS
        + ARROW
        + 6
        + (
            max(room(number_text(givens[given_id("x", i, 1, False)])) for i in range(1, n[0] + 1))
            * CHAR
            if single
            else 0
        )
    )
    target_texts = [
        _plain(notation.symbol("t", depth, k, example=None))
        + (f" = {number_text(givens[given_id('t', k, 1, False)])}" if single else "")
        for k in range(1, n[depth] + 1)
    ]
    right = RADIUS + ARROW + 8 + max(room(t) for t in target_texts) * CHAR
    left = max(left, 40.0)
    gap = min(WIDE_GAP, max(COLUMN_GAP, (page_width - left - right) / depth))
    width = left + right + depth * gap

    def centre(l: int, j: int) -> tuple[float, float]:
        offset = (rows - n[l]) * row_gap / 2
        return left + l * gap, top + offset + (j - 0.5) * row_gap - below * LINE / 2

    shapes: list[str] = []
    words: list[str] = []
    obstacles: list[Box] = []

    def put_text(x: float, y: float, text: str, css: str, anchor: str = "middle") -> None:
        words.append(variable(x, y, text, css, anchor))
        obstacles.append(_text_box(x, y, text, anchor, room))

    # Layer titles.
    for l in range(depth + 1):
        title = "input" if l == 0 else ("output" if l == depth else f"hidden {l}")
        words.append(_text(left + l * gap, MARGIN + LINE / 2, title, "layer"))

    # Neurons, with what is known about each written beside it.
    for l in range(depth + 1):
        for j in range(1, n[l] + 1):
            x, y = centre(l, j)
            kind = "x" if l == 0 else "a"
            name = _plain(notation.symbol(kind, l, j, example=None))
            shapes.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}" {STYLE["input" if l == 0 else "neuron"]}/>'
            )
            words.append(_text(x, y, name, "name"))
            obstacles.append(Box(x - RADIUS - 3, y - RADIUS - 3, x + RADIUS + 3, y + RADIUS + 3))
            lines: list[str] = []
            if l > 0 and p.bias == "per_neuron":
                bias = notation.symbol("b", l, j)
                value = number_text(givens[bias_id("b", l, j)])
                lines.append(f"{_plain(bias)} = {value}")
            lines.extend(annotations.get((l, j), ()))
            if lines:
                # A white ground keeps the edges that pass behind these lines from striking them.
                first = y + RADIUS + 4
                widest = max(room(line) for line in lines) * CHAR * 0.9 + 4
                shapes.append(
                    f'<rect x="{x - widest / 2:.1f}" y="{first:.1f}" width="{widest:.1f}" '
                    f'height="{len(lines) * LINE:.1f}" {STYLE["note-ground"]}/>'
                )
            for k, line in enumerate(lines):
                put_text(x, y + RADIUS + 4 + (k + 0.5) * LINE, line, "note")
            if l == 0:
                # The input arrives from the left.
                start = x - RADIUS - ARROW
                shapes.append(
                    f'<line x1="{start:.1f}" y1="{y:.1f}" x2="{x - RADIUS:.1f}" y2="{y:.1f}" '
                    f'{STYLE["io"]} marker-end="url(#arrow)"/>'
                )
                if single:
                    x_j = givens[given_id("x", j, 1, False)]
                    put_text(start - 3, y, number_text(x_j), "given", "end")
            if l == depth:
                end = x + RADIUS + ARROW
                shapes.append(
                    f'<line x1="{x + RADIUS:.1f}" y1="{y:.1f}" x2="{end:.1f}" y2="{y:.1f}" '
                    f'{STYLE["io"]} marker-end="url(#arrow)"/>'
                )
                put_text(end + 4, y, target_texts[j - 1], "given", "start")
        if l > 0 and p.bias == "shared":
            stem = notation.symbol("b", l, 1).stem().text()
            value = number_text(givens[bias_id("b", l, None)])
            put_text(left + l * gap, top + inner + LINE / 2, f"{stem} = {value} (shared)", "note")

    # Edges first (under everything), then their labels where they fit.
    edges = []
    for l in range(1, depth + 1):
        for i in range(1, n[l - 1] + 1):
            for j in range(1, n[l] + 1):
                (x1, y1), (x2, y2) = centre(l - 1, i), centre(l, j)
                shapes.insert(
                    0,
                    f'<line x1="{x1 + RADIUS:.1f}" y1="{y1:.1f}" x2="{x2 - RADIUS:.1f}" '
                    f'y2="{y2:.1f}" {STYLE["edge"]}/>',
                )
                weight = givens[weight_id("w", l, i, j)]
                edges.append(
                    (x1, y1, x2, y2, number_text(weight), _plain(notation.weight(l, i, j)))
                )
    placed = len(drawn)
    labels = _place_labels(edges, obstacles, False, variable, room)
    values_on_edges = labels is not None
    if labels is None:
        del drawn[placed:]  # the values that found a place before one did not
    if labels is None:
        labels = _place_labels(edges, obstacles, True, _text, len)
    if labels is None:
        labels = []

    # The drawing in words, for screen readers (and the PDF's alternative text): aria-label, not
    # <title>, as WeasyPrint spends as long on a <title> as on a dozen labels.
    alt = texts.describe(network_words(solution, notation, annotations))
    svg = "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="network" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'font-family="{", ".join(DRAWING_FONT)}" aria-label="{escape(alt)}">',
            '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" '
            f'markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" {STYLE["arrowhead"]}/>'
            "</marker></defs>",
            *shapes,
            *labels,
            *words,
            "</svg>",
        ]
    )
    for item in drawn:
        texts.draw(item)
    return Drawing(svg, all_givens=single and values_on_edges)


def _layer_words(layer: int, depth: int) -> str:
    if layer == 0:
        return "the inputs"
    return "the output layer" if layer == depth else f"hidden layer {layer}"


def network_words(
    solution: Solution,
    notation: Notation,
    annotations: Mapping[tuple[int, int], Sequence[str]] | None = None,
) -> str:
    """The network in words, every number the drawing shows included: what a screen reader
    reads for the drawing (its alternative text), in the sheet's notation."""
    p = solution.problem
    n, depth, givens = p.layers, p.depth, solution.givens()
    annotations = annotations or {}
    layers = [f"{n[0]} input{'s' * (n[0] != 1)}"] + [
        f"{n[l]} {p.activations[l - 1]} neuron{'s' * (n[l] != 1)} in "
        + ("the output layer" if l == depth else f"hidden layer {l}")
        for l in range(1, depth + 1)
    ]
    sentences = [f"Network diagram: {', '.join(layers)}; every neuron feeds every neuron of the "
                 "next layer."]  # fmt: skip
    if p.examples == 1:
        inputs = [f"{_plain(notation.symbol('x', 0, i, example=None))} = "
                  f"{number_text(givens[given_id('x', i, 1, False)])}" for i in range(1, n[0] + 1)]  # fmt: skip
        targets = [f"{_plain(notation.symbol('t', depth, k, example=None))} = "
                   f"{number_text(givens[given_id('t', k, 1, False)])}"
                   for k in range(1, n[depth] + 1)]  # fmt: skip
        sentences.append(f"Inputs {', '.join(inputs)}; targets {', '.join(targets)}.")
    else:
        sentences.append(f"A mini-batch of {p.examples} examples: their inputs and targets are in "
                         "the tables.")  # fmt: skip
    for l in range(1, depth + 1):
        weights = [
            f"{_plain(notation.weight(l, i, j))} = {number_text(givens[weight_id('w', l, i, j)])}"
            for i in range(1, n[l - 1] + 1)
            for j in range(1, n[l] + 1)
        ]
        sentences.append(
            f"Weights from {_layer_words(l - 1, depth)} to {_layer_words(l, depth)}: "
            + ", ".join(weights)
            + "."
        )
    if p.bias == "per_neuron":
        biases = [
            f"{_plain(notation.symbol('b', l, j))} = {number_text(givens[bias_id('b', l, j)])}"
            for l in range(1, depth + 1)
            for j in range(1, n[l] + 1)
        ]
        sentences.append(f"Biases {', '.join(biases)}.")
    elif p.bias == "shared":
        biases = [
            f"{notation.symbol('b', l, 1).stem().text()} = "
            f"{number_text(givens[bias_id('b', l, None)])}"
            for l in range(1, depth + 1)
        ]
        sentences.append(f"Shared biases, one per layer: {', '.join(biases)}.")
    for (l, j), lines in sorted(annotations.items()):
        name = _plain(notation.symbol("x" if l == 0 else "a", l, j, example=None))
        sentences.append(f"At {name}: {', '.join(lines)}.")
    return " ".join(sentences)


def _distance(box: Box, x1: float, y1: float, x2: float, y2: float) -> float:
    """How far the segment (x1, y1)–(x2, y2) passes from the box (0 when it passes through)."""
    if _crosses(box, x1, y1, x2, y2):
        return 0.0
    corners = [(box.left, box.top), (box.right, box.top), (box.left, box.bottom)]
    corners.append((box.right, box.bottom))
    to_segment = min(_point_to_segment(px, py, x1, y1, x2, y2) for px, py in corners)
    to_box = min(_point_to_box(px, py, box) for px, py in ((x1, y1), (x2, y2)))
    return min(to_segment, to_box)


def _point_to_segment(px: float, py: float, x1: float, y1: float, x2: float, y2: float) -> float:
    dx, dy = x2 - x1, y2 - y1
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / length))
    return math.hypot(px - (x1 + t * dx), py - (y1 + t * dy))


def _point_to_box(px: float, py: float, box: Box) -> float:
    dx = max(box.left - px, 0.0, px - box.right)
    dy = max(box.top - py, 0.0, py - box.bottom)
    return math.hypot(dx, dy)


def _crosses(box: Box, x1: float, y1: float, x2: float, y2: float) -> bool:
    """Whether the segment (x1, y1)–(x2, y2) passes through the box (Liang–Barsky clipping)."""
    t0, t1 = 0.0, 1.0
    dx, dy = x2 - x1, y2 - y1
    for p, q in (
        (-dx, x1 - box.left),
        (dx, box.right - x1),
        (-dy, y1 - box.top),
        (dy, box.bottom - y1),
    ):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def _place_labels(
    edges: Sequence[tuple[float, float, float, float, str, str]],
    obstacles: Sequence[Box],
    use_symbols: bool,
    emit: Emit,
    length: Callable[[str], int],
) -> list[str] | None:
    """A label centred on each edge, overlapping nothing; None when some edge has no free spot.

    Each label goes where its own edge is clearest of the others: never where another edge passes
    through it if that can be helped, and as far from every other edge as the drawing allows (up to
    CLEAR), so that a label is read as its own edge's; among equally clear spots, near the source.
    """
    taken = list(obstacles)
    segments = [(x1 + RADIUS, y1, x2 - RADIUS, y2) for x1, y1, x2, y2, _, _ in edges]
    out = []
    for k, (x1, y1, x2, y2, value, symbol) in enumerate(edges):
        text = symbol if use_symbols else value
        others = segments[:k] + segments[k + 1 :]
        best: tuple[float, float, float, float, Box] | None = None
        for t in POSITIONS:
            # Along the drawn part of the edge, between the two circles.
            x = x1 + RADIUS + t * (x2 - x1 - 2 * RADIUS)
            y = y1 + t * (y2 - y1)
            box = _text_box(x, y, text, "middle", length)
            if any(_padded(box).overlaps(other) for other in taken):
                continue
            clearance = min((_distance(box, *seg) for seg in others), default=CLEAR)
            score = (min(clearance, CLEAR), -abs(t - PREFERRED))
            if best is None or score > best[:2]:
                best = (*score, x, y, box)
        if best is None:
            return None
        *_, x, y, box = best
        taken.append(box)
        out.append(
            f'<rect x="{box.left:.1f}" y="{box.top:.1f}" width="{box.right - box.left:.1f}" '
            f'height="{box.bottom - box.top:.1f}" {STYLE["label-ground"]}/>'
            + emit(x, y, text, "weight", "middle")
        )
    return out
