"""PDF objects as bytes: what stamping writes per variant without a PDF library.

A skeleton's PDF is read once with pypdf (`Pdf`) and its fixed objects are written out once
(`write_head`: streams as they are, the other objects packed into one object stream); a
variant's file is then that head, the few objects that vary (page contents, document
information, XMP metadata, a form's variant field, the drawing's Figure element) written as
bytes here, and a cross-reference stream (ISO 32000-1, 7.5.7 and 7.5.8).

This touches pypdf's objects (`write_to_stream`, `_data`): the versions it is tested with are
pinned in pyproject.toml.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def serialized(obj: Any) -> bytes:
    """A pypdf object's bytes, as it writes them."""
    buffer = io.BytesIO()
    obj.write_to_stream(buffer)
    return buffer.getvalue()


def references(obj: Any) -> Iterable[int]:
    """The object numbers `obj` refers to (streams' dictionaries included)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            yield item.idnum
        elif isinstance(item, DictionaryObject):  # streams too
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)


def object_stream(number: int, bodies: Sequence[bytes], numbers: Sequence[int]) -> bytes:
    """An object stream of the given objects, as an indirect object."""
    offsets = []
    position = 0
    for body in bodies:
        offsets.append(position)
        position += len(body) + 1
    header = " ".join(f"{n} {o}" for n, o in zip(numbers, offsets, strict=True)).encode() + b"\n"
    data = zlib.compress(header + b"\n".join(bodies) + b"\n")
    return (
        b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (number, len(bodies), len(header), len(data))
        + data
        + b"\nendstream\nendobj\n"
    )


def entry(kind: int, a: int, b: int = 0) -> bytes:
    """A cross-reference stream entry (fields 1, 4 and 2 bytes wide): 1 = at offset `a`,
    2 = object `b` of object stream `a`."""
    return struct.pack(">BIH", kind, a, b)


FREE = entry(0, 0, 0)


def xref_stream(
    number: int, offset: int, entries: bytes | bytearray, size: int, trailer: bytes
) -> bytes:
    """A cross-reference stream object (at `offset`; its own entry, `number`, is set here) and
    the file's end."""
    table = bytearray(entries)
    table[number * 7 : number * 7 + 7] = entry(1, offset)
    data = zlib.compress(bytes(table))
    return (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] %s /Filter /FlateDecode /Length %d >>\n"
        b"stream\n"
        % (number, size, trailer, len(data))
        + data
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offset
    )


def trailer(root: int, info: int, digest: bytes) -> bytes:
    return b"/Root %d 0 R /Info %d 0 R /ID [<%s> <%s>]" % (root, info, digest, digest)


def pdf_string(text: str) -> bytes:
    """A text string in UTF-16, as hex: any character, nothing to escape."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def stream_object(number: int, data: bytes) -> bytes:
    """A compressed stream (its `data` already zlib data) as an indirect object."""
    return (
        b"%d 0 obj\n<< /Filter /FlateDecode /Length %d >>\nstream\n" % (number, len(data))
        + data
        + b"\nendstream\nendobj\n"
    )


def indirect(number: int, body: bytes) -> bytes:
    return b"%d 0 obj\n" % number + body + b"\nendobj\n"


def info_body(
    base: Sequence[tuple[str, str]], title: str, info: Mapping[str, str] | None = None
) -> bytes:
    """The document information dictionary: `base` (producer…), the title and `info`."""
    values = {**dict(base), "/Title": title}
    values.update({"/" + k.lstrip("/"): v for k, v in (info or {}).items()})
    entries = [k.encode() + b" " + pdf_string(v) for k, v in sorted(values.items())]
    return b"<< " + b" ".join(entries) + b" >>"


TITLE_MARK = b"BQ-TITLE-MARK"
"""Where the XMP metadata's dc:title goes."""


def metadata_body(xml: bytes, title: str) -> bytes:
    """The XMP metadata stream with its title (`xml` holds TITLE_MARK for it)."""
    data = xml.replace(TITLE_MARK, escape(title, quote=False).encode())
    return b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(data) + (
        data + b"\nendstream"
    )


def table(entries: Mapping[int, bytes], size: int) -> bytes:
    """The cross-reference entries of objects 0..size-1 (FREE where there is none)."""
    return b"".join(entries.get(n, FREE) for n in range(size))


@dataclass
class Pdf:
    """A PDF read with pypdf, its objects editable, with room for new objects."""

    reader: Any
    size: int
    new: dict[int, Any]

    @classmethod
    def read(cls, data: bytes) -> Pdf:
        from pypdf import PdfReader

        reader: Any = PdfReader(io.BytesIO(data))
        return cls(reader, int(reader.trailer["/Size"]), {})

    @property
    def catalog(self) -> Any:
        return self.reader.trailer["/Root"].get_object()

    def get(self, number: int) -> Any:
        return self.new[number] if number in self.new else self.reader.get_object(number)

    def add(self, obj: Any) -> Any:
        """A new object (None: a number kept for one written later), as a reference."""
        from pypdf.generic import IndirectObject

        number = self.size
        self.size += 1
        self.new[number] = obj
        return IndirectObject(number, 0, self.reader)

    def ref(self, number: int) -> Any:
        from pypdf.generic import IndirectObject

        return IndirectObject(number, 0, self.reader)

    def reachable(self, roots: Iterable[int]) -> list[int]:
        """Every object number reachable from `roots`, sorted."""
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            seen.add(number)
            obj = self.get(number)
            if obj is not None:
                stack.extend(references(obj))
        return sorted(seen)

    def raw(self, number: int) -> bytes:
        """An object's bytes as an indirect object; a stream without a filter is compressed."""
        return indirect(number, serialized(self._compressed(self.get(number))))

    @staticmethod
    def _compressed(obj: Any) -> Any:
        from pypdf.generic import NameObject, StreamObject

        if isinstance(obj, StreamObject) and "/Filter" not in obj:
            obj[NameObject("/Filter")] = NameObject("/FlateDecode")
            obj._data = zlib.compress(obj.get_data())
            obj.decoded_self = None
        return obj

    def write_head(
        self, numbers: Sequence[int], skip: set[int]
    ) -> tuple[bytearray, dict[int, bytes]]:
        """The head of a file: the objects `numbers` but `skip`, streams as they are and the
        rest in one object stream; and the cross-reference entries of those written."""
        from pypdf.generic import StreamObject

        head = bytearray(HEADER)
        entries: dict[int, bytes] = {}
        packed = []
        for number in numbers:
            if number in skip:
                continue
            if isinstance(self.get(number), StreamObject):
                entries[number] = entry(1, len(head))
                head += self.raw(number)
            else:
                packed.append(number)
        if packed:
            holder = self.add(None).idnum
            for index, number in enumerate(packed):
                entries[number] = entry(2, holder, index)
            entries[holder] = entry(1, len(head))
            head += object_stream(holder, [serialized(self.get(n)) for n in packed], packed)
        return head, entries

    def metadata(self) -> tuple[int, bytes] | None:
        """The XMP metadata stream's number and bytes, its title replaced by TITLE_MARK."""
        catalog = self.catalog
        if "/Metadata" not in catalog:
            return None
        ref = catalog.raw_get("/Metadata")
        xml = re.sub(
            rb"(<dc:title><rdf:Alt><rdf:li[^>]*>).*?(</rdf:li>)",
            rb"\1" + TITLE_MARK + rb"\2",
            ref.get_object().get_data(),
            flags=re.S,
        )
        return ref.idnum, xml

    def drop_pages_after(self, pages: int) -> None:
        """Keep the first `pages` pages: the others go from the page tree, the structure tree and
        its parent tree. Each kept page's parent-tree array becomes an object of its own (a class
        file copies it)."""
        from pypdf.generic import ArrayObject, NameObject, NumberObject

        catalog = self.catalog
        tree = catalog["/Pages"].get_object()
        kids = tree["/Kids"]
        gone = {ref.idnum for ref in kids[pages:]}
        tree[NameObject("/Kids")] = ArrayObject(kids[:pages])
        tree[NameObject("/Count")] = NumberObject(pages)
        if "/StructTreeRoot" not in catalog:
            return
        root = catalog["/StructTreeRoot"].get_object()
        tops = root["/K"] if isinstance(root["/K"], ArrayObject) else [root.raw_get("/K")]
        for top in tops:
            element = top.get_object()
            kept = [
                k
                for k in element["/K"]
                if "/Pg" not in k.get_object() or k.get_object().raw_get("/Pg").idnum not in gone
            ]
            element[NameObject("/K")] = ArrayObject(kept)
        parent_tree = root["/ParentTree"].get_object()
        nums = parent_tree["/Nums"]
        kept_nums = ArrayObject()
        for k in range(0, len(nums), 2):
            key, value = int(nums[k]), nums[k + 1]
            if pages <= key < pages + len(gone):
                continue
            if key < pages and isinstance(value, ArrayObject):
                value = self.add(value)
            kept_nums.extend([NumberObject(key), value])
        parent_tree[NameObject("/Nums")] = kept_nums

    def tidy_structure(self) -> None:
        """Leave out of the structure tree what a screen reader has no use for and a class file
        would copy for every student: a Span whose only kid is a Span (WeasyPrint nests one per
        inline box: a slot is three deep) gives way to its kid, and an element with nothing in it
        (a line break's) goes."""
        from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

        catalog = self.catalog
        if "/StructTreeRoot" not in catalog:
            return
        kept_as_is = ("/A", "/Alt", "/ActualText", "/Lang", "/ID", "/E", "/C")

        def element(kid: Any) -> bool:
            return (
                isinstance(kid, IndirectObject)
                and isinstance(obj := kid.get_object(), DictionaryObject)
                and "/S" in obj
            )

        def visit(ref: Any) -> Any:
            """The element `ref` tidied: what stands in its place (None: nothing)."""
            item = ref.get_object()
            kids: Any = item.get("/K")
            if not isinstance(kids, ArrayObject):
                kids = [] if kids is None else [kids]
            new = ArrayObject()
            for kid in kids:
                if element(kid):
                    kid = visit(kid)
                    if kid is None:
                        continue
                    kid.get_object()[NameObject("/P")] = ref
                new.append(kid)
            item[NameObject("/K")] = new
            if not new and "/Alt" not in item and "/ActualText" not in item:
                return None
            lone_span = len(new) == 1 and element(new[0]) and new[0].get_object()["/S"] == "/Span"
            if item["/S"] == "/Span" and lone_span and not any(k in item for k in kept_as_is):
                return new[0]
            return ref

        root = catalog["/StructTreeRoot"].get_object()
        tops: Any = root["/K"]
        if not isinstance(tops, ArrayObject):
            tops = [root.raw_get("/K")]
        root[NameObject("/K")] = ArrayObject(
            top for top in (visit(t) for t in tops) if top is not None
        )
