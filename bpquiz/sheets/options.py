"""How the sheets look: the options a teacher chooses, checked before anything is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz.errors import OptionError
from bpquiz.maths.notation import make_notation
from bpquiz.sheets.templates import RenderError, check_templates
from bpquiz.sheets.variable import PLAIN, Texts

PAPERS = {"a4": "A4", "letter": "letter"}
FORMATS = ("pdf", "html")
DOCUMENTS = ("sheet", "solution")
DEFAULT_TITLE = "Backpropagation exercise"


@dataclass(frozen=True)
class SheetOptions:
    """How the sheets look: header texts, notation, paper, and an optional template folder."""

    title: str = DEFAULT_TITLE
    course: str = ""
    date: str = ""
    notation: str = "layered"
    paper: str = "a4"
    templates: Path | None = None
    fillable: bool = False
    """Student sheets as PDF forms: answer boxes, name and id are fields (bpquiz.forms)."""

    def check(self, depth: int) -> None:
        """Raise RenderError for options that cannot work with this depth of network."""
        if self.paper not in PAPERS:
            raise RenderError(f"unknown paper '{self.paper}': expected {' or '.join(PAPERS)}")
        try:
            make_notation(self.notation, depth, 1)
        except OptionError as exc:
            raise RenderError(str(exc)) from None
        check_templates(self.templates)


def header(
    document: str,
    options: SheetOptions,
    code: str,
    student: dict[str, str] | None,
    texts: Texts = PLAIN,
) -> dict[str, Any]:
    """What base.html shows on every page: titles, variant code, student."""
    return {
        "document": document,
        "title": options.title,
        "course": options.course,
        "date": options.date,
        "code": texts(code, "code"),
        # The hidden form field's value: in a layout made once it is written in afterwards.
        "code_field": "" if texts.laid_out_once else code,
        "student": (
            {"name": texts(student["name"], "name"), "id": texts(student["id"], "name")}
            if student
            else None
        ),
        "paper": PAPERS[options.paper],
        "fillable": options.fillable and document == "sheet",
    }
