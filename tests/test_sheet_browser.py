"""HTML problem sheets on screen, in a real browser (Debian's Chromium, driven by Playwright:
tests/browser_helpers.py), from a phone's width to a wide window.

A teacher's review found, at 1000 and 1600 px, every label from δ on running into its answer box
(a fixed 24 mm label column, and the on-screen `[id]` beside the symbol), and the variant code
shown twice at the top (the print header's copy on screen too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium
from typer.testing import CliRunner

from bpquiz.cli import app

WIDTHS = (360, 400, 700, 1000, 1600)
"""Window widths (CSS px): phones, a narrow window, a laptop, a wide screen."""
MIN_BOX = 60
"""The narrowest an answer box may be (CSS px): room to type −0.1234 and see it."""
MEASURE = """() => Array.from(document.querySelectorAll("table.answers"), table => {
  const rect = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  const text = cell => { const range = document.createRange(); range.selectNodeContents(cell);
                         return rect(range.getBoundingClientRect()); };
  return {labels: Array.from(table.querySelectorAll("td.label"), cell => ({
            text: cell.textContent.trim(), box: text(cell)})),
          inputs: Array.from(table.querySelectorAll("input.box"), input => ({
            name: input.name, box: rect(input.getBoundingClientRect())}))};
})"""
runner = CliRunner()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A problem sheet of each kind: deep (three layers), softmax (the review's), classic (small
    enough that its questions go two to a line)."""
    folder = tmp_path_factory.mktemp("sheets")
    out = {}
    for preset in ("deep", "softmax", "classic"):
        result = runner.invoke(
            app,
            ["generate", "--seed", "3", "--preset", preset, "--format", "html",
             "--out", str(folder / preset), "--keys-dir", str(folder / "keys")],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        [out[preset]] = (folder / preset).glob("*-sheet.html")
    return out


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    across = a["left"] < b["right"] and b["left"] < a["right"]
    return across and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.parametrize("preset", ["deep", "softmax", "classic"])
def test_no_label_runs_into_an_answer_box(browser, sheets, preset) -> None:
    page = browser.new_page()
    try:
        page.goto(sheets[preset].resolve().as_uri())
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            tables = page.evaluate(MEASURE)
            assert tables, "no answer table"
            for table in tables:
                for label in table["labels"]:
                    box = label["box"]
                    assert box["left"] >= 0 and box["right"] <= width, (width, label)
                    hit = [i["name"] for i in table["inputs"] if _overlap(box, i["box"])]
                    assert not hit, (width, label["text"], hit)
                for i in table["inputs"]:
                    assert i["box"]["right"] - i["box"]["left"] >= MIN_BOX, (width, i)
                    assert i["box"]["right"] <= width, (width, i)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"the page scrolls sideways at {width} px"
    finally:
        page.close()


def test_the_variant_code_is_shown_once_on_screen(browser, sheets) -> None:
    """On paper the code is in the header box and in every page's running header; on screen only
    in the box."""
    code = sheets["softmax"].name.split("-")[0]
    page = browser.new_page()
    try:
        page.goto(sheets["softmax"].resolve().as_uri())
        assert page.inner_text("body").count(code) == 1
        assert page.is_visible("td.variant") and not page.is_visible(".running-variant")
    finally:
        page.close()
