"""Laying a skeleton out once, and reading where its slots landed.

A skeleton is a document's HTML whose slots hold their reserves (bpquiz.sheets.stamping.slots).
WeasyPrint lays it out once; `layout_places` reads from its box tree where each slot landed (page,
box, baseline, font, colour) and where the drawing is, so that each variant's texts can be stamped
there (bpquiz.sheets.stamping.stamp) without laying the document out again.

This reads WeasyPrint's box tree (its internals): the versions it is tested with are pinned in
pyproject.toml, and any failure here makes the caller render the document whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz.forms import VARIANT_FIELD
from bpquiz.sheets.diagram import DRAWING_FONT
from bpquiz.sheets.stamping.assemble import Template, make_template
from bpquiz.sheets.stamping.fonts import Face, Fonts, font_document
from bpquiz.sheets.stamping.slots import BASE_CHARS, MARK, SLOT_CSS

DRAWING_FACES = (
    Face(DRAWING_FONT, 400, "normal", "normal"),
    Face(DRAWING_FONT, 700, "normal", "normal"),
)
"""The drawing's texts are stamped in its font, regular and bold."""


class Unstampable(Exception):
    """This document cannot be laid out once and stamped exactly; render it whole instead."""


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
    """A laid-out skeleton: its PDF, its slots' places, and its drawing's place."""

    pdf: bytes
    printed: bytes | None
    """A form's pages without fields, for the class file (None: not a form)."""
    template: Template
    """The skeleton and its fonts, ready for `bpquiz.sheets.stamping.assemble.assemble`."""
    places: tuple[Place, ...]
    drawing: Drawing | None
    pages: int
    title: str
    open: frozenset[int] = frozenset()
    """Slots that end their line: their text may run to the end of the line (`Place.limit`)."""

    @property
    def print_copy(self) -> bytes:
        """The pages a class file repeats: a form's without fields, else the skeleton's."""
        return self.printed if self.printed is not None else self.pdf


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


def layout_places(document: Any) -> tuple[list[Place], Drawing | None, bool]:
    """The places of every slot in a rendered WeasyPrint document, its drawing, and whether the
    layout is sound: no reserve text outside its slot (a template that copies a slot's text
    elsewhere, as `string-set` does, cannot be stamped)."""
    from weasyprint.formatting_structure.boxes import BlockContainerBox

    places: list[Place] = []
    drawing = None
    sound = True

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
            return
        if element is not None and kind == "InlineReplacedBox" and box.element_tag.endswith("svg"):
            view = element.get("viewBox", "").split()
            width = float(view[2]) if len(view) == 4 else box.width
            drawing = Drawing(page, box.content_box_x(), box.content_box_y(), box.width / width)
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


def build_skeleton(spec: SkeletonSpec) -> tuple[Skeleton, Fonts]:
    """Lay out a skeleton and make the fonts to stamp texts into it: BASE_CHARS and the extra
    characters in every face its slots and the drawing use. With `forms`, the skeleton is a PDF
    form (and its print copy has no fields)."""
    from bpquiz.sheets.pdf import form_pdfs, render_document

    document = render_document(spec.html, spec.roots, SLOT_CSS, forms=spec.forms)
    places, drawing, sound = layout_places(document)
    if not sound:
        raise Unstampable("the templates copy a variable text (string-set?)")
    pdf, printed = form_pdfs(document, "", True) if spec.forms else (document.write_pdf(), None)
    charset = set(BASE_CHARS) | set(spec.extra)
    faces = {place.face for place in places} | set(DRAWING_FACES)
    fonts = font_document(dict.fromkeys(faces, charset), spec.roots)
    skeleton = Skeleton(
        pdf=pdf,
        printed=printed,
        template=make_template(pdf, fonts, VARIANT_FIELD if spec.forms else None),
        places=tuple(places),
        drawing=drawing,
        pages=len(document.pages),
        title=document.metadata.title or "",
        open=spec.open_slots,
    )
    return skeleton, fonts
