"""HTML to PDF through WeasyPrint, and joining per-student PDFs into class files.

This module imports WeasyPrint at the top, so only the rendering code path imports it.
"""

from __future__ import annotations

import ctypes.util
import io
import logging
import re
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bpquiz.forms import VARIANT_FIELD


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
        printed = document.write_pdf()
        for page, gathered in zip(document.pages, forms, strict=True):
            page.forms = gathered
    return document.write_pdf(finisher=lambda _doc, pdf: mark_form(variant, pdf)), printed


def html_to_pdf(html: str, roots: Sequence[Path]) -> tuple[bytes, int]:
    """The PDF of one document and its number of pages."""
    document = render_document(html, roots)
    return document.write_pdf(), len(document.pages)


def html_to_fillable_pdf(
    html: str, roots: Sequence[Path], variant: str, print_copy: bool = False
) -> tuple[bytes, bytes | None, int]:
    """A fillable PDF form (every <input> a field), with `print_copy` the same pages without
    fields (see `form_pdfs`), and the page count."""
    document = render_document(html, roots, forms=True)
    data, printed = form_pdfs(document, variant, print_copy)
    return data, printed, len(document.pages)


def join_pdfs(parts: Sequence[tuple[bytes, int]], duplex: bool = False) -> bytes:
    """One file of several students' documents, each starting on a new page.

    With `duplex`, a student's document with an odd page count is followed by a blank page, so that
    every student starts on a fresh sheet of paper when printed on both sides.
    """
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data, pages in parts:
        writer.append(PdfReader(io.BytesIO(data)), import_outline=False)
        if duplex and pages % 2:
            writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
