"""A stamped document's files: a skeleton merged with its fonts once, then each variant's bytes.

- `make_template` merges a skeleton's PDF with the fonts once (pypdf);
- `assemble` writes a variant's file by appending its page operators, document information and
  form field to the template's bytes, with a new cross-reference table: no PDF library per variant;
- `class_file` writes a whole class into one PDF sharing the skeleton's objects (pypdf).

This touches pypdf's writer internals (`_add_object`, `_root_object`, `_info`, `_pages`): the
versions it is tested with are pinned in pyproject.toml.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bpquiz.sheets.stamping.fonts import Fonts


def pdf_number(value: float) -> str:
    """A number as PDF operators take it: at most three decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


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


def _page_text(height: float, ops: Sequence[str]) -> bytes:
    """A page's stamped operators as a compressed stream body: in CSS px from the top-left, as
    WeasyPrint draws (its own content is saved before, with a stream `q`, and restored here)."""
    frame = f"1 0 0 -1 0 {pdf_number(height)} cm 0.75 0 0 0.75 0 0 cm"
    return zlib.compress("\n".join(["Q q", frame, *ops, "Q"]).encode("latin-1"))


def _pdf_string(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _add_fonts(writer: Any, fonts: Fonts, pages: Sequence[Any]) -> Any:
    """Copy the font document's fonts into `writer` and into the pages' font resources; return a
    shared one-operator stream `q`, which each page's stamped operators (starting with `Q q`) end.
    """
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    font_pages: list[Any] = list(PdfReader(io.BytesIO(fonts.pdf)).pages)
    added = {
        name: font_pages[page]["/Resources"]["/Font"].raw_get(key).clone(writer)
        for name, (page, key) in sorted(fonts.resources.items())
    }
    for page in pages:
        resources = page["/Resources"]
        if "/Font" not in resources:
            resources[NameObject("/Font")] = DictionaryObject()
        font_dict = resources["/Font"].get_object()
        for name, ref in added.items():
            font_dict[NameObject("/" + name)] = ref
    save = StreamObject()
    save.set_data(b"q")
    return writer._add_object(save)


def make_template(skeleton_pdf: bytes, fonts: Fonts, field: str | None = None) -> Template:
    """A skeleton's PDF merged with the fonts, its stamped parts left out (see Template); `field`
    names a form's variant field."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        NameObject,
        StreamObject,
        TextStringObject,
    )

    # Any: pypdf types its generic objects loosely (a page's entries are PdfObject | None).
    writer: Any = PdfWriter(clone_from=PdfReader(io.BytesIO(skeleton_pdf)))
    save_ref = _add_fonts(writer, fonts, [page.get_object() for page in writer.pages])
    streams = []
    heights: list[float] = []
    for page in writer.pages:
        contents = page.raw_get("/Contents")
        old = list(contents) if isinstance(contents, ArrayObject) else [contents]
        placeholder = writer._add_object(StreamObject())
        page[NameObject("/Contents")] = ArrayObject([save_ref, *old, placeholder])
        streams.append(placeholder.idnum)
        heights.append(float(page.mediabox.height))
    field_number = None
    form = writer._root_object.get("/AcroForm")
    if form:
        # pypdf writes a text string with every other byte than a letter or digit escaped, which
        # pdf-lib does not unescape in a /DA: default appearances are written as hex strings.
        fields = [ref.get_object() for ref in form.get_object().get("/Fields", [])]
        for obj in [form.get_object(), *fields]:
            if "/DA" in obj:
                obj[NameObject("/DA")] = ByteStringObject(str(obj["/DA"]).encode("latin-1"))
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
        data = _page_text(height, page_ops_)
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


def class_file(
    pdf: bytes,
    fonts: Fonts,
    copies: Sequence[Sequence[Sequence[str]]],
    title: str,
    duplex: bool = False,
) -> bytes:
    """A PDF of a skeleton's pages (`pdf`: for a form, its print copy without fields) once per
    copy, each with its own operators (bpquiz.sheets.stamping.stamp.page_ops) written over them.
    All copies share the skeleton's objects and the fonts, so a class file is hardly bigger than
    the sum of its texts. With `duplex`, a copy with an odd number of pages is followed by a blank
    page."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        StreamObject,
        TextStringObject,
    )

    writer: Any = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    root = writer._root_object
    for key in ("/Outlines", "/PageMode", "/Names", "/OpenAction"):
        root.pop(NameObject(key), None)
    tree = writer._pages.get_object()
    originals = [page.get_object() for page in tree["/Kids"]]
    save_ref = _add_fonts(writer, fonts, originals)
    kids = ArrayObject()
    for copy in copies:
        for page, ops in zip(originals, copy, strict=True):
            new = DictionaryObject(page)
            contents = page.raw_get("/Contents")
            old = list(contents) if isinstance(contents, ArrayObject) else [contents]
            if ops:
                stream = StreamObject()
                stream[NameObject("/Filter")] = NameObject("/FlateDecode")
                stream._data = _page_text(float(page["/MediaBox"][3]), ops)
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
        writer._objects[page.indirect_reference.idnum - 1] = None
    tree[NameObject("/Kids")] = kids
    tree[NameObject("/Count")] = NumberObject(len(kids))
    writer.add_metadata({"/Title": TextStringObject(title)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
