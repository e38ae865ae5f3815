"""Practice pages without a browser: what `generate --practice` writes, and the data in a page.

The page in a real browser (marking, keyboard, accessibility, offline) is
tests/test_practice_browser.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bpquiz.cli import app
from bpquiz.exercises.draw import customise, make_variants
from bpquiz.maths.expr import Expr
from bpquiz.maths.functions import ACTIVATIONS, EXP, LN
from bpquiz.sheets.options import SheetOptions
from bpquiz.sheets.practice import SCRIPT, practice_data, render_practice
from bpquiz.sheets.templates import TEMPLATE_FILES

runner = CliRunner()
README = Path(__file__).parent.parent / "README.md"
FUNCTIONS = {f.name: f.fn for f in (EXP, LN)} | {
    a.function.name: a.function.fn for a in ACTIVATIONS.values() if a.function
}
FUNCTIONS |= {"relu′": lambda z: 1.0 if z > 0 else 0.0, "lrelu′": lambda z: 1.0 if z > 0 else 0.01}


def page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="pr-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def evaluate(tree: list[Any], env: dict[str, float]) -> float:
    """The page's tree walk, in Python: checks that a tree says everything its Expr does."""
    kind, *parts = tree
    values = [evaluate(p, env) for p in parts if isinstance(p, list)]
    match kind:
        case "Ref":
            return env[parts[0]]
        case "Num":
            return parts[0] / parts[1]
        case "Sum":
            return math.fsum(values) if len(values) > 2 else sum(values)
        case "Prod":
            return math.prod(values)
        case "Diff":
            return values[0] - values[1]
        case "Quot":
            return values[0] / values[1]
        case "Neg":
            return -values[0]
        case "Square":
            return values[0] ** 2
        case "Call":
            return FUNCTIONS[parts[0]](values[0])
    raise AssertionError(kind)


def test_generate_practice_writes_a_page_per_variant_beside_the_sheets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for fmt, seed in (("html", "5"), ("pdf", "6")):
        result = runner.invoke(
            app, ["generate", "--seed", seed, "--variants", "2", "--format", fmt, "--practice"]
        )
        assert result.exit_code == 0, result.output
        out = tmp_path / "exams" / f"classic-{seed}"
        key = json.loads((tmp_path / "answer_keys" / f"classic-{seed}.json").read_text())
        codes = [v["variant"] for v in key["variants"]]
        assert sorted(p.name for p in out.glob("*-practice.html")) == sorted(
            f"{code}-practice.html" for code in codes
        )
        assert (out / f"{codes[0]}-sheet.{fmt}").is_file()
        assert "Practice pages:" in result.output and "never for assessment" in result.output
    result = runner.invoke(app, ["generate", "--seed", "7"])
    assert not list((tmp_path / "exams" / "classic-7").glob("*-practice.html"))


def test_a_page_holds_the_keys_numbers_and_every_expression_as_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        ["generate", "--seed", "9", "--preset", "mitchell", "--format", "html", "--practice"],
    )
    assert result.exit_code == 0, result.output
    key = json.loads((tmp_path / "answer_keys" / "mitchell-9.json").read_text())
    variant = key["variants"][0]
    html = (tmp_path / "exams" / "mitchell-9" / f"{variant['variant']}-practice.html").read_text()
    data = page_data(html)
    asked = [q for q in variant["quantities"] if q["asked"]]
    assert [(q["id"], q["value"], q["tol"]["abs"], q["points"]) for q in asked] == [
        (q["id"], q["value"], q["tol"], q["points"]) for q in data["asked"]
    ]
    assert data["rounding"] == key["exam"]["rounding"]
    # Under the error convention, the mistakes are explained as that convention says.
    assert "(t − y)·f′(z)" in data["explanations"]["error_sign"]


def test_the_trees_say_what_the_expressions_do() -> None:
    """Every quantity's tree and every mistake's tree evaluates as its Expr does."""
    for preset in ("classic", "softmax", "batch", "deep"):
        settings = customise(preset)
        variant = make_variants(settings, 3, 1)[0]
        solution = variant.solution
        data = practice_data(variant, settings, SheetOptions())
        env = dict(solution.values)
        for qid, q in data["quantities"].items():
            assert q["value"] == solution.values[qid]
            expr = solution.quantities[qid].expr
            if expr is not None:
                assert evaluate(q["expr"], env) == _approx(expr, env), qid
        for entry in data["asked"]:
            made = solution.mistakes_at(entry["id"])
            assert [code for code, _ in entry["mistakes"]] == [m.code for m, _ in made]
            for (_, trees), (_, exprs) in zip(entry["mistakes"], made, strict=True):
                for tree, expr in zip(trees, exprs, strict=True):
                    assert evaluate(tree, env) == _approx(expr, env)


def _approx(expr: Expr, env: dict[str, float]) -> Any:
    return pytest.approx(expr.eval(env), rel=1e-12, abs=1e-15)


def test_a_page_is_self_contained_and_says_it_holds_its_answers() -> None:
    settings = customise("classic")
    variant = make_variants(settings, 4, 1)[0]
    html = render_practice(variant, settings, SheetOptions())
    # Inline style and script, the drawing inline: nothing to fetch (the SVG's namespace is a name).
    assert not re.search(r"<link|\ssrc=|\shref=|@import", html)
    assert set(re.findall(r"https?://[^\s\"')]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "For practice only." in html and "never used for assessment" in html
    assert "</" not in SCRIPT.read_text(encoding="utf-8")  # it is inlined in a <script>
    assert "practice.html" in TEMPLATE_FILES  # `bpquiz templates` copies it with the others


def test_the_readme_says_a_practice_page_is_never_for_assessment() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Practice pages") :]
    section = section[: section.index("\n## ", 3)]
    assert "--practice" in section
    assert "never" in section and "assessment" in section
