"""Laying a skeleton out once, and reading where its slots landed.

A skeleton is a document's HTML whose slots hold their reserves (bpquiz.sheets.stamping.slots).
WeasyPrint lays it out once; `layout_places` reads from its box tree where each slot landed (page,
box, baseline, font, colour) and where the drawing is, so that each variant's texts can be stamped
there (bpquiz.sheets.stamping.stamp) without laying the document out again. The skeleton is
written as a tagged PDF with a marker inside each slot's marked content (`marking`), where the
variant's text goes (bpquiz.sheets.stamping.assemble).

This reads WeasyPrint's box tree (its internals): the versions it is tested with are pinned in
pyproject.toml, and any failure here makes the caller render the document whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz.forms import VARIANT_FIELD
from bpquiz.sheets.diagram import DRAWING_FONT
from bpquiz.sheets.stamping.assemble import (
    DRAWING,
    Template,
    Unstampable,
    make_template,
    marker,
)
from bpquiz.sheets.stamping.classfile import ClassKit, make_kit
from bpquiz.sheets.stamping.fonts import Face, Fonts, font_pages_html
from bpquiz.sheets.stamping.slots import BASE_CHARS, MARK, SLOT_CSS

DRAWING_FACES = (
    Face(DRAWING_FONT, 400, "normal", "normal"),
    Face(DRAWING_FONT, 700, "normal", "normal"),
)
"""The drawing's texts are stamped in its font, regular and bold."""


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


@dataclass(frozen=True)
class Drawing:
    """Where the SVG drawing landed: its page, its content box, and its viewBox scale."""

    page: int
    left: float
    top: float
    scale: float


@dataclass(frozen=True)
class Skeleton:
    """A laid-out skeleton: its template, its slots' places, and its drawing's place."""

    form: bool
    """A fillable sheet: its class file copies its print copy (pages without fields)."""
    template: Template
    """The skeleton and its fonts, ready for `bpquiz.sheets.stamping.assemble.assemble`."""
    kit: ClassKit
    """What class files of it are made of (for a form: of its print copy)."""
    places: tuple[Place, ...]
    drawing: Drawing | None
    pages: int
    title: str
    open: frozenset[int] = frozenset()
    """Slots that end their line: their text may run to the end of the line (`Place.limit`)."""


def _align(style: Mapping[str, Any]) -> str:
    value = str(style["text_align_all"])
    rtl = style["direction"] == "rtl"
    return {
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "justify": "left",
    }.get(value, value)


def _face(style: Mapping[str, Any]) -> Face:
    return Face(
        tuple(style["font_family"]),
        int(style["font_weight"]),
        str(style["font_style"]),
        str(style["font_stretch"]),
    )


def _rgb(color: Any) -> tuple[float, float, float]:
    red, green, blue = (round(c, 4) for c in color.to("srgb").coordinates)
    return red, green, blue


def layout_places(
    document: Any, marks: dict[int, int] | None = None
) -> tuple[list[Place], Drawing | None, bool]:
    """The places of every slot in a rendered WeasyPrint document, its drawing, and whether the
    layout is sound: no reserve text outside its slot (a template that copies a slot's text
    elsewhere, as `string-set` does, cannot be stamped). `marks` receives, by box id, the key of
    each box whose marked content an insert goes into: a place's reserve text (its index) and the
    drawing (DRAWING)."""
    from weasyprint.formatting_structure.boxes import BlockContainerBox, TextBox

    places: list[Place] = []
    drawing = None
    sound = True
    marks = {} if marks is None else marks

    def visit(box: Any, page: int, limit: float) -> None:
        nonlocal drawing, sound
        element = getattr(box, "element", None)
        kind = type(box).__name__
        if element is not None and kind == "InlineBlockBox" and element.get("data-slot"):
            style = box.style
            places.append(
                Place(
                    page=page,
                    slot=int(element.get("data-slot")),
                    left=box.content_box_x(),
                    width=box.width,
                    baseline=box.position_y + box.baseline,
                    align=_align(style),
                    face=_face(style),
                    size=float(style["font_size"]),
                    color=_rgb(style["color"]),
                    limit=limit,
                )
            )
            text = next((b for b in box.descendants() if isinstance(b, TextBox)), None)
            if text is None:
                sound = False
            else:
                marks[id(text)] = len(places) - 1
            return
        if element is not None and kind == "InlineReplacedBox" and box.element_tag.endswith("svg"):
            view = element.get("viewBox", "").split()
            width = float(view[2]) if len(view) == 4 else box.width
            drawing = Drawing(page, box.content_box_x(), box.content_box_y(), box.width / width)
            marks[id(box)] = DRAWING
        if kind == "TextBox" and MARK in box.text:
            sound = False
        if isinstance(box, BlockContainerBox):
            limit = box.content_box_x() + box.width
        for child in getattr(box, "children", ()):
            visit(child, page, limit)

    for number, page in enumerate(document.pages):
        visit(page._page_box, number, page.width)
    return places, drawing, sound


@dataclass(frozen=True)
class SkeletonSpec:
    """Everything a skeleton is made from: `build_skeleton` is a pure function of it (and of the
    machine's fonts), so its result can be kept (bpquiz.sheets.stamping.cache)."""

    html: str
    """The skeleton HTML, each slot holding its reserve (`slots.fill_reserves`)."""
    roots: tuple[Path, ...]
    extra: str
    """Characters beyond BASE_CHARS that the texts to stamp use."""
    forms: bool
    open_slots: frozenset[int]


@contextmanager
def marking(marks: Mapping[int, int]) -> Iterator[None]:
    """While a document is written: a marker comment (`assemble.marker`) inside the marked-content
    sequence of each box in `marks`, at its start (a slot's hidden reserve text: an empty
    sequence) or at its end (the drawing, after its own content). This wraps WeasyPrint's
    `Stream.marked` (its internals: see pyproject.toml's pins)."""
    from weasyprint.pdf.stream import Stream

    original = Stream.marked

    @contextmanager
    def marked(self: Any, box: object, tag: str) -> Iterator[None]:
        key = marks.get(id(box))
        with original(self, box, tag):
            if key is not None and key != DRAWING:
                self.stream.append(marker(key))
            yield
            if key == DRAWING:
                self.stream.append(marker(DRAWING))

    setattr(Stream, "marked", marked)  # noqa: B010 (mypy: a method assigned)
    try:
        yield
    finally:
        setattr(Stream, "marked", original)  # noqa: B010


def build_skeleton(spec: SkeletonSpec) -> tuple[Skeleton, Fonts]:
    """Lay out a skeleton and make the fonts to stamp texts into it: BASE_CHARS and the extra
    characters in every face its slots and the drawing use, on font pages written with it (each
    font embedded once). With `forms`, the skeleton is a PDF form (and its print copy, for the
    class file, has no fields)."""
    from bpquiz.sheets.pdf import form_pdfs, render_document, write_pdf

    document = render_document(spec.html, spec.roots, SLOT_CSS, forms=spec.forms)
    marks: dict[int, int] = {}
    places, drawing, sound = layout_places(document, marks)
    if not sound:
        raise Unstampable("the templates copy a variable text (string-set?)")
    charset = set(BASE_CHARS) | set(spec.extra)
    faces = {place.face for place in places} | set(DRAWING_FACES)
    font_html, ordered = font_pages_html(dict.fromkeys(faces, charset))
    combined = document.copy([*document.pages, *render_document(font_html, spec.roots).pages])
    with marking(marks):
        if spec.forms:
            pdf, printed = form_pdfs(combined, "", True)
        else:
            pdf, printed = write_pdf(combined), None
    pages = len(document.pages)
    template, fonts = make_template(
        pdf, pages, ordered, len(places), drawing is not None, VARIANT_FIELD if spec.forms else None
    )
    skeleton = Skeleton(
        form=spec.forms,
        template=template,
        kit=make_kit(printed or pdf, pages),
        places=tuple(places),
        drawing=drawing,
        pages=pages,
        title=document.metadata.title or "",
        open=spec.open_slots,
    )
    return skeleton, fonts
