"""HTML to PDF through WeasyPrint, and joining per-student PDFs into class files.

This module imports WeasyPrint at the top, so only the rendering code path imports it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher

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


def html_to_pdf(html: str, roots: Sequence[Path]) -> tuple[bytes, int]:
    """The PDF of one document and its number of pages."""
    fetcher = AssetFetcher(roots)
    document = HTML(string=html, base_url=roots[0].as_uri() + "/", url_fetcher=fetcher).render()
    return document.write_pdf(), len(document.pages)


def html_to_fillable_pdf(
    html: str, roots: Sequence[Path], variant: str, print_copy: bool = False
) -> tuple[bytes, bytes | None, int]:
    """A fillable PDF form (every <input> a field) that carries its variant code (see
    bpquiz.pdf_answers), with `print_copy` the same pages without fields, and the page count.

    The print copy is for joining into the class file: there, every student's fields would share
    names (z1_1, …) and so be one field, and each would bring its fully embedded field font.
    Writing the laid-out document a second time costs a fraction of laying it out again.
    """
    from bpquiz.pdf_answers import mark_form

    fetcher = AssetFetcher(roots)
    html_doc = HTML(string=html, base_url=roots[0].as_uri() + "/", url_fetcher=fetcher)
    document = html_doc.render(pdf_forms=True)
    printed = None
    if print_copy:
        # A page writes the fields gathered in its `forms`; without them, plain pages.
        forms = [page.forms for page in document.pages]
        for page in document.pages:
            page.forms = {None: []}
        printed = document.write_pdf()
        for page, gathered in zip(document.pages, forms, strict=True):
            page.forms = gathered
    data = document.write_pdf(finisher=lambda _doc, pdf: mark_form(variant, pdf))
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
