"""Every PDF bpquiz writes is tagged (PDF/UA-1), checked by tests/pdfua.py: sheets and solutions
stamped or rendered whole, fillable sheets (each field in the structure, with its tooltip),
class files, feedback sheets and the class summary (its charts Figures with alternative text).
Stamped files are checked in tests/test_stamp.py as well, with their reading order."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pdfua import check
from pypdf import PdfReader
from typer.testing import CliRunner

from bpquiz.cli import app

runner = CliRunner()
pytestmark = pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="needs poppler-utils")


def invoke(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def structure(path: Path) -> str:
    return subprocess.run(
        ["pdfinfo", "-struct", str(path)], check=True, capture_output=True, text=True
    ).stdout


def test_fillable_sheets_are_tagged_with_their_fields(tmp_path: Path) -> None:
    invoke("generate", "--seed", "42", "--variants", "2", "--fillable",
           "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys"))  # fmt: skip
    for path in sorted((tmp_path / "out").glob("*.pdf")):
        assert check(path.read_bytes()) == [], path.name
    sheet = next((tmp_path / "out").glob("*-sheet.pdf"))
    tree = structure(sheet)
    assert tree.count("Form") == 53  # 50 answer boxes, name, student id and the variant code
    assert PdfReader(sheet).trailer["/Root"]["/Lang"] == "en"


def test_documents_rendered_whole_are_tagged(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", "off")
    from bpquiz.exercises.draw import customise, make_variants
    from bpquiz.sheets.context import render_html
    from bpquiz.sheets.options import SheetOptions
    from bpquiz.sheets.pdf import html_to_pdf
    from bpquiz.sheets.templates import template_roots

    settings = customise("batch")
    variant = make_variants(settings, 3, 1)[0]
    for document in ("sheet", "solution"):
        html = render_html(document, variant, settings, SheetOptions())
        data, _ = html_to_pdf(html, template_roots(None))
        assert check(data) == [], document
        path = tmp_path / f"{document}.pdf"
        path.write_bytes(data)
        tree = structure(path)
        assert all(tag in tree for tag in ("H1", "H2", "Table", "TH", "TD", "Figure")), tree


def test_feedback_and_summary_are_tagged(tmp_path: Path) -> None:
    invoke("generate", "--seed", "42", "--out", str(tmp_path / "out"),
           "--keys-dir", str(tmp_path / "keys"))  # fmt: skip
    [template] = (tmp_path / "out").glob("*-answers.json")
    answers = json.loads(template.read_text())
    answers["student"] = "s1"
    for k, qid in enumerate(answers["answers"]):
        answers["answers"][qid] = "0.5" if k % 3 else None
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s1.json").write_text(json.dumps(answers))
    invoke("grade", str(tmp_path / "sub"), "--keys", str(tmp_path / "keys"),
           "--feedback", str(tmp_path / "feedback"), "--summary", str(tmp_path / "class.pdf"))  # fmt: skip
    files = [*sorted((tmp_path / "feedback").glob("*.pdf")), tmp_path / "class.pdf"]
    assert len(files) == 2
    for path in files:
        assert check(path.read_bytes()) == [], path.name
    assert structure(tmp_path / "class.pdf").count("Figure") >= 2
