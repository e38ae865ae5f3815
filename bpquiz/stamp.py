"""Lay a class set out once, then stamp each variant's numbers into it.

Every variant of a class set has the same sheet but for its numbers (and its code and student), and
WeasyPrint spends its time per box it lays out and draws, not per file. So a document is rendered
in two parts:

1. The *skeleton*: the template rendered once with every variable text replaced by an empty slot
   (`<span class="bq-slot">`) that holds, hidden, the widest text any variant puts there. WeasyPrint
   lays it out; `layout_places` reads where each slot landed (page, box, baseline, font, colour).
   Variants whose skeleton HTML differs (another structure) get a skeleton of their own.
2. The *stamp*: each variant's texts written into the skeleton's pages at those places, in fonts
   that WeasyPrint itself chose and subset (`font_document`), with a few lines of PDF text operators.

The look is the template's: a slot is laid out exactly as its widest text would be, right-aligned
numbers stay right-aligned, and a slot that follows another on its line moves up to it. A variant
that cannot be stamped exactly (a character outside the simple scripts, a text wider than its slot)
is rendered whole instead; `Layout.stampable` says which.

This module imports WeasyPrint (through bpquiz.pdf) and pypdf: only the rendering path loads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

SLOT = "bq-slot"
RESERVE = "bq-reserve"
SLOT_CSS = f"""
.{SLOT} {{ display: inline-block !important; white-space: pre !important;
  text-indent: 0 !important; margin: 0 !important; padding: 0 !important; border: 0 !important;
  font-kerning: none !important; font-variant-ligatures: none !important; }}
.{RESERVE} {{ visibility: hidden !important; }}
"""
MARK = "\u2063"
FIT = 0.5
"""How far (in px, 0.13 mm) a stamped text may pass its slot's end: rounding, not overflow."""
_SLOT_TAG = re.compile(rf'<span class="{SLOT}" data-slot="(\d+)"></span>')
_FILLED_SLOT = re.compile(
    rf'<span class="{SLOT}" data-slot="(\d+)">(?:<span class="{RESERVE}">.*?</span>)?</span>'
)


# --- 1. Collecting a variant's variable texts ------------------------------------------------


class SlotText(Markup):
    """A variable text in a skeleton: renders as its slot, is false when the text is empty."""

    text: str

    def __new__(cls, index: int, text: str) -> SlotText:
        slot = super().__new__(cls, f'<span class="{SLOT}" data-slot="{index}"></span>')
        slot.text = text
        return slot

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True)
class SvgText:
    """A variable text in the drawing, in SVG units: anchor point on the baseline."""

    x: float
    y: float
    text: str
    anchor: str
    size: float
    fill: str
    bold: bool


_NUMBER = re.compile(r"−?\d+(?:\.(\d+))?")
_TERM = re.compile(r"\(−\d+(?:\.(\d+))?\)|−?\d+(?:\.(\d+))?")
"""A number in a worked line: a negative one is bracketed."""


def _widest_number(match: re.Match[str], brackets: bool) -> str:
    digits = max(len(match.group(0).strip("()−").split(".")[0]), 1)
    decimals = max(len(match.group(match.lastindex or 0) or "") if match.lastindex else 0, 2)
    number = "−" + "0" * digits + "." + "0" * decimals
    return f"({number})" if brackets else number


def room_for(text: str, kind: str) -> str:
    """A text at least as wide as any variant's text of this kind that looks like `text`, and the
    same for every variant of a preset, so that a skeleton does not depend on the seed:

    - "number": each number with a sign, one digit before the point and two after at least;
    - "working": the same, each number bracketed (a worked line brackets negative numbers);
    - "code": as many W as characters (a code is set in a monospaced font: all are as wide);
    - "name": the text itself (the class's widest is reserved);
    - "open": nothing: the slot ends its line and may run to the line's end (a note).
    """
    if kind == "number":
        return _NUMBER.sub(lambda m: _widest_number(m, False), text)
    if kind == "working":
        widest = _TERM.sub(lambda m: _widest_number(m, True), text)
        # σ(−0.39) reads as a bracketed number, σ(0.33) does not: the same once widest.
        return re.sub(r"\(\((−0+\.0+)\)\)", r"(\1)", widest)
    if kind == "code":
        return "W" * len(text)
    if kind == "open":
        return ""
    return text


@dataclass
class Slots:
    """Turns a variant's variable texts into slots while its template context is built."""

    texts: list[str] = field(default_factory=list)
    reserves: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    drawing: list[SvgText] = field(default_factory=list)

    def __call__(self, text: str, kind: str = "number", like: str | None = None) -> SlotText:
        """The slot of a text; `kind` says what it may hold (see `room_for`), `like` what to
        reserve room for when that is not the text itself (a text that may be empty)."""
        self.texts.append(text)
        self.reserves.append(room_for(text if like is None else like, kind))
        self.kinds.append(kind)
        return SlotText(len(self.texts) - 1, text)


def plain(text: str, kind: str = "", like: str | None = None) -> str:
    """Without slots, a variable text is itself."""
    return text


def fill_reserves(skeleton_html: str, reserves: Sequence[str]) -> str:
    """The skeleton HTML with each slot holding its reserve text, hidden, to be laid out."""

    def fill(match: re.Match[str]) -> str:
        k = int(match.group(1))
        # U+2063 (invisible separator) marks reserve text: found outside its slot, it shows
        # that the template copied a slot's text somewhere stamping cannot reach.
        return (
            f'<span class="{SLOT}" data-slot="{k}"><span class="{RESERVE}">{MARK}'
            f"{escape(reserves[k], quote=False)}</span></span>"
        )

    return _SLOT_TAG.sub(fill, skeleton_html)


def fill_title(title: str, texts: Mapping[int, str]) -> str:
    """A skeleton's document title (slots written out as markup) with a variant's texts."""
    return _FILLED_SLOT.sub(lambda m: texts.get(int(m.group(1)), ""), title).replace(MARK, "")


_SIMPLE_RANGES = (
    (0x20, 0x58F),  # Latin, IPA, Greek, Cyrillic, Armenian
    (0x1D00, 0x1DBF),  # phonetic extensions
    (0x1E00, 0x2BFF),  # Latin and Greek extended, punctuation, sub/superscripts, symbols
    (0x3000, 0x9FFF),  # CJK punctuation, kana, ideographs
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xFF01, 0xFFEF),  # full-width forms
)


def simple(text: str) -> bool:
    """Whether every character draws as one glyph on its own: no shaping, marks or right-to-left."""
    for ch in text:
        cp = ord(ch)
        if not any(lo <= cp <= hi for lo, hi in _SIMPLE_RANGES):
            return False
        if unicodedata.combining(ch) or unicodedata.bidirectional(ch) in ("R", "AL", "AN"):
            return False
        if unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf", "Cc"):
            return False
    return True


_NARROW = set(" .,:;·'|!()[]ijl1/\u2009")
_WIDE = set("−+=×<>~mwMW@%—…")


def estimated_width(text: str) -> float:
    """A rough width, in digit widths, only to pick the widest of a slot's texts; the exact widths
    are checked after layout."""
    return sum(0.5 if ch in _NARROW else 1.3 if ch in _WIDE else 1.0 for ch in text)


# --- 2. Where the slots landed -------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """A font as CSS names it; WeasyPrint picks the same file for the same face."""

    family: tuple[str, ...]
    weight: int
    style: str
    stretch: str

    def css(self) -> str:
        generic = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}
        names = ", ".join(
            f if f in generic else "'" + f.replace("'", "").replace('"', "") + "'"
            for f in self.family
        )
        return (
            f"font-family: {names}; font-weight: {self.weight}; font-style: {self.style}; "
            f"font-stretch: {self.stretch}"
        )


@dataclass(frozen=True)
class Place:
    """One box of a slot on a page, in CSS px from the page's top-left corner."""

    page: int
    slot: int
    left: float
    width: float
    baseline: float
    align: str
    face: Face
    size: float
    color: tuple[float, float, float]
    limit: float
    """The right edge of the block the slot is in: how far an open slot's text may run."""


def _align(style: Mapping[str, object]) -> str:
    value = str(style["text_align_all"])
    rtl = style["direction"] == "rtl"
    return {
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "justify": "left",
    }.get(value, value)


def _face(style: Mapping[str, object]) -> Face:
    return Face(
        tuple(style["font_family"]),  # type: ignore[arg-type]
        int(style["font_weight"]),  # type: ignore[call-overload]
        str(style["font_style"]),
        str(style["font_stretch"]),
    )


def _rgb(color: object) -> tuple[float, float, float]:
    coordinates = color.to("srgb").coordinates  # type: ignore[attr-defined]
    return tuple(round(c, 4) for c in coordinates)  # type: ignore[return-value]


@dataclass(frozen=True)
class Drawing:
    """Where the SVG drawing landed: its page, its content box, and its viewBox scale."""

    page: int
    left: float
    top: float
    scale: float


@dataclass(frozen=True)
class Skeleton:
    """A laid-out skeleton: its PDF, its slots' places, and its drawing's place."""

    pdf: bytes
    printed: bytes | None
    """A form's pages without fields, for the class file (None: not a form)."""
    places: tuple[Place, ...]
    drawing: Drawing | None
    pages: int
    title: str
    open: frozenset[int] = frozenset()
    """Slots that end their line: their text may run to the end of the line (`Place.limit`)."""
    template: Template | None = None
    """The skeleton and its fonts, ready for `assemble`."""


def layout_places(document: object) -> tuple[list[Place], Drawing | None, bool]:
    """The places of every slot in a rendered WeasyPrint document, its drawing, and whether the
    layout is sound: no reserve text outside its slot (a template that copies a slot's text
    elsewhere, as `string-set` does, cannot be stamped)."""
    from weasyprint.formatting_structure.boxes import BlockContainerBox

    places: list[Place] = []
    drawing = None
    sound = True

    def visit(box: object, page: int, limit: float) -> None:
        nonlocal drawing, sound
        element = getattr(box, "element", None)
        kind = type(box).__name__
        if element is not None and kind == "InlineBlockBox" and element.get("data-slot"):
            style = box.style  # type: ignore[attr-defined]
            places.append(
                Place(
                    page=page,
                    slot=int(element.get("data-slot")),
                    left=box.content_box_x(),  # type: ignore[attr-defined]
                    width=box.width,  # type: ignore[attr-defined]
                    baseline=box.position_y + box.baseline,  # type: ignore[attr-defined]
                    align=_align(style),
                    face=_face(style),
                    size=float(style["font_size"]),
                    color=_rgb(style["color"]),
                    limit=limit,
                )
            )
            return
        if element is not None and kind == "InlineReplacedBox" and box.element_tag.endswith("svg"):  # type: ignore[attr-defined]
            view = element.get("viewBox", "").split()
            width = float(view[2]) if len(view) == 4 else box.width  # type: ignore[attr-defined]
            drawing = Drawing(
                page,
                box.content_box_x(),  # type: ignore[attr-defined]
                box.content_box_y(),  # type: ignore[attr-defined]
                box.width / width,  # type: ignore[attr-defined]
            )
        if kind == "TextBox" and MARK in box.text:  # type: ignore[attr-defined]
            sound = False
        if isinstance(box, BlockContainerBox):
            limit = box.content_box_x() + box.width
        for child in getattr(box, "children", ()):
            visit(child, page, limit)

    for number, page in enumerate(document.pages):  # type: ignore[attr-defined]
        visit(page._page_box, number, page.width)
    return places, drawing, sound


DRAWING_FACES = (
    Face(("DejaVu Sans", "sans-serif"), 400, "normal", "normal"),
    Face(("DejaVu Sans", "sans-serif"), 700, "normal", "normal"),
)
"""The drawing's regular and bold text (bpquiz.diagram writes font-family="DejaVu Sans, sans-serif")."""


def reserves_for(groups: Sequence[Slots]) -> list[str]:
    """Per slot, what a group of variants' skeleton reserves: the widest of their reserves (for a
    name, with room for one more letter, as names are measured only roughly here)."""
    reserves = []
    for k, kind in enumerate(groups[0].kinds):
        widest = max((g.reserves[k] for g in groups), key=estimated_width)
        reserves.append(widest + "W" if kind == "name" and len(groups) > 1 else widest)
    return reserves


BASE_CHARS = frozenset(
    [chr(c) for c in range(0x20, 0x7F)]
    + list("−·×÷±√∂∑…–—‘’“”′½²³¹⁰⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻ⁿ₀₁₂₃₄₅₆₇₈₉₍₎₊₋ᵢⱼₖₗₘₙαβγδεηθλμπσφωΔΣ")
)
"""Characters every font document holds, so that a skeleton's fonts do not depend on the seed."""


def extra_chars(texts: Sequence[str]) -> str:
    """The characters of `texts` beyond BASE_CHARS, sorted."""
    return "".join(sorted(set("".join(texts)) - BASE_CHARS))


def build_skeleton(
    html: str,
    roots: Sequence[Path],
    extra: str,
    forms: bool,
    open_slots: frozenset[int],
) -> tuple[Skeleton, Fonts]:
    """Lay out a skeleton (HTML whose slots hold their reserves, `fill_reserves`) and make the
    fonts to stamp texts into it: BASE_CHARS and `extra` in every face its slots and the drawing
    use. With `forms`, the skeleton is a PDF form (and its print copy has no fields).

    A pure function of its arguments (and the machine's fonts), so its result can be cached."""
    from bpquiz.pdf import form_pdfs, render_document

    document = render_document(html, roots, SLOT_CSS, forms=forms)
    places, drawing, sound = layout_places(document)
    if not sound:
        raise Unstampable("the templates copy a variable text (string-set?)")
    pdf, printed = form_pdfs(document, "", True) if forms else (document.write_pdf(), None)
    skeleton = Skeleton(
        pdf=pdf,
        printed=printed,
        places=tuple(places),
        drawing=drawing,
        pages=len(document.pages),
        title=document.metadata.title or "",
        open=open_slots,
    )
    charset = set(BASE_CHARS) | set(extra)
    faces = {place.face for place in places} | set(DRAWING_FACES)
    fonts = font_document(dict.fromkeys(faces, charset), roots)
    from bpquiz.pdf_answers import VARIANT_FIELD

    template = make_template(skeleton, fonts, VARIANT_FIELD if forms else None)
    return dataclasses.replace(skeleton, template=template), fonts


# --- 3. Fonts for the stamped text ---------------------------------------------------------


@dataclass(frozen=True)
class Glyphs:
    """One face's glyphs as WeasyPrint subset them: character → (font resource, glyph id, width)."""

    chars: Mapping[str, tuple[str, int, float]]


@dataclass
class Fonts:
    """The fonts of a font document: its PDF (for copying the font objects) and each face's glyphs."""

    pdf: bytes
    faces: dict[Face, Glyphs]
    resources: dict[str, tuple[int, str]]
    """Resource name → (page of the font document, its font key there)."""

    def width(self, face: Face, size: float, text: str) -> float | None:
        """The advance of `text` in px, or None when a character has no glyph."""
        glyphs = self.faces[face].chars
        total = 0.0
        for ch in text:
            if ch not in glyphs:
                return None
            total += glyphs[ch][2]
        return total * size / 1000


def font_document(chars: Mapping[Face, set[str]], roots: Sequence[Path]) -> Fonts:
    """Render every face's characters, a page a face, and read back each glyph's font and id."""
    from pypdf import PdfReader

    from bpquiz.pdf import render_document

    faces = sorted(chars, key=repr)
    body = "".join(
        f'<p style="{face.css()}; font-size: 10px; white-space: pre; break-after: page; '
        'font-kerning: none; font-variant-ligatures: none">'
        f"{escape(''.join(sorted(chars[face] | {' '})), quote=False)}</p>"
        for face in faces
    )
    document = render_document(f"<!DOCTYPE html><html><body>{body}</body></html>", roots)
    pdf = document.write_pdf()
    reader = PdfReader(io.BytesIO(pdf))
    found: dict[Face, Glyphs] = {}
    resources: dict[str, tuple[int, str]] = {}
    for number, (face, page) in enumerate(zip(faces, reader.pages, strict=True)):
        table: dict[str, tuple[str, int, float]] = {}
        # The pages share one resource dictionary: a page's own fonts are those its text uses.
        used = sorted(set(re.findall(rb"/(\S+) [\d.]+ Tf", page.get_contents().get_data())))
        for key in (f"/{name.decode()}" for name in used):
            ref = page["/Resources"]["/Font"].raw_get(key)
            name = f"BQ{number}{key.lstrip('/')}"
            resources[name] = (number, key)
            font = ref.get_object()
            widths = _widths(font["/DescendantFonts"][0].get_object()["/W"])
            for cid, text in _to_unicode(font["/ToUnicode"].get_object().get_data()).items():
                if len(text) == 1 and text not in table:
                    table[text] = (name, cid, widths.get(cid, 0.0))
        found[face] = Glyphs(table)
    return Fonts(pdf, found, resources)


def _widths(array: Sequence[object]) -> dict[int, float]:
    widths: dict[int, float] = {}
    k = 0
    while k < len(array):
        first = int(array[k])  # type: ignore[call-overload]
        if isinstance(array[k + 1], list):
            for offset, w in enumerate(array[k + 1]):  # type: ignore[arg-type]
                widths[first + offset] = float(w)
            k += 2
        else:
            last, w = int(array[k + 1]), float(array[k + 2])  # type: ignore[call-overload, arg-type]
            widths.update(dict.fromkeys(range(first, last + 1), w))
            k += 3
    return widths


_HEX = r"<([0-9a-fA-F]+)>"


def _unicode(hexits: str) -> str:
    return bytes.fromhex(hexits).decode("utf-16-be", errors="replace")


def _to_unicode(cmap: bytes) -> dict[int, str]:
    text = cmap.decode("latin-1")
    mapping: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for cid, uni in re.findall(rf"{_HEX}\s*{_HEX}", block):
            mapping[int(cid, 16)] = _unicode(uni)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, uni in re.findall(rf"{_HEX}\s*{_HEX}\s*{_HEX}", block):
            start = int(uni, 16)
            for offset, cid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[cid] = chr(start + offset)
    return mapping


# --- 4. Stamping -----------------------------------------------------------------------------


class Unstampable(Exception):
    """This variant's texts do not fit the skeleton exactly; render it whole instead."""


def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_ops(fonts: Fonts, face: Face, size: float, x: float, baseline: float, text: str) -> str:
    glyphs = fonts.faces[face].chars
    runs: list[tuple[str, list[int]]] = []
    for ch in text:
        name, cid, _ = glyphs[ch]
        if runs and runs[-1][0] == name:
            runs[-1][1].append(cid)
        else:
            runs.append((name, [cid]))
    ops = [f"BT 1 0 0 -1 {_number(x)} {_number(baseline)} Tm"]
    for name, cids in runs:
        hexits = "".join(f"{cid:04x}" for cid in cids)
        ops.append(f"/{name} {_number(size)} Tf <{hexits}> Tj")
    ops.append("ET")
    return " ".join(ops)


def _svg_colour(fill: str) -> tuple[float, float, float]:
    value = fill.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return tuple(round(int(value[k : k + 2], 16) / 255, 4) for k in (0, 2, 4))  # type: ignore[return-value]


def page_ops(
    skeleton: Skeleton, fonts: Fonts, texts: Sequence[str], drawing: Sequence[SvgText]
) -> list[list[str]]:
    """Per page, the PDF operators that write a variant's texts into the skeleton.

    Raises Unstampable when a text needs shaping, has a character without a glyph, or is wider
    than its slot.
    """
    pages: list[list[str]] = [[] for _ in range(skeleton.pages)]
    colour: list[tuple[float, float, float] | None] = [None] * skeleton.pages

    def put(page: int, rgb: tuple[float, float, float], ops: str) -> None:
        if colour[page] != rgb:
            pages[page].append(" ".join(_number(c) for c in rgb) + " rg")
            colour[page] = rgb
        pages[page].append(ops)

    previous: Place | None = None
    unused = 0.0
    """How far the slots so far on this line leave their ends unused (left-aligned slots)."""
    for place in skeleton.places:
        text = texts[place.slot]
        if not simple(text):
            raise Unstampable(f"slot {place.slot} needs text shaping")
        width = fonts.width(place.face, place.size, text)
        if width is None:
            raise Unstampable(f"slot {place.slot} has a character without a glyph")
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
            raise Unstampable(f"slot {place.slot} does not fit")
        previous = place
        if text:
            ops = _text_ops(fonts, place.face, place.size, x, place.baseline, text)
            put(place.page, place.color, ops)
    where = skeleton.drawing
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
        put(where.page, _svg_colour(item.fill), _text_ops(fonts, face, size, x, y, item.text))
    return pages


@dataclass(frozen=True)
class Template:
    """A skeleton ready to be stamped by appending bytes: its objects (fonts included), with
    object numbers kept free for each page's stamped text, the document information and a form's
    variant field, which `assemble` writes after them with a new cross-reference table."""

    head: bytes
    offsets: tuple[tuple[int, int], ...]
    """(object number, offset in `head`) of every object written."""
    size: int
    root: int
    streams: tuple[int, ...]
    """Per page, the object number of its stamped text."""
    heights: tuple[float, ...]
    info: int
    info_base: tuple[tuple[str, str], ...]
    field: tuple[int, bytes] | None = None
    """A form's variant field: its object number and its bytes, with FIELD_MARK for the value."""


FIELD_MARK = b"(BQVARIANTVALUE)"
"""Letters only: pypdf writes other characters of a string as octal escapes."""


def _pdf_string(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def make_template(skeleton: Skeleton, fonts: Fonts, field: str | None = None) -> Template:
    """The skeleton merged with the fonts, its stamped parts left out (see Template)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        NameObject,
        StreamObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(skeleton.pdf)))
    font_pages = PdfReader(io.BytesIO(fonts.pdf)).pages
    added = {
        name: font_pages[page]["/Resources"]["/Font"].raw_get(key).clone(writer)
        for name, (page, key) in sorted(fonts.resources.items())
    }
    save = StreamObject()
    save.set_data(b"q")
    save_ref = writer._add_object(save)
    streams = []
    heights: list[float] = []
    for page in writer.pages:
        resources = page["/Resources"]
        if "/Font" not in resources:
            resources[NameObject("/Font")] = DictionaryObject()
        font_dict = resources["/Font"].get_object()
        for name, ref in added.items():
            font_dict[NameObject("/" + name)] = ref
        contents = page.raw_get("/Contents")
        old = list(contents) if isinstance(contents, ArrayObject) else [contents]
        placeholder = writer._add_object(StreamObject())
        page[NameObject("/Contents")] = ArrayObject([save_ref, *old, placeholder])
        streams.append(placeholder.idnum)
        heights.append(float(page.mediabox.height))
    field_number = None
    form = writer._root_object.get("/AcroForm")
    for ref in form.get_object().get("/Fields", []) if form and field else []:
        if ref.get_object().get("/T") == field:
            ref.get_object()[NameObject("/V")] = TextStringObject(FIELD_MARK[1:-1].decode())
            field_number = ref.idnum
    info = writer._info
    base = tuple((str(k), str(v)) for k, v in sorted(info.get_object().items()))
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    table = data[start:].split(b"trailer")[0].split(b"\n")
    count = int(table[1].split()[1])
    offsets = {
        n: int(line[:10]) for n, line in enumerate(table[2 : 2 + count]) if line[17:18] == b"n"
    }
    root = writer._root_object.indirect_reference.idnum
    order = sorted(offsets, key=offsets.__getitem__)
    bounds = [offsets[n] for n in order] + [start]
    skip = set(streams) | {info.indirect_reference.idnum}
    head = bytearray(data[: bounds[0]])
    kept = []
    field_bytes = None
    for k, n in enumerate(order):
        chunk = data[bounds[k] : bounds[k + 1]]
        if n == field_number:
            field_bytes = chunk
            continue
        if n in skip:
            continue
        kept.append((n, len(head)))
        head += chunk
    return Template(
        head=bytes(head),
        offsets=tuple(kept),
        size=count,
        root=root,
        streams=tuple(streams),
        heights=tuple(heights),
        info=info.indirect_reference.idnum,
        info_base=base,
        field=(field_number, field_bytes) if field_number and field_bytes else None,
    )


def assemble(
    template: Template,
    ops: Sequence[Sequence[str]],
    title: str,
    info: Mapping[str, str] | None = None,
    field: str | None = None,
) -> bytes:
    """A stamped document's bytes: the template, then each page's text, the document
    information and a form's variant field, then the cross-reference table."""
    out = bytearray(template.head)
    offsets = dict(template.offsets)
    for number, height, page_ops_ in zip(template.streams, template.heights, ops, strict=True):
        offsets[number] = len(out)
        frame = f"1 0 0 -1 0 {_number(height)} cm 0.75 0 0 0.75 0 0 cm"
        content = "\n".join(["Q q", frame, *page_ops_, "Q"]) if page_ops_ else "Q q Q"
        data = zlib.compress(content.encode("latin-1"))
        out += b"%d 0 obj\n<< /Filter /FlateDecode /Length %d >>\nstream\n" % (number, len(data))
        out += data + b"\nendstream\nendobj\n"
    values = {**dict(template.info_base), "/Title": title}
    values.update({"/" + k.lstrip("/"): v for k, v in (info or {}).items()})
    entries = [k.encode() + b" " + _pdf_string(v) for k, v in sorted(values.items())]
    offsets[template.info] = len(out)
    out += b"%d 0 obj\n<< " % template.info + b" ".join(entries) + b" >>\nendobj\n"
    if template.field is not None:
        number, chunk = template.field
        offsets[number] = len(out)
        out += chunk.replace(FIELD_MARK, _pdf_string(field or ""))
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % template.size
    for number in range(1, template.size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 65535 f \n"
    digest = hashlib.md5(out, usedforsecurity=False).hexdigest().encode()
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\n" % (
        template.size,
        template.root,
        template.info,
        digest,
        digest,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


class Stamper:
    """Writes variants into one skeleton: parses the skeleton and the fonts once."""

    def __init__(self, skeleton: Skeleton, fonts: Fonts, printed: bool = False) -> None:
        self.skeleton = skeleton
        self.fonts = fonts
        self.printed = printed

    @cached_property
    def reader(self) -> Any:
        from pypdf import PdfReader

        skeleton = self.skeleton
        pdf = skeleton.printed if self.printed and skeleton.printed else skeleton.pdf
        return PdfReader(io.BytesIO(pdf))

    @cached_property
    def font_reader(self) -> Any:
        from pypdf import PdfReader

        return PdfReader(io.BytesIO(self.fonts.pdf))

    def stamp(
        self,
        texts: Sequence[str],
        ops: Sequence[Sequence[str]],
        fields: Mapping[str, str] | None = None,
        info: Mapping[str, str] | None = None,
    ) -> bytes:
        """One variant's document: the skeleton with its texts written in, and for a form the
        values of its `fields` and the document information `info`."""
        title = fill_title(self.skeleton.title, dict(enumerate(texts)))
        if self.skeleton.template is not None:
            field = next(iter((fields or {}).values()), None)
            return assemble(self.skeleton.template, ops, title, info, field)
        return self.write([ops], title, fields=fields, info=info)

    def write(
        self,
        copies: Sequence[Sequence[Sequence[str]]],
        title: str = "",
        duplex: bool = False,
        fields: Mapping[str, str] | None = None,
        info: Mapping[str, str] | None = None,
    ) -> bytes:
        """A PDF of the skeleton's pages once per copy, each with its own operators written over
        them; all copies share the skeleton's objects and the fonts, so a class file is not much
        bigger than the sum of its texts. With `duplex`, a copy with an odd number of pages is
        followed by a blank page."""
        from pypdf import PdfWriter
        from pypdf.generic import (
            ArrayObject,
            DictionaryObject,
            NameObject,
            NumberObject,
            StreamObject,
            TextStringObject,
        )

        writer = PdfWriter(clone_from=self.reader)
        root = writer._root_object
        for key in ("/Outlines", "/PageMode", "/Names", "/OpenAction") if len(copies) > 1 else ():
            root.pop(NameObject(key), None)
        font_pages = self.font_reader.pages
        fonts = {
            name: font_pages[page]["/Resources"]["/Font"].raw_get(key).clone(writer)
            for name, (page, key) in sorted(self.fonts.resources.items())
        }
        save = StreamObject()
        save.set_data(b"q")
        save_ref = writer._add_object(save)
        tree = writer._pages.get_object()
        originals = [page.get_object() for page in tree["/Kids"]]
        for page in originals:
            resources = page["/Resources"]
            if "/Font" not in resources:
                resources[NameObject("/Font")] = DictionaryObject()
            font_dict = resources["/Font"].get_object()
            for name, ref in fonts.items():
                font_dict[NameObject("/" + name)] = ref
        kids = ArrayObject()
        for copy in copies:
            for page, ops in zip(originals, copy, strict=True):
                new = DictionaryObject(page)
                contents = page.raw_get("/Contents")
                old = list(contents) if isinstance(contents, ArrayObject) else [contents]
                if ops:
                    height = float(page["/MediaBox"][3])
                    content = "\n".join(
                        ["Q q", f"1 0 0 -1 0 {_number(height)} cm 0.75 0 0 0.75 0 0 cm", *ops, "Q"]
                    )
                    stream = StreamObject()
                    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
                    stream._data = zlib.compress(content.encode("latin-1"))
                    old = [save_ref, *old, writer._add_object(stream)]
                new[NameObject("/Contents")] = ArrayObject(old)
                kids.append(writer._add_object(new))
            if duplex and len(originals) % 2:
                blank = DictionaryObject(
                    {
                        NameObject("/Type"): NameObject("/Page"),
                        NameObject("/Parent"): tree.indirect_reference,
                        NameObject("/MediaBox"): originals[-1]["/MediaBox"],
                        NameObject("/Resources"): DictionaryObject(),
                    }
                )
                kids.append(writer._add_object(blank))
        for page in originals:
            writer._objects[page.indirect_reference.idnum - 1] = None  # type: ignore[call-overload]
        tree[NameObject("/Kids")] = kids
        tree[NameObject("/Count")] = NumberObject(len(kids))
        if fields:
            form = root.get("/AcroForm")
            for ref in form.get_object().get("/Fields", []) if form else []:
                field = ref.get_object()
                if field.get("/T") in fields:
                    field[NameObject("/V")] = TextStringObject(fields[field["/T"]])
        title = title or fill_title(self.skeleton.title, {}).rstrip(" ·")
        writer.add_metadata({"/Title": title, **(info or {})})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
