"""A stamped document's file: a skeleton's tagged PDF made into a template once, then each
variant's bytes.

A skeleton is written by WeasyPrint as a tagged PDF (PDF/UA-1) together with the font pages
(bpquiz.sheets.stamping.fonts). While it is written, `bpquiz.sheets.stamping.layout.marking` puts
a marker comment (`%BQ n`) into the page's content stream inside the empty marked-content
sequence (`/Span <</MCID m>> BDC … EMC`) that WeasyPrint writes for each slot's hidden reserve
text, and `%BQ D` at the end of the drawing's Figure sequence.

`make_template` turns that PDF into a `Template`, once per skeleton:

- the font pages go (from the page tree, the structure tree and its parent tree); their fonts stay;
- each page's content stream is cut at the markers into pieces (`PageCut`); a variant's content
  stream is the pieces with its texts between them (`page_stream`), so each stamped text is drawn
  inside its slot's marked-content sequence and belongs to the slot's structure element (a Span
  in the table cell's TD, the worked line's P), where screen readers and text extraction read it;
- every fixed object is written once (bpquiz.sheets.stamping.objects); the pages' content
  streams, the document information and XMP metadata (both hold the title), the drawing's Figure
  element (its alternative text is the variant's network in words) and a form's variant field are
  written per variant by `assemble`, then a cross-reference stream: no PDF library per variant.

Class files are bpquiz.sheets.stamping.classfile's.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bpquiz.sheets.stamping.fonts import Face, Fonts, read_glyphs
from bpquiz.sheets.stamping.objects import (
    Pdf,
    entry,
    indirect,
    info_body,
    metadata_body,
    pdf_string,
    stream_object,
    table,
    trailer,
    xref_stream,
)


class Unstampable(Exception):
    """This document cannot be laid out once and stamped exactly; render it whole instead."""


def pdf_number(value: float) -> str:
    """A number as PDF operators take it: at most three decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- markers and frames ---------------------------------------------------------------------

DRAWING = -1
"""The insert key of the drawing's texts (a slot's key is its place's index)."""
_MARKER = re.compile(rb"\n%BQ (\d+|D)\n")


def marker(key: int) -> bytes:
    """The comment put into a skeleton's content stream where an insert goes."""
    return b"%BQ D" if key == DRAWING else b"%%BQ %d" % key


Matrix = tuple[float, float, float, float, float, float]


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (
        a * p + b * r,
        a * q + b * s,
        c * p + d * r,
        c * q + d * s,
        e * p + f * r + t,
        e * q + f * s + u,
    )


def _inverse(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(e * ia + f * ic), -(e * ib + f * id_))


def _frames(pieces: Sequence[bytes], height: float) -> list[str]:
    """Per insert (after each piece but the last), the `cm` operands that take the CTM there to
    stamping's frame: CSS px from the page's top-left corner."""
    frame = _mul((0.75, 0, 0, 0.75, 0, 0), (1, 0, 0, -1, 0, height))
    stack: list[Matrix] = []
    ctm: Matrix = (1, 0, 0, 1, 0, 0)
    out = []
    for piece in pieces[:-1]:
        for line in piece.split(b"\n"):
            if line == b"q":
                stack.append(ctm)
            elif line == b"Q":
                ctm = stack.pop()
            elif line.endswith(b" cm"):
                values = [float(v) for v in line.split()[:-1]]
                if len(values) == 6:
                    a, b, c, d, e, f = values
                    ctm = _mul((a, b, c, d, e, f), ctm)
        x = _mul(frame, _inverse(ctm))
        out.append(" ".join(f"{v:.6f}".rstrip("0").rstrip(".") or "0" for v in x))
    return out


# --- a page's content, cut at its slots -------------------------------------------------------


@dataclass(frozen=True)
class PageCut:
    """A page's content stream cut at its markers: a variant's stream is the pieces with its
    inserts between them, compressed (`page_stream`)."""

    number: int
    """The object number of the page's content stream (written per variant)."""
    data: bytes
    """The pieces' text, one after another (each ends with a line break but the last)."""
    bounds: tuple[int, ...]
    """Piece k is data[bounds[k]:bounds[k + 1]]."""
    keys: tuple[int, ...]
    """The insert after each piece but the last: a place's index, or DRAWING."""
    frames: tuple[str, ...]
    """The `cm` operands taking each insert's CTM to stamping's frame."""


LEVEL = 6
"""zlib level of a variant's page contents: measured on a 100-variant class set, level 6 costs no
time that shows against level 1 and makes files 4% (a sheet) to 13% (a class file) smaller."""


def insert_body(frame: str, ops: str) -> bytes:
    """An insert's operators: the slot's text in stamping's frame, the graphics state kept."""
    return f"q {frame} cm\n{ops}\nQ".encode("latin-1") if ops else b""


def page_stream(cut: PageCut, inserts: Sequence[str]) -> bytes:
    """A page's content (zlib data) with a variant's inserts between its pieces."""
    data, bounds = cut.data, cut.bounds
    out = []
    for k, key in enumerate(cut.keys):
        out.append(data[bounds[k] : bounds[k + 1]])
        body = insert_body(cut.frames[k], inserts[key])
        if body:
            out.append(body + b"\n")
    out.append(data[bounds[-2] :])
    return zlib.compress(b"".join(out), LEVEL)


def cut_pages(doc: Pdf, pages: int) -> list[PageCut]:
    """Cut each page's content at its markers (see PageCut); the page's content becomes one
    stream whose number is kept free (written per variant)."""
    from pypdf.generic import NameObject

    cuts = []
    for ref in doc.catalog["/Pages"].get_object()["/Kids"][:pages]:
        page = ref.get_object()
        contents = page["/Contents"]
        streams = contents if isinstance(contents, list) else [contents]
        data = b"\n".join(s.get_object().get_data() for s in streams)
        parts = _MARKER.split(data)
        # Each piece keeps the line break before its marker (the insert's own ends it).
        pieces = [piece + b"\n" for piece in parts[0::2][:-1]] + [parts[-1]]
        keys = tuple(DRAWING if key == b"D" else int(key) for key in parts[1::2])
        bounds = [0]
        for piece in pieces:
            bounds.append(bounds[-1] + len(piece))
        stream = doc.add(None)
        page[NameObject("/Contents")] = stream
        cuts.append(
            PageCut(
                number=stream.idnum,
                data=b"".join(pieces),
                bounds=tuple(bounds),
                keys=keys,
                frames=tuple(_frames(pieces, float(page["/MediaBox"][3]))),
            )
        )
    return cuts


# --- the template ---------------------------------------------------------------------------

FIELD_MARK = b"(BQVARIANTVALUE)"
"""Letters only: pypdf writes other characters of a string as octal escapes."""
ALT_MARK = "BQALTTEXT"
"""The drawing's alternative text in a skeleton (`Slots.describe`); each variant writes its own."""


def alt_mark(doc: Pdf, numbers: Sequence[int]) -> int | None:
    """The structure element whose /Alt is ALT_MARK (the drawing's Figure), if any."""
    from pypdf.generic import DictionaryObject

    found = [
        n
        for n in numbers
        if isinstance(obj := doc.get(n), DictionaryObject) and obj.get("/Alt") == ALT_MARK
    ]
    if len(found) > 1:
        raise Unstampable("the templates draw the network more than once")
    return found[0] if found else None


def figure_body(chunk: bytes, alt: str) -> bytes:
    """A Figure element's bytes (with ALT_MARK) with the variant's alternative text."""
    return chunk.replace(b"(" + ALT_MARK.encode() + b")", pdf_string(alt))


@dataclass(frozen=True)
class Template:
    """A skeleton ready to be stamped by appending bytes (see the module's description)."""

    head: bytes
    xref: bytes
    """The cross-reference entries (7 bytes each) of objects 0..size-1; those written per variant
    are left free here."""
    size: int
    root: int
    info: int
    info_base: tuple[tuple[str, str], ...]
    pages: tuple[PageCut, ...]
    metadata: tuple[int, bytes] | None = None
    """The XMP metadata stream's number and bytes, with TITLE_MARK for the title."""
    field: tuple[int, bytes] | None = None
    """A form's variant field: its object number and its bytes, with FIELD_MARK for the value."""
    figure: tuple[int, bytes] | None = None
    """The drawing's Figure element: its object number and bytes, with ALT_MARK for its /Alt."""


def _hex_appearances(doc: Pdf) -> None:
    """Write the form's default appearances as hex strings: pypdf writes a text string with every
    byte but letters and digits escaped, which pdf-lib does not unescape in a /DA."""
    from pypdf.generic import ByteStringObject, NameObject

    form = doc.catalog.get("/AcroForm")
    if not form:
        return
    fields = [ref.get_object() for ref in form.get_object().get("/Fields", [])]
    for obj in [form.get_object(), *fields]:
        if "/DA" in obj:
            obj[NameObject("/DA")] = ByteStringObject(str(obj["/DA"]).encode("latin-1"))


def make_template(
    pdf: bytes,
    pages: int,
    faces: Sequence[Face],
    places: int,
    drawing: bool,
    field: str | None = None,
) -> tuple[Template, Fonts]:
    """A skeleton's tagged PDF (its `pages`, then a font page per face, markers in its content)
    made into a Template, and the fonts read from its font pages; `field` names a form's variant
    field."""
    from pypdf.generic import NameObject, TextStringObject

    doc = Pdf.read(pdf)
    fonts = read_glyphs(list(doc.reader.pages)[pages:], faces)
    doc.drop_pages_after(pages)
    doc.tidy_structure()
    cuts = cut_pages(doc, pages)
    expected = sorted([*range(places), *([DRAWING] if drawing else [])])
    if sorted(key for cut in cuts for key in cut.keys) != expected:
        raise Unstampable("a slot's marker is missing or repeated (drawn in a form XObject?)")
    _hex_appearances(doc)
    catalog_ref = doc.reader.trailer.raw_get("/Root")
    info_ref = doc.reader.trailer.raw_get("/Info")
    info = info_ref.get_object()
    base = tuple((str(k), str(v)) for k, v in sorted(info.items()) if k != "/Title")
    metadata = doc.metadata()
    field_number = None
    form = doc.catalog.get("/AcroForm")
    for ref in form.get_object().get("/Fields", []) if form and field else []:
        if ref.get_object().get("/T") == field:
            ref.get_object()[NameObject("/V")] = TextStringObject(FIELD_MARK[1:-1].decode())
            field_number = ref.idnum
    numbers = doc.reachable([catalog_ref.idnum])
    figure = alt_mark(doc, numbers)
    variable = {cut.number for cut in cuts} | {info_ref.idnum}
    variable |= {metadata[0]} if metadata else set()
    variable |= {field_number} if field_number else set()
    variable |= {figure} if figure is not None else set()
    head, entries = doc.write_head(numbers, variable)
    size = doc.size + 1  # the last number is the cross-reference stream's
    return (
        Template(
            head=bytes(head),
            xref=table(entries, size),
            size=size,
            root=catalog_ref.idnum,
            info=info_ref.idnum,
            info_base=base,
            pages=tuple(cuts),
            metadata=metadata,
            field=(field_number, doc.raw(field_number)) if field_number else None,
            figure=(figure, doc.raw(figure)) if figure is not None else None,
        ),
        fonts,
    )


def assemble(
    template: Template,
    inserts: Sequence[str],
    title: str,
    alt: str = "",
    info: Mapping[str, str] | None = None,
    field: str | None = None,
    streams: Sequence[bytes] | None = None,
) -> bytes:
    """A stamped document's bytes: the template's head, each page's content with its inserts
    (`inserts[key]`, the drawing's last; or `streams` made already), the document information,
    metadata, the drawing's Figure element with `alt`, a form's variant field, then the
    cross-reference stream."""
    out = bytearray(template.head)
    xref = bytearray(template.xref)

    def put(number: int, data: bytes) -> None:
        xref[number * 7 : number * 7 + 7] = entry(1, len(out))
        out.extend(data)

    if streams is None:
        streams = [page_stream(cut, inserts) for cut in template.pages]
    for cut, stream in zip(template.pages, streams, strict=True):
        put(cut.number, stream_object(cut.number, stream))
    put(template.info, indirect(template.info, info_body(template.info_base, title, info)))
    if template.metadata is not None:
        number, xml = template.metadata
        put(number, indirect(number, metadata_body(xml, title)))
    if template.figure is not None:
        number, chunk = template.figure
        put(number, figure_body(chunk, alt))
    if template.field is not None:
        number, chunk = template.field
        put(number, chunk.replace(FIELD_MARK, pdf_string(field or "")))
    digest = hashlib.md5(out, usedforsecurity=False).hexdigest().encode()
    last = template.size - 1
    out += xref_stream(
        last, len(out), xref, template.size, trailer(template.root, template.info, digest)
    )
    return bytes(out)
