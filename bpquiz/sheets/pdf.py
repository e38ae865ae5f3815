"""HTML to PDF through WeasyPrint, and joining per-student PDFs into class files.

This module imports WeasyPrint at the top, so only the rendering code path imports it.
"""

from __future__ import annotations

import ctypes.util
import io
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bpquiz.forms import CREATOR, VARIANT_FIELD
from bpquiz.sheets.templates import RenderError, default_templates


def _import_weasyprint() -> None:
    """Import WeasyPrint without its slow library search on Linux.

    WeasyPrint tries several names for each shared library (Windows and macOS names first). On
    Linux, cffi asks `ctypes.util.find_library` about each name that fails, which runs ldconfig,
    gcc and ld in subprocesses: ~0.35 s of the import. The names that load on Linux are the
    sonames, which need no search, so the search is skipped during the import; should a system
    need it after all, the import is simply retried with it.
    """
    if not sys.platform.startswith("linux") or "weasyprint" in sys.modules:
        return
    search = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        import weasyprint  # noqa: F401
    except OSError:
        for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
            del sys.modules[name]
    finally:
        ctypes.util.find_library = search


_import_weasyprint()

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.document import Document  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher  # noqa: E402

# A refused fetch is logged by WeasyPrint as a warning; the refusal is the point, so keep it quiet.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


class AssetFetcher(URLFetcher):
    """Fetches only files inside the template folders; refuses every other URL.

    User text is escaped, so it cannot add elements; this is the second fence, for a template (or a
    future field) that puts a URL in front of WeasyPrint: nothing outside the templates is read.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        super().__init__(allowed_protocols=("file",))
        self.roots = [root.resolve() for root in roots]
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme == "file" and not parts.netloc:
            path = Path(unquote(parts.path)).resolve()
            if any(path.is_relative_to(root) for root in self.roots) and path.is_file():
                return super().fetch(url, headers)
        self.refused.append(url)
        raise ValueError(f"bpquiz renders only its templates' own files, not {url}")


@cache
def font_config() -> FontConfiguration:
    """One font configuration per process: documents then share Pango's font and shaping caches
    (~15% of a sheet's rendering time)."""
    return FontConfiguration()


def render_document(
    html: str, roots: Sequence[Path], extra_css: str = "", forms: bool = False
) -> Document:
    """The laid-out document, fetching only the templates' files; `extra_css` is added to the
    document's own styles; with `forms`, its <input> elements become PDF form fields."""
    fetcher = AssetFetcher(roots)
    html_doc = HTML(string=html, base_url=roots[0].as_uri() + "/", url_fetcher=fetcher)
    stylesheets = [CSS(string=extra_css, font_config=font_config())] if extra_css else None
    return html_doc.render(font_config=font_config(), stylesheets=stylesheets, pdf_forms=forms)


_READ_ONLY = 1  # field flag bit 1 (PDF 32000-1, table 221)
_HIDDEN = 2  # annotation flag bit 2: neither shown nor printed (table 165)


FIELD_FONT = "Helv"
"""The fields' font in the form's resources: Helvetica, which every reader and form filler has."""
PDFDOC_DIFFERENCES = (
    "24 /breve /caron /circumflex /dotaccent /hungarumlaut /ogonek /ring /tilde "
    "39 /quotesingle 96 /grave "
    "128 /bullet /dagger /daggerdbl /ellipsis /emdash /endash /florin /fraction "
    "/guilsinglleft /guilsinglright /minus /perthousand /quotedblbase /quotedblleft "
    "/quotedblright /quoteleft /quoteright /quotesinglbase /trademark /fi /fl /Lslash /OE "
    "/Scaron /Ydieresis /Zcaron /dotlessi /lslash /oe /scaron /zcaron "
    "160 /Euro /exclamdown /cent /sterling /currency /yen /brokenbar /section /dieresis "
    "/copyright /ordfeminine /guillemotleft /logicalnot /.notdef /registered /macron /degree "
    "/plusminus /twosuperior /threesuperior /acute /mu /paragraph /periodcentered /cedilla "
    "/onesuperior /ordmasculine /guillemotright /onequarter /onehalf /threequarters "
    "/questiondown /Agrave /Aacute /Acircumflex /Atilde /Adieresis /Aring /AE /Ccedilla "
    "/Egrave /Eacute /Ecircumflex /Edieresis /Igrave /Iacute /Icircumflex /Idieresis /Eth "
    "/Ntilde /Ograve /Oacute /Ocircumflex /Otilde /Odieresis /multiply /Oslash /Ugrave "
    "/Uacute /Ucircumflex /Udieresis /Yacute /Thorn /germandbls /agrave /aacute /acircumflex "
    "/atilde /adieresis /aring /ae /ccedilla /egrave /eacute /ecircumflex /edieresis /igrave "
    "/iacute /icircumflex /idieresis /eth /ntilde /ograve /oacute /ocircumflex /otilde "
    "/odieresis /divide /oslash /ugrave /uacute /ucircumflex /udieresis /yacute /thorn "
    "/ydieresis"
)
"""PDFDocEncoding over Helvetica's StandardEncoding, as Acrobat encodes its own /Helv: it has
/minus (U+2212) at 138, which WinAnsiEncoding lacks."""


def mark_form(variant: str, pdf: Any) -> None:
    """WeasyPrint `finisher`: make the variant field hidden and read-only, put the code in the
    document information (see bpquiz.forms), and give the fields a standard font (see
    `_standard_field_font`). `pdf` is WeasyPrint's pydyf.PDF."""
    import pydyf

    pdf.info["BpquizVariant"] = pydyf.String(variant)
    for obj in pdf.objects:
        # WeasyPrint 70 ignores `readonly`; the flags are set here on the field it wrote.
        if isinstance(obj, dict) and getattr(obj.get("T"), "string", None) == VARIANT_FIELD:
            obj["Ff"] = _READ_ONLY
            obj["F"] = _HIDDEN
    _standard_field_font(pdf)


def _standard_field_font(pdf: Any) -> None:
    """Set the text fields in Helvetica, which form fillers can encode, instead of the font
    WeasyPrint embeds whole for them (a Type0 font, which pdftk and PyMuPDF cannot write with).

    The form's /DR becomes << /Font << /Helv F >> >> with F a non-embedded Type1 Helvetica in
    PDFDocEncoding; each field's /DA names /Helv, with WeasyPrint's size and colour; each /Rect is
    normalised (WeasyPrint writes y0 > y1); the Type0 font, used by no content stream, is taken
    out of the page resources and its objects emptied. Emptied, not freed: pydyf writes a free
    object's entry in a compressed cross-reference stream wrongly."""
    import pydyf

    form = pdf.catalog.get("AcroForm")
    if form is None:
        return

    def deref(value: Any) -> Any:
        if isinstance(value, bytes) and value.endswith(b" R"):
            return pdf.objects[int(value.split()[0])]
        return value

    differences = pydyf.Array(
        token if token.startswith("/") else int(token) for token in PDFDOC_DIFFERENCES.split()
    )
    font = pydyf.Dictionary(
        {
            "Type": "/Font",
            "Subtype": "/Type1",
            "BaseFont": "/Helvetica",
            "Name": "/" + FIELD_FONT,
            "Encoding": pydyf.Dictionary({"Type": "/Encoding", "Differences": differences}),
        }
    )
    pdf.add_object(font)
    resources = deref(form.get("DR"))
    form["DR"] = pydyf.Dictionary({"Font": pydyf.Dictionary({FIELD_FONT: font.reference})})
    form["DA"] = pydyf.String(f"/{FIELD_FONT} 0 Tf 0 g")

    old_fonts = set()
    for ref in form["Fields"]:
        field = deref(ref)
        da = getattr(field.get("DA"), "string", None)
        if isinstance(da, bytes):
            da = da.decode("latin-1")
        if da:
            old_fonts.update(re.findall(r"/(\S+)\s+[\d.]+\s+Tf", da))
            size = (re.findall(r"([\d.]+)\s+Tf", da) or ["0"])[-1]
            colour = re.findall(r"((?:[\d.]+\s+){1,4})(rg|g|k)\b", da)
            paint = " ".join([*colour[-1][0].split(), colour[-1][1]]) if colour else "0 g"
            field["DA"] = pydyf.String(f"/{FIELD_FONT} {size} Tf {paint}")
        if "Rect" in field:
            x0, y0, x1, y1 = (float(v) for v in field["Rect"])
            field["Rect"] = pydyf.Array((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))

    fonts = deref(resources.get("Font")) if isinstance(resources, dict) else None
    if not fonts:
        return
    streams = [obj for obj in pdf.objects if isinstance(obj, pydyf.Stream)]
    for name in old_fonts:
        token = b"/" + name.encode() + b" "
        if any(
            token
            in b" ".join(op if isinstance(op, bytes) else str(op).encode() for op in stream.stream)
            for stream in streams
        ):
            continue  # also used by page content: kept
        type0 = deref(fonts.pop(name, None))
        if not isinstance(type0, dict):
            continue
        parts = [type0, deref(type0.get("ToUnicode"))]
        for ref in type0.get("DescendantFonts", []):
            descendant = deref(ref)
            descriptor = deref(descendant.get("FontDescriptor"))
            parts += [descendant, descriptor]
            if isinstance(descriptor, dict):
                parts += [deref(descriptor.get(k)) for k in ("FontFile", "FontFile2", "FontFile3")]
        for part in parts:
            if isinstance(part, pydyf.Stream):
                part.stream, part.extra = [], {}
            elif isinstance(part, dict):
                part.clear()


PDF_VARIANT = "pdf/ua-1"
"""Every PDF bpquiz writes is tagged (PDF/UA-1): a language, headings and tables with their
structure, the drawings Figures with alternative text, form fields with tooltips."""


def _describe_figures(document: Document, pdf: Any) -> None:
    """WeasyPrint finisher: give each drawing's Figure element its `aria-label` as alternative
    text (WeasyPrint 70 reads only an SVG's <title>, which costs as much layout as a dozen
    labels). Figures and drawings are matched in document order."""
    import pydyf

    labels: list[str | None] = []

    def visit(box: Any) -> None:
        if (getattr(box, "element_tag", None) or "").endswith("svg"):
            labels.append(box.element.get("aria-label"))
        for child in getattr(box, "children", ()):
            visit(child)

    for page in document.pages:
        visit(page._page_box)
    figures = [
        obj
        for obj in pdf.objects
        if isinstance(obj, dict) and obj.get("S") == "/Figure" and "Alt" not in obj
    ]
    if len(figures) == len(labels):
        for figure, label in zip(figures, labels, strict=True):
            if label:
                figure["Alt"] = pydyf.String(label)


def _margins_as_artifacts(pdf: Any) -> None:
    """WeasyPrint finisher: mark the page margins' content (the running header and footer) as
    artifacts. WeasyPrint gives it structure elements but leaves them out of the structure tree,
    so their marked content would belong to nothing; page furniture is an artifact in PDF/UA."""

    def get(ref: Any) -> Any:
        return pdf.objects[int(bytes(ref).split()[0])]

    catalog = pdf.catalog
    if "StructTreeRoot" not in catalog:
        return
    root = get(catalog["StructTreeRoot"])
    reached = set()
    stack = list(root["K"])
    while stack:
        element = get(stack.pop())
        if id(element) in reached:
            continue
        reached.add(id(element))
        stack.extend(k for k in element.get("K", ()) if isinstance(k, bytes))
    nums = get(root["ParentTree"])["Nums"]
    pages = [get(ref) for ref in pdf.page_references]
    for k in range(0, len(nums), 2):
        if not isinstance(nums[k + 1], list) or nums[k] >= len(pages):
            continue
        orphans = {m for m, ref in enumerate(nums[k + 1]) if id(get(ref)) not in reached}
        if not orphans:
            continue
        for m in orphans:
            nums[k + 1][m] = b"null"
        chunks = get(pages[nums[k]]["Contents"]).stream
        for j in range(len(chunks) - 2):
            props = chunks[j + 1]
            if chunks[j + 2] == b"BDC" and isinstance(props, dict) and props.get("MCID") in orphans:
                chunks[j : j + 3] = ["/Artifact", b"BMC", b""]


def write_pdf(document: Document, finisher: Any = None) -> bytes:
    """A laid-out document as a tagged PDF (PDF_VARIANT); `finisher` as WeasyPrint's."""

    def finish(doc: Document, pdf: Any) -> None:
        _describe_figures(doc, pdf)
        _margins_as_artifacts(pdf)
        if finisher is not None:
            finisher(doc, pdf)

    document.metadata.generator = CREATOR
    data: bytes = document.write_pdf(pdf_variant=PDF_VARIANT, finisher=finish)
    return data


def form_pdfs(document: Document, variant: str, print_copy: bool) -> tuple[bytes, bytes | None]:
    """A laid-out fillable document written as a form that carries its variant code (see
    bpquiz.forms), and with `print_copy` the same pages without fields.

    The print copy is for joining into the class file: there, every student's fields would share
    names (z1_1, …) and so be one field, and each would bring its fully embedded field font.
    Writing the laid-out document a second time costs a fraction of laying it out again.
    """
    printed = None
    if print_copy:
        # A page writes the fields gathered in its `forms`; without them, plain pages.
        forms = [page.forms for page in document.pages]
        for page in document.pages:
            page.forms = {None: []}
        printed = write_pdf(document)
        for page, gathered in zip(document.pages, forms, strict=True):
            page.forms = gathered
    return write_pdf(document, lambda _doc, pdf: mark_form(variant, pdf)), printed


@contextmanager
def _edited_templates(roots: Sequence[Path]) -> Iterator[None]:
    """Any failure of WeasyPrint on a teacher's edited templates as a RenderError naming their
    folder: an edited stylesheet can make WeasyPrint fail in ways its own checks don't catch (a
    variable deleted that a calc() uses is an AssertionError). On the shipped templates a failure
    is bpquiz's own, and goes on as it is."""
    try:
        yield
    except RenderError:
        raise
    except Exception as exc:
        folder = roots[0]
        if folder.resolve() == default_templates().resolve():
            raise
        raise RenderError(
            f"{folder}: the edited templates could not be rendered ({type(exc).__name__} in "
            "WeasyPrint); compare them with `bpquiz templates`"
        ) from exc


def html_to_pdf(html: str, roots: Sequence[Path]) -> tuple[bytes, int]:
    """The PDF of one document and its number of pages."""
    with _edited_templates(roots):
        document = render_document(html, roots)
        return write_pdf(document), len(document.pages)


def html_to_fillable_pdf(html: str, roots: Sequence[Path], variant: str) -> tuple[bytes, int]:
    """A fillable PDF form (every <input> a field) and its page count."""
    with _edited_templates(roots):
        document = render_document(html, roots, forms=True)
        data, _ = form_pdfs(document, variant, False)
        return data, len(document.pages)


def join_pdfs(files: Sequence[Path], duplex: bool = False) -> bytes:
    """One tagged file of several students' tagged documents, each starting on a new page; the
    class file where not every student's document could be stamped (the stamped class file is
    bpquiz.sheets.stamping.classfile's).

    Each document's structure becomes a Part under the file's Document, its pages' parent-tree
    keys and its table headers' IDs made its own. Form fields are left out: in one file, every
    student's same-named fields would be one field. With `duplex`, a document with an odd page
    count is followed by a blank page, so that every student starts on a fresh sheet of paper
    when printed on both sides."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        BooleanObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        StreamObject,
        TextStringObject,
    )

    writer = PdfWriter()
    parts = ArrayObject()
    nums = ArrayObject()
    key = 0
    first: Any = None
    for n, path in enumerate(files):
        reader: Any = PdfReader(path)
        first = first or reader
        source = reader.trailer["/Root"].get("/StructTreeRoot")
        pages: list[Any] = [
            writer.add_page(page, excluded_keys=("/Annots", "/B")) for page in reader.pages
        ]
        if source is not None:
            source = source.get_object()
            # pypdf leaves the pages' parent-tree keys out when it copies them.
            for page, original in zip(pages, reader.pages, strict=True):
                if "/StructParents" in original:
                    own = key + int(original["/StructParents"])
                    page[NameObject("/StructParents")] = NumberObject(own)
            old = source["/ParentTree"].get_object()["/Nums"]
            for k in range(0, len(old), 2):
                value = old[k + 1].get_object()
                if isinstance(value, ArrayObject):
                    value = writer._add_object(value.clone(writer, ignore_fields=("/P",)))
                nums.extend([NumberObject(key + int(old[k])), value])
            key += int(source.get("/ParentTreeNextKey", len(pages)))
            tops = source["/K"] if isinstance(source["/K"], ArrayObject) else [source["/K"]]
            for top in tops:
                element = top.get_object().clone(writer, ignore_fields=("/P",))
                element[NameObject("/S")] = NameObject("/Part")
                _own_ids(element, f"s{n + 1}-")
                parts.append(element.indirect_reference)
        if duplex and len(pages) % 2:
            writer.add_blank_page()
    root = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    root_ref = writer._add_object(root)
    document = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/StructElem"),
            NameObject("/S"): NameObject("/Document"),
            NameObject("/P"): root_ref,
            NameObject("/K"): parts,
        }
    )
    root[NameObject("/K")] = ArrayObject([writer._add_object(document)])
    tree = DictionaryObject({NameObject("/Nums"): nums})
    root[NameObject("/ParentTree")] = writer._add_object(tree)
    root[NameObject("/ParentTreeNextKey")] = NumberObject(key)
    _set_parents(document)
    catalog = writer.root_object
    catalog[NameObject("/StructTreeRoot")] = root_ref
    catalog[NameObject("/MarkInfo")] = DictionaryObject(
        {NameObject("/Marked"): BooleanObject(True)}
    )
    catalog[NameObject("/ViewerPreferences")] = DictionaryObject(
        {NameObject("/DisplayDocTitle"): BooleanObject(True)}
    )
    if first is not None:
        source_catalog = first.trailer["/Root"]
        if "/Lang" in source_catalog:
            catalog[NameObject("/Lang")] = TextStringObject(str(source_catalog["/Lang"]))
        title = (first.metadata or {}).get("/Title", "")
        title = re.sub(r" · [^·]*$", "", str(title)) if len(files) > 1 else str(title)
        writer.add_metadata({"/Title": title, "/Creator": CREATOR})
        if "/Metadata" in source_catalog:
            xml = source_catalog["/Metadata"].get_object().get_data()
            xml = re.sub(
                rb"(<dc:title><rdf:Alt><rdf:li[^>]*>).*?(</rdf:li>)",
                lambda m: m[1] + escape(title, quote=False).encode() + m[2],
                xml,
                flags=re.S,
            )
            stream = StreamObject()
            stream.set_data(xml)
            stream[NameObject("/Type")] = NameObject("/Metadata")
            stream[NameObject("/Subtype")] = NameObject("/XML")
            catalog[NameObject("/Metadata")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _own_ids(element: Any, prefix: str) -> None:
    """Make a structure tree's IDs (table headers) and the references to them (a cell's
    /Headers) its own, with `prefix`: the students' tables would otherwise share them."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    seen: set[int] = set()
    stack: list[Any] = [element]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if "/ID" in item:
            item[NameObject("/ID")] = TextStringObject(prefix + str(item["/ID"]))
        attributes: Any = item.get("/A")
        if not isinstance(attributes, ArrayObject):
            attributes = [attributes] if attributes else []
        for ref in attributes:
            attribute: Any = ref.get_object()
            if isinstance(attribute, DictionaryObject) and "/Headers" in attribute:
                headers: Any = attribute["/Headers"]
                attribute[NameObject("/Headers")] = ArrayObject(
                    TextStringObject(prefix + str(h)) for h in headers
                )
        kids: Any = item.get("/K", [])
        for kid in kids if isinstance(kids, ArrayObject) else [kids]:
            kid = kid.get_object()
            if isinstance(kid, DictionaryObject) and "/S" in kid:
                stack.append(kid)


def _set_parents(element: Any) -> None:
    """Give every structure element below `element` its parent (/P), which cloning left out."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    stack: list[Any] = [element]
    while stack:
        item = stack.pop()
        kids = item.get("/K", [])
        for kid in kids if isinstance(kids, ArrayObject) else [kids]:
            obj = kid.get_object()
            if isinstance(obj, DictionaryObject) and "/S" in obj:
                obj[NameObject("/P")] = item.indirect_reference
                stack.append(obj)
