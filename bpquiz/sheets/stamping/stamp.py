"""Stamping: a variant's texts written into a skeleton as PDF text operators.

For each slot of the skeleton (bpquiz.sheets.stamping.layout), the variant's text is set at the
slot's place, in the very font and subset WeasyPrint chose for it there, right-aligned numbers
staying right-aligned and a slot that follows another on its line moving up to that one's text.
A text that cannot be set exactly (one that needs shaping, or is wider than its room) makes the
variant `Unstampable`: it is rendered whole instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from bpquiz.sheets.stamping.assemble import pdf_number
from bpquiz.sheets.stamping.fonts import Face, Fonts
from bpquiz.sheets.stamping.layout import DRAWING_FACES, Place, Skeleton, Unstampable
from bpquiz.sheets.stamping.slots import simple
from bpquiz.sheets.variable import SvgText

FIT = 0.5
"""How far (in px, 0.13 mm) a stamped text may pass its slot's end: rounding, not overflow."""


def _text_ops(fonts: Fonts, face: Face, size: float, x: float, baseline: float, text: str) -> str:
    glyphs = fonts.faces[face].chars
    runs: list[tuple[str, list[int]]] = []
    for ch in text:
        name, cid, _ = glyphs[ch]
        if runs and runs[-1][0] == name:
            runs[-1][1].append(cid)
        else:
            runs.append((name, [cid]))
    ops = [f"BT 1 0 0 -1 {pdf_number(x)} {pdf_number(baseline)} Tm"]
    for name, cids in runs:
        hexits = "".join(f"{cid:04x}" for cid in cids)
        ops.append(f"/{name} {pdf_number(size)} Tf <{hexits}> Tj")
    ops.append("ET")
    return " ".join(ops)


def _svg_colour(fill: str) -> tuple[float, float, float]:
    value = fill.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    red, green, blue = (round(int(value[k : k + 2], 16) / 255, 4) for k in (0, 2, 4))
    return red, green, blue


def _colour(rgb: tuple[float, float, float]) -> str:
    return " ".join(pdf_number(c) for c in rgb) + " rg "


def page_ops(
    skeleton: Skeleton, fonts: Fonts, texts: Sequence[str], drawing: Sequence[SvgText]
) -> list[str]:
    """The PDF operators that write a variant's texts into the skeleton: one string per place
    (`skeleton.places`), drawn inside that slot's marked content, and last the drawing's texts,
    drawn at the end of the drawing's (index DRAWING, −1).

    Raises Unstampable when a text needs shaping, has a character without a glyph, or is wider
    than its slot.
    """
    inserts: list[str] = []

    previous: Place | None = None
    unused = 0.0
    """How far the slots so far on this line leave their ends unused (left-aligned slots)."""
    for place in skeleton.places:
        text = texts[place.slot]
        if not simple(text):
            raise Unstampable(f"{text!r} needs text shaping")
        width = fonts.width(place.face, place.size, text)
        if width is None:
            raise Unstampable(f"{text!r} has a character that no font of its slot has")
        # A slot right after another on the same line moves up to that one's text.
        follows = (
            previous is not None
            and previous.page == place.page
            and abs(previous.baseline - place.baseline) < 0.5
            and 0 <= place.left - (previous.left + previous.width) < place.size
        )
        unused = unused if follows else 0.0
        x = place.left - unused
        if place.align == "right":
            x += place.width - width
            unused = 0.0
        elif place.align == "center":
            x += (place.width - width) / 2
            unused = 0.0
        else:
            unused += place.width - width
        # Pango keeps advances in 1/1024 px: a text may measure a hair wider than its own box.
        end = (
            place.limit
            if place.slot in skeleton.open
            else min(place.left + place.width, place.limit)
        )
        if x + width > end + FIT:
            raise Unstampable(f"{text!r} is wider than the room reserved for it")
        previous = place
        inserts.append(
            _colour(place.color) + _text_ops(fonts, place.face, place.size, x, place.baseline, text)
            if text
            else ""
        )
    where = skeleton.drawing
    ops = []
    for item in drawing:
        if where is None:
            raise Unstampable("the skeleton has no drawing")
        face = DRAWING_FACES[item.bold]
        size = item.size * where.scale
        if not simple(item.text):
            raise Unstampable("a drawing label needs text shaping")
        width = fonts.width(face, size, item.text)
        if width is None:
            raise Unstampable("a drawing label has no glyph")
        x = (
            where.left
            + item.x * where.scale
            - {"middle": width / 2, "end": width}.get(item.anchor, 0.0)
        )
        y = where.top + item.y * where.scale
        ops.append(_colour(_svg_colour(item.fill)) + _text_ops(fonts, face, size, x, y, item.text))
    inserts.append("\n".join(ops))
    return inserts
