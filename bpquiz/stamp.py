"""Lay a document out once, then stamp each variant's texts into it.

Every variant of a preset has the same sheet but for its numbers (and its code and student), and
WeasyPrint spends its time per box it lays out and paints, not per file. So a document is made in
two parts:

1. The *skeleton*: the template rendered with every text that varies between variants replaced by
   a slot (`<span class="bq-slot">`) holding, hidden, the widest form of such a text (`room_for`:
   numbers as −0.00, worked lines with every number bracketed and negative), so that the skeleton
   does not depend on the seed and can be kept (bpquiz.cache). WeasyPrint lays it out once;
   `layout_places` reads where each slot landed (page, box, baseline, font, colour).
2. The *stamp*: each variant's texts written at those places (`page_ops`), in the fonts WeasyPrint
   chose and subset for them, into the skeleton's PDF (bpquiz.stamp_pdf).

The look is the template's: a slot is laid out as its widest text would be, right-aligned numbers
stay right-aligned, and a slot that follows another on its line moves up to that one's text. A
variant that cannot be stamped exactly (`Unstampable`: a text that needs shaping, or wider than its
room) is rendered whole instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from markupsafe import Markup

from bpquiz.stamp_pdf import Face, Fonts, Template, font_document, make_template, pdf_number

MARK = "\u2063"
"""Starts every reserve text (U+2063, invisible separator): found outside its slot, it shows that
the template copied a slot's text somewhere stamping cannot reach."""
SLOT = "bq-slot"
RESERVE = "bq-reserve"
SLOT_CSS = f"""
.{SLOT} {{ display: inline-block !important; white-space: pre !important;
  text-indent: 0 !important; margin: 0 !important; padding: 0 !important; border: 0 !important;
  font-kerning: none !important; font-variant-ligatures: none !important; }}
.{RESERVE} {{ visibility: hidden !important; }}
"""
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


def _widestpdf_number(match: re.Match[str], brackets: bool) -> str:
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
        return _NUMBER.sub(lambda m: _widestpdf_number(m, False), text)
    if kind == "working":
        widest = _TERM.sub(lambda m: _widestpdf_number(m, True), text)
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
    """A skeleton's document title (slots written out as markup) with a variant's texts; without
    them, the title with its variable part left out (for a class file)."""
    filled = _FILLED_SLOT.sub(lambda m: texts.get(int(m.group(1)), ""), title).replace(MARK, "")
    return filled if texts else filled.rstrip(" ·")


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
    template: Template
    """The skeleton and its fonts, ready for `bpquiz.stamp_pdf.assemble`."""
    places: tuple[Place, ...]
    drawing: Drawing | None
    pages: int
    title: str
    open: frozenset[int] = frozenset()
    """Slots that end their line: their text may run to the end of the line (`Place.limit`)."""


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


DRAWING_FONT = ("DejaVu Sans", "sans-serif")
"""The drawing's font family (bpquiz.diagram): its text is stamped in this face, regular and bold."""
DRAWING_FACES = (
    Face(DRAWING_FONT, 400, "normal", "normal"),
    Face(DRAWING_FONT, 700, "normal", "normal"),
)


NAME_ROOM = 40
"""The most room (in digit widths) reserved for a name: a longer one is rendered whole, where it
wraps, rather than squeezing every student's page header and footer."""


def reserves_for(groups: Sequence[Slots]) -> list[str]:
    """Per slot, what a group of variants' skeleton reserves: the widest of their reserves (for a
    name, with room for one more letter, as names are measured only roughly here, and no wider
    than NAME_ROOM)."""
    reserves = []
    for k, kind in enumerate(groups[0].kinds):
        texts = [g.reserves[k] for g in groups]
        if kind == "name":
            texts = [t for t in texts if estimated_width(t) <= NAME_ROOM] or [""]
        widest = max(texts, key=estimated_width)
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
    from bpquiz.pdf_answers import VARIANT_FIELD

    document = render_document(html, roots, SLOT_CSS, forms=forms)
    places, drawing, sound = layout_places(document)
    if not sound:
        raise Unstampable("the templates copy a variable text (string-set?)")
    pdf, printed = form_pdfs(document, "", True) if forms else (document.write_pdf(), None)
    charset = set(BASE_CHARS) | set(extra)
    faces = {place.face for place in places} | set(DRAWING_FACES)
    fonts = font_document(dict.fromkeys(faces, charset), roots)
    skeleton = Skeleton(
        pdf=pdf,
        printed=printed,
        template=make_template(pdf, fonts, VARIANT_FIELD if forms else None),
        places=tuple(places),
        drawing=drawing,
        pages=len(document.pages),
        title=document.metadata.title or "",
        open=open_slots,
    )
    return skeleton, fonts


# --- 3. Stamping -----------------------------------------------------------------------------


class Unstampable(Exception):
    """This variant's texts do not fit the skeleton exactly; render it whole instead."""


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
            pages[page].append(" ".join(pdf_number(c) for c in rgb) + " rg")
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
