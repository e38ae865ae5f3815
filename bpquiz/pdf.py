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
