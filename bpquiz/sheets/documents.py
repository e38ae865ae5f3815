"""A variant's document rendered whole: its HTML, and WeasyPrint's PDF of it.

The plain path, without stamping: `--format html`, a document that cannot be stamped exactly, and
the reference that stamped documents are tested against. WeasyPrint is imported only on the PDF
path (bpquiz.sheets.pdf).
"""

from __future__ import annotations

from dataclasses import dataclass

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.presets import Settings
from bpquiz.sheets.context import render_html
from bpquiz.sheets.options import SheetOptions
from bpquiz.sheets.templates import template_roots


@dataclass(frozen=True)
class Rendered:
    """One document of one variant: its bytes (PDF or UTF-8 HTML) and, for a PDF, its pages."""

    code: str
    document: str
    data: bytes
    pages: int


@dataclass(frozen=True)
class WholeTask:
    """One document of one variant to render whole (in a worker process)."""

    document: str
    variant: Variant
    settings: Settings
    options: SheetOptions
    fmt: str = "pdf"


def render_document(task: WholeTask) -> Rendered:
    html = render_html(task.document, task.variant, task.settings, task.options)
    code, document, options = task.variant.code, task.document, task.options
    if task.fmt == "html":
        return Rendered(code, document, html.encode(), 0)
    roots = template_roots(options.templates)
    if options.fillable and document == "sheet":
        from bpquiz.sheets.pdf import html_to_fillable_pdf

        data, pages = html_to_fillable_pdf(html, roots, code)
        return Rendered(code, document, data, pages)
    from bpquiz.sheets.pdf import html_to_pdf

    data, pages = html_to_pdf(html, roots)
    return Rendered(code, document, data, pages)
