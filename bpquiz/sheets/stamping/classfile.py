"""Class files: every student's stamped document in one tagged PDF, written as the copies come.

The copies share the skeleton's fixed objects (fonts, images, resources: `ClassKit.head`), but
each needs pages, content streams and structure elements of its own, since a structure element
names its page. So `make_kit` serializes one copy's objects once, with fixed-width placeholders
for the numbers that differ between copies, and `class_copy` fills them in for one copy: its
objects packed into an object stream, its page contents, its Figure element. Each copy's
Document element becomes a Part under the class file's Document.

`class_copy` runs where the document is stamped (a worker); `ClassWriter` appends the copies to
a file as they come and keeps a few numbers per copy, so memory does not grow with the class.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import IO

from bpquiz.forms import CREATOR
from bpquiz.sheets.stamping.assemble import (
    LEVEL,
    PageCut,
    Unstampable,
    alt_mark,
    cut_pages,
    figure_body,
    page_stream,
)
from bpquiz.sheets.stamping.objects import (
    FREE,
    Pdf,
    entry,
    indirect,
    info_body,
    metadata_body,
    references,
    serialized,
    stream_object,
    table,
    trailer,
    xref_stream,
)


@dataclass(frozen=True)
class ClassKit:
    """What a class file is made of: the shared objects' head, and one copy's objects as a
    template to renumber per copy.

    A copy's objects are numbered from its base (see `class_copy`): first its packed objects,
    then its page contents, its Figure element, its object stream and a blank page (duplex).
    `block` is the packed objects with a fixed-width placeholder (`\\x00` + 7 digits of local
    index) for each reference to another of the copy's objects; numbers are written with leading
    zeros, so the object stream's offsets are the same for every copy."""

    head: bytes
    xref: bytes
    size: int
    """Objects 0..size-1 are shared; each copy's are numbered from there on."""
    pages: int
    """The page tree's object number (written last, with every copy's pages)."""
    parent_tree: int
    document: int
    """The class file's Document structure element (written last: a Part per copy under it)."""
    info: int
    metadata: tuple[int, bytes] | None
    root: int
    struct_root: int
    block: bytes
    """One copy's packed objects, with placeholders."""
    offsets: tuple[int, ...]
    """Each packed object's offset in `block` (fixed: numbers are fixed width)."""
    part: int
    """The local index of the copy's Part (its root structure element)."""
    page_objects: tuple[int, ...]
    """The local index of each page."""
    arrays: tuple[int, ...]
    """The local index of each page's parent-tree array."""
    pages_cut: tuple[tuple[int, PageCut], ...]
    """Each page's content: its local index and its cut."""
    figure: tuple[int, bytes] | None
    """The drawing's Figure element: its local index and coded bytes (with ALT_MARK)."""
    media_box: bytes

    @property
    def holder(self) -> int:
        """The local index of a copy's object stream (a blank page's is the next)."""
        return len(self.offsets) + len(self.pages_cut) + (self.figure is not None)

    @property
    def copy_size(self) -> int:
        """Object numbers a copy takes."""
        return self.holder + 2


_PLACEHOLDER = re.compile(
    rb"(\d+) 0 R|/StructParents (\d+)|/S /Document|\((\d+(?:-|\\055)\d+(?:-|\\055)\d+)\)"
)
"""What a copy renumbers: references, its pages' parent-tree keys, its root's type, and the table
headers' IDs (WeasyPrint's "n-i-j", which pypdf writes with octal escapes)."""
_CODE = re.compile(rb"\x00(\d{7})|\x01(\d{7})|\x02")


def make_kit(pdf: bytes, pages: int) -> ClassKit:
    """The class-file kit of a skeleton's tagged PDF (its `pages`, then its font pages, markers in
    its content: for a form, its print copy); Unstampable when its objects do not split into
    shared ones and a copy's."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    doc = Pdf.read(pdf)
    doc.drop_pages_after(pages)
    doc.tidy_structure()
    cuts = cut_pages(doc, pages)
    catalog_ref = doc.reader.trailer.raw_get("/Root")
    catalog = doc.catalog
    for key in ("/Outlines", "/PageMode", "/Names", "/OpenAction"):  # one copy's, not the class's
        catalog.pop(key, None)
    tree_ref = catalog.raw_get("/Pages")
    if "/StructTreeRoot" not in catalog:
        raise Unstampable("the skeleton is not tagged")
    root_ref = catalog.raw_get("/StructTreeRoot")
    root = root_ref.get_object()
    parent_tree_ref = root.raw_get("/ParentTree")
    numbers = doc.reachable([catalog_ref.idnum])
    page_refs = list(tree_ref.get_object()["/Kids"])
    if any("/Annots" in ref.get_object() for ref in page_refs):
        raise Unstampable("a class file's pages cannot share annotations")
    nums = parent_tree_ref.get_object()["/Nums"]
    arrays = [nums[k + 1].idnum for k in range(0, len(nums), 2)]
    if len(arrays) != pages:
        raise Unstampable("the structure's parent tree is not one array per page")
    top = root["/K"][0].idnum if isinstance(root["/K"], ArrayObject) else root.raw_get("/K").idnum
    figure = alt_mark(doc, numbers)
    # A copy's objects: its pages, parent-tree arrays and structure elements (packed), its page
    # contents and its Figure element.
    packed = [ref.idnum for ref in page_refs] + arrays
    for number in numbers:
        obj = doc.get(number)
        is_element = isinstance(obj, DictionaryObject) and obj.get("/Type") in (
            "/StructElem",
            "/OBJR",
        )
        if is_element and number != figure and number not in packed:
            packed.append(number)
    local = {n: k for k, n in enumerate(packed)}
    for k, cut in enumerate(cuts):
        local[cut.number] = len(packed) + k
    if figure is not None:
        local[figure] = len(packed) + len(cuts)
    info_ref = doc.reader.trailer.raw_get("/Info")
    metadata = doc.metadata()
    variable = {catalog_ref.idnum, tree_ref.idnum, root_ref.idnum, parent_tree_ref.idnum}
    variable |= {info_ref.idnum} | ({metadata[0]} if metadata else set())
    shared = [n for n in numbers if n not in local and n not in variable]
    if any(r in local for n in shared for r in references(doc.get(n))):
        raise Unstampable("a shared object of the class file refers to a student's")
    # The class file's own Document element, with a Part per copy under it.
    document = doc.add(None).idnum
    root[NameObject("/K")] = ArrayObject([doc.ref(document)])
    head, entries = doc.write_head([*shared, catalog_ref.idnum, root_ref.idnum], set())

    def code(match: re.Match[bytes]) -> bytes:
        if match.group(1) is not None:
            number = int(match.group(1))
            if number in local:
                return b"\x00%07d" % local[number]
            if number == root_ref.idnum:
                return b"%d 0 R" % document
            return match.group(0)
        if match.group(2) is not None:
            return b"/StructParents \x01%07d" % int(match.group(2))
        if match.group(3) is not None:
            return b"(\x02" + match.group(3) + b")"
        return b"/S /Part"

    raw = [serialized(doc.get(n)) for n in packed]
    figure_raw = serialized(doc.get(figure)) if figure is not None else b""
    if any(re.search(rb"[\x00-\x02]", body) for body in [*raw, figure_raw]):
        raise Unstampable("a control byte would be taken for a placeholder")
    bodies = [_PLACEHOLDER.sub(code, body) for body in raw]
    offsets = []
    position = 0
    for body in bodies:
        offsets.append(position)
        position += _width(body) + 1
    return ClassKit(
        head=bytes(head),
        xref=table(entries, doc.size),
        size=doc.size,
        pages=tree_ref.idnum,
        parent_tree=parent_tree_ref.idnum,
        document=document,
        info=info_ref.idnum,
        metadata=metadata,
        root=catalog_ref.idnum,
        struct_root=root_ref.idnum,
        block=b"\n".join(bodies) + b"\n",
        offsets=tuple(offsets),
        part=local[top],
        page_objects=tuple(local[ref.idnum] for ref in page_refs),
        arrays=tuple(local[n] for n in arrays),
        pages_cut=tuple((local[cut.number], cut) for cut in cuts),
        figure=(local[figure], _PLACEHOLDER.sub(code, figure_raw)) if figure is not None else None,
        media_box=serialized(page_refs[0].get_object()["/MediaBox"]),
    )


def _width(body: bytes) -> int:
    """The length of a coded body once its codes are filled in (fixed: see ClassKit)."""
    # \x00NNNNNNN → "NNNNNNN 0 R" (+3), \x01NNNNNNN → 7 digits (−1), \x02 → "cNNNNNN-" (+7)
    return len(body) + 3 * body.count(b"\x00") - body.count(b"\x01") + 7 * body.count(b"\x02")


@dataclass(frozen=True)
class Copy:
    """One copy's part of a class file, made where its document is stamped (a worker)."""

    data: bytes
    objects: tuple[tuple[int, int], ...]
    """(object number, offset in `data`) of each object written whole (not packed)."""
    kids: tuple[int, ...]
    """Its pages' object numbers (a blank one last, with duplex)."""


Split = tuple[list[bytes], Callable[[list[bytes]], tuple[bytes, ...]], int, int]
_split_blocks: dict[int, Split] = {}


def _split_block(kit: ClassKit) -> Split:
    """A copy's block cut at its codes: the literals, a getter of each code's filling from a
    table (local numbers, then structure keys, then the ID prefix), and the table's two counts."""
    key = id(kit.block)
    if key not in _split_blocks:
        parts = _CODE.split(kit.block)
        locals_ = kit.holder
        structure = len(kit.page_objects)
        index = [
            int(parts[k])
            if parts[k] is not None
            else locals_ + int(parts[k + 1])
            if parts[k + 1] is not None
            else locals_ + structure
            for k in range(1, len(parts), 3)
        ]
        getter = itemgetter(*index)
        _split_blocks.clear()
        _split_blocks[key] = (
            parts[0::3],
            (lambda t: getter(t)) if len(index) > 1 else (lambda t: (getter(t),)),
            locals_,
            structure,
        )
    return _split_blocks[key]


def class_copy(kit: ClassKit, index: int, streams: Sequence[bytes], alt: str, duplex: bool) -> Copy:
    """Copy `index` of a class file: its pages (with their content `streams`, from
    `page_stream`), structure elements (the drawing's with `alt`) and parent-tree arrays,
    numbered for its place."""
    base = kit.size + index * kit.copy_size
    count = len(kit.offsets)
    holder = base + kit.holder
    key = index * len(kit.page_objects)
    literals, fill, locals_, structure = _split_block(kit)
    codes = [b"%07d 0 R" % n for n in range(base, base + locals_)]
    codes += [b"%07d" % (key + k) for k in range(structure)]
    codes.append(b"c%06d-" % index)
    data = b"".join(chain.from_iterable(zip(literals, fill(codes), strict=False))) + literals[-1]
    header = b" ".join(
        b"%d %d" % pair for pair in zip(range(base, base + count), kit.offsets, strict=True)
    )
    header += b"\n"
    packed = zlib.compress(header + data, LEVEL)
    out = bytearray(
        b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n"
        b"stream\n" % (holder, count, len(header), len(packed))
    )
    out += packed + b"\nendstream\nendobj\n"
    objects = [(holder, 0)]
    for (local, _), stream in zip(kit.pages_cut, streams, strict=True):
        objects.append((base + local, len(out)))
        out += stream_object(base + local, stream)
    if kit.figure is not None:
        local, coded = kit.figure
        body = _CODE.sub(
            lambda m: codes[int(m[1])] if m[1] is not None else codes[locals_ + int(m[2])],
            coded,
        )
        objects.append((base + local, len(out)))
        out += figure_body(indirect(base + local, body), alt)
    kids = [base + k for k in kit.page_objects]
    if duplex and len(kit.page_objects) % 2:
        blank = holder + 1
        objects.append((blank, len(out)))
        out += indirect(
            blank,
            b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources << >> >>"
            % (kit.pages, kit.media_box),
        )
        kids.append(blank)
    return Copy(bytes(out), tuple(objects), tuple(kids))


def copy_streams(kit: ClassKit, inserts: Sequence[str]) -> list[bytes]:
    """A copy's page contents with its inserts (bpquiz.sheets.stamping.stamp.page_ops)."""
    return [page_stream(cut, inserts) for _, cut in kit.pages_cut]


class ClassWriter:
    """Writes a class file into a binary file as its copies come (`class_copy`, in order): the
    shared head first, each copy as it is given, then the page tree, structure root and
    cross-reference stream. Memory: a few numbers per copy."""

    def __init__(self, kit: ClassKit, out: IO[bytes]) -> None:
        self.kit = kit
        self.out = out
        self.position = 0
        self.digest = hashlib.md5(usedforsecurity=False)
        self.copies = 0
        self.kids = array("L")
        self.objects = array("L")
        """Object number, offset, … of each object written whole."""
        self._write(kit.head)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.position += len(data)

    def add(self, copy: Copy) -> None:
        for number, offset in copy.objects:
            self.objects.extend((number, self.position + offset))
        self.kids.extend(copy.kids)
        self._write(copy.data)
        self.copies += 1

    def close(self, title: str) -> None:
        kit = self.kit
        final: dict[int, int] = {}

        def put(number: int, body: bytes) -> None:
            final[number] = self.position
            self._write(indirect(number, body))

        step = kit.copy_size
        bases = range(kit.size, kit.size + self.copies * step, step)
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        put(kit.pages, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.kids)))
        parts = b" ".join(b"%d 0 R" % (base + kit.part) for base in bases)
        put(
            kit.document,
            b"<< /Type /StructElem /S /Document /P %d 0 R /K [%s] >>" % (kit.struct_root, parts),
        )
        pages = len(kit.page_objects)
        nums = b" ".join(
            b"%d %d 0 R" % (c * pages + k, base + local)
            for c, base in enumerate(bases)
            for k, local in enumerate(kit.arrays)
        )
        put(kit.parent_tree, b"<< /Nums [%s] >>" % nums)
        put(kit.info, info_body((("/Creator", CREATOR),), title))
        if kit.metadata is not None:
            number, xml = kit.metadata
            put(number, metadata_body(xml, title))
        size = kit.size + self.copies * step + 1
        xref = bytearray(kit.xref + FREE * (size - kit.size))
        for number, offset in final.items():
            xref[number * 7 : number * 7 + 7] = entry(1, offset)
        count = len(kit.offsets)
        for base in bases:
            holder = base + kit.holder
            for k in range(count):
                xref[(base + k) * 7 : (base + k) * 7 + 7] = entry(2, holder, k)
        for k in range(0, len(self.objects), 2):
            number, offset = self.objects[k], self.objects[k + 1]
            xref[number * 7 : number * 7 + 7] = entry(1, offset)
        digest = self.digest.hexdigest().encode()
        self._write(
            xref_stream(size - 1, self.position, xref, size, trailer(kit.root, kit.info, digest))
        )


def class_file(
    kit: ClassKit,
    copies: Iterable[tuple[Sequence[str], str]],
    title: str,
    out: IO[bytes],
    duplex: bool = False,
) -> None:
    """Write a class file to `out` of the given copies (each its inserts and the drawing's
    alternative text), in this process."""
    writer = ClassWriter(kit, out)
    for index, (inserts, alt) in enumerate(copies):
        writer.add(class_copy(kit, index, copy_streams(kit, inserts), alt, duplex))
    writer.close(title)
