"""The HTML bpquiz writes passes axe-core (WCAG 2.1 A and AA, and axe's best practices) in a
real browser: Debian's Chromium driven by Playwright for Python (tests/browser_helpers.py: no
browser download, `executable_path`), with axe-core as axe-playwright-python ships it.

Checked: `--format html` problem sheets (fillable too, and a mini-batch's, whose tables have row
headers; and on a phone's screen) and worked solutions, a feedback sheet and the class summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium
from typer.testing import CliRunner

from bpquiz.cli import app

RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
runner = CliRunner()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def violations(browser: Any, html: Path, width: int | None = None) -> list[str]:
    """axe-core's violations of RULES in the page, one line each (rule, impact, where); in a
    window `width` px wide if given."""
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(**({"viewport": {"width": width, "height": 800}} if width else {}))
    try:
        page.goto(html.resolve().as_uri())
        found = Axe().run(page, options={"runOnly": {"type": "tag", "values": RULES}})
    finally:
        page.close()
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found.response["violations"]
    ]


def generate(folder: Path, *more: str) -> list[Path]:
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--format", "html", "--out", str(folder / "out"),
         "--keys-dir", str(folder / "keys"), *more],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return sorted((folder / "out").glob("*.html"))


@pytest.mark.parametrize(
    "options",
    [[], ["--fillable"], ["--preset", "batch", "--notation", "layered"], ["--preset", "softmax"]],
    ids=["classic", "fillable", "batch", "softmax"],
)
def test_html_sheets_pass_axe(browser, options, tmp_path) -> None:
    pages = generate(tmp_path, *options)
    assert len(pages) == 2
    for html in pages:
        assert violations(browser, html) == [], html.name


def test_an_html_sheet_on_a_phone_passes_axe(browser, tmp_path) -> None:
    """On a narrow screen the answer boxes are laid out one to a line (not as a table)."""
    for html in generate(tmp_path, "--preset", "softmax"):
        assert violations(browser, html, width=400) == [], html.name


def test_feedback_and_summary_pass_axe(browser, tmp_path) -> None:
    from bpquiz.api import grade
    from bpquiz.grading.feedback import render_feedback_html
    from bpquiz.sheets.options import SheetOptions

    [sheet, _] = generate(tmp_path)
    code = sheet.name.split("-")[0]
    key = json.loads(next((tmp_path / "keys").glob("*.json")).read_text())
    values = {q["id"]: q["value"] for q in key["variants"][0]["quantities"]}
    answers = json.loads((tmp_path / "out" / f"{code}-answers.json").read_text())
    for k, qid in enumerate(answers["answers"]):
        answers["answers"][qid] = None if k == 3 else "0.5" if k % 5 == 0 else f"{values[qid]:.4f}"
    answers["student"] = "s1"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s1.json").write_text(json.dumps(answers), encoding="utf-8")
    summary = tmp_path / "class.html"
    result = runner.invoke(
        app, ["grade", str(tmp_path / "sub"), "--keys", str(tmp_path / "keys"),
              "--summary", str(summary)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report, keys = grade([tmp_path / "sub"], keys_dir=tmp_path / "keys")
    result_ = report.results[0]
    feedback = tmp_path / "feedback.html"
    feedback.write_text(
        render_feedback_html(result_, keys.find(result_.variant), SheetOptions()), encoding="utf-8"
    )
    for html in (feedback, summary):
        assert violations(browser, html) == [], html.name


def test_axe_finds_what_it_should(browser, tmp_path) -> None:
    """The check would catch something: a box without a label, grey on white, no language."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><title>t</title></head><body><main><input type="text">'
        '<p style="color:#ccc">faint</p></main></body></html>'
    )
    found = " ".join(violations(browser, page))
    assert all(rule in found for rule in ("label (", "color-contrast", "html-has-lang"))
