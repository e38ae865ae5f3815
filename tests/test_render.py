"""Exam sheets and worked solutions: what the PDFs say, what they must not say, and that they repeat."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from bpquiz.cli import app
from bpquiz.exercises.draw import PRESETS, customise, make_variants
from bpquiz.maths.functions import number_text
from bpquiz.maths.rounding import Mode, Rounding
from bpquiz.sheets.context import render_html, sheet_context
from bpquiz.sheets.options import SheetOptions
from bpquiz.sheets.templates import template_roots

MALICIOUS = '<img src="file:///etc/hostname">'
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")


def pdftext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pages_of(path: Path) -> list[str]:
    return pdftext(path).split("\f")[:-1]


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One classic variant, seed 42, as a teacher would generate it."""
    root = tmp_path_factory.mktemp("single")
    run("generate", "--seed", "42", "--out", str(root / "out"), "--keys-dir", str(root / "keys"))
    key = json.loads((root / "keys" / "classic-42.json").read_text())
    variant = key["variants"][0]
    code = variant["variant"]
    return {
        "key": key,
        "variant": variant,
        "code": code,
        "sheet": root / "out" / f"{code}-sheet.pdf",
        "solution": root / "out" / f"{code}-solution.pdf",
    }


@pytest.fixture(scope="module")
def roster_set(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A class of three from a roster, one with a name that is an HTML element, printed duplex."""
    root = tmp_path_factory.mktemp("roster")
    roster = root / "class.csv"
    roster.write_text(f'id,name\ns1,"{MALICIOUS.replace(chr(34), chr(34) * 2)}"\ns2,Bo\ns3,Cy\n')
    run(
        "generate", "--seed", "5", "--roster", str(roster), "--duplex", "--jobs", "2",
        "--out", str(root / "out"), "--keys-dir", str(root / "keys"), "--name", "midterm",
    )  # fmt: skip
    key = json.loads((root / "keys" / "midterm.json").read_text())
    return {"key": key, "out": root / "out"}


def rounding_of(key: dict) -> Rounding:
    r = key["exam"]["rounding"]
    return Rounding(Mode(r["mode"]), r["digits"])


def test_sheet_shows_the_variant_code_and_every_given(single: dict) -> None:
    text = pdftext(single["sheet"])
    pages = text.split("\f")[:-1]
    assert all(f"Variant {single['code']}" in page for page in pages)
    problem = single["variant"]["problem"]
    givens = [
        *problem["inputs"][0],
        *problem["targets"][0],
        *(w for matrix in problem["weights"] for row in matrix for w in row),
        *(b for layer in problem["biases"] for b in layer),
        problem["learning_rate"],
    ]
    numbers = set(re.findall(r"−?\d+(?:\.\d+)?", text))
    missing = [number_text(g) for g in givens if number_text(g) not in numbers]
    assert not missing


def test_solution_shows_every_asked_value_rounded_as_the_sheet_asks(single: dict) -> None:
    text = pdftext(single["solution"])
    rounding = rounding_of(single["key"])
    asked = [q for q in single["variant"]["quantities"] if q["asked"]]
    assert len(asked) == 50
    numbers = set(re.findall(r"−?\d+\.\d+", text))
    missing = [q["id"] for q in asked if rounding.format(q["value"]) not in numbers]
    assert not missing
    assert re.search(r"4\s+decimal\s+places", pdftext(single["sheet"]))  # may wrap


def test_student_sheet_gives_no_answer_away(single: dict) -> None:
    rounding = rounding_of(single["key"])
    numbers = set(re.findall(r"−?\d+\.\d+", pdftext(single["sheet"])))
    answers = {
        q["id"]: rounding.format(q["value"]) for q in single["variant"]["quantities"] if q["asked"]
    }
    leaked = {qid: v for qid, v in answers.items() if v in numbers}
    assert not leaked


def test_classic_sheet_fits_two_pages(single: dict) -> None:
    assert len(PdfReader(single["sheet"]).pages) <= 2
    assert "Page 1 of" in pages_of(single["sheet"])[0]


def test_letter_paper(tmp_path: Path) -> None:
    run(
        "generate", "--seed", "42", "--paper", "letter", "--jobs", "1",
        "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys"),
    )  # fmt: skip
    sheet = next((tmp_path / "out").glob("*-sheet.pdf"))
    box = PdfReader(sheet).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert len(PdfReader(sheet).pages) <= 2


def test_same_seed_gives_byte_identical_pdfs_in_separate_processes(tmp_path: Path) -> None:
    """Laid out afresh each time (no kept skeletons: bpquiz.sheets.stamping.cache is tested on its own)."""
    outputs = []
    for run_dir in ("a", "b"):
        out = tmp_path / run_dir
        subprocess.run(
            [
                sys.executable, "-m", "bpquiz", "generate", "--seed", "42", "--variants", "2",
                "--out", str(out), "--keys-dir", str(tmp_path / run_dir / "keys"),
            ],
            check=True, capture_output=True, env={**os.environ, "BPQUIZ_CACHE": "off"},
        )  # fmt: skip
        outputs.append({p.name: p.read_bytes() for p in sorted(out.glob("*.pdf"))})
    assert len(outputs[0]) == 6  # 2 sheets, 2 solutions, 2 class files
    assert outputs[0] == outputs[1]


def test_roster_name_is_printed_literally_and_nothing_is_fetched(
    roster_set: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = roster_set["key"]["variants"][0]
    text = pdftext(roster_set["out"] / f"{first['variant']}-sheet.pdf")
    assert MALICIOUS in text

    # Render the same sheet in this process and watch every fetch WeasyPrint asks for.
    from bpquiz.sheets import pdf

    fetched: list[str] = []
    original = pdf.AssetFetcher.fetch

    def spy(self: pdf.AssetFetcher, url: str, headers: object = None) -> object:
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(pdf.AssetFetcher, "fetch", spy)
    settings = customise("classic")
    variant = make_variants(settings, 5, 1, [{"id": "s1", "name": MALICIOUS}])[0]
    html = render_html("sheet", variant, settings, SheetOptions())
    assert "&lt;img src=&#34;file:///etc/hostname&#34;&gt;" in html
    assert "<img" not in html
    data, _ = pdf.html_to_pdf(html, template_roots(None))
    assert fetched == []
    assert data.startswith(b"%PDF")


def test_asset_fetcher_refuses_everything_outside_the_templates(tmp_path: Path) -> None:
    from bpquiz.sheets.pdf import AssetFetcher

    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    fetcher = AssetFetcher([tmp_path])
    for url in ("file:///etc/hostname", "http://example.com/x.png", (tmp_path / "..").as_uri()):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch((tmp_path / "logo.svg").as_uri()).read().startswith(b"<svg")


def test_each_student_starts_on_a_fresh_sheet_of_paper(roster_set: dict) -> None:
    out = roster_set["out"]
    variants = roster_set["key"]["variants"]
    class_pages = pages_of(out / "midterm-sheets.pdf")
    start = 0
    for v in variants:
        own = len(PdfReader(out / f"{v['variant']}-sheet.pdf").pages)
        assert start % 2 == 0  # duplex: a student's first page is the front of a sheet
        assert f"Variant {v['variant']}" in class_pages[start]
        assert f"Page 1 of {own}" in class_pages[start]
        assert f"Page {own} of {own}" in class_pages[start + own - 1]
        start += own + own % 2
    assert start == len(class_pages)
    solutions = pages_of(out / "midterm-solutions.pdf")
    assert sum("Page 1 of" in page for page in solutions) == len(variants)


def test_html_format_and_textbook_notation(tmp_path: Path) -> None:
    run(
        "generate", "--seed", "42", "--format", "html", "--notation", "textbook",
        "--title", "Quiz <3 & more", "--out", str(tmp_path / "out"),
        "--keys-dir", str(tmp_path / "keys"),
    )  # fmt: skip
    sheet = next((tmp_path / "out").glob("*-sheet.html")).read_text()
    solution = next((tmp_path / "out").glob("*-solution.html")).read_text()
    assert "Quiz &lt;3 &amp; more" in sheet
    for text in (sheet, solution):
        assert "h₁" in text and "u₁₁" in text and "δʸ₁" in text
    assert 'name="grad_w2_1_1"' in sheet  # answer boxes are named after the quantity ids
    assert not list((tmp_path / "out").glob("*.pdf"))


def test_layered_notation_on_both_sheets() -> None:
    settings = customise("deep")
    variant = make_variants(settings, 3, 1)[0]
    for document in ("sheet", "solution"):
        html = render_html(document, variant, settings, SheetOptions())
        assert "z⁽³⁾₁" in html and "W⁽²⁾₁₂" in html and "δ⁽¹⁾₁" in html


def test_textbook_notation_needs_one_hidden_layer(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "1", "--preset", "deep", "--notation", "textbook",
         "--keys-dir", str(tmp_path / "keys"), "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "one hidden layer" in result.output
    assert not (tmp_path / "keys").exists()  # nothing written for a bad option


def test_edited_templates_are_used(tmp_path: Path) -> None:
    run("templates", str(tmp_path / "tpl"))
    sheet = tmp_path / "tpl" / "sheet.html"
    sheet.write_text(sheet.read_text().replace("Instructions", "Read me first"))
    run(
        "generate", "--seed", "42", "--format", "html", "--templates", str(tmp_path / "tpl"),
        "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys"),
    )  # fmt: skip
    assert "Read me first" in next((tmp_path / "out").glob("*-sheet.html")).read_text()
    result = CliRunner().invoke(app, ["templates", str(tmp_path / "tpl")])
    assert result.exit_code == 1 and "--force" in result.output


def test_a_template_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    run("templates", str(folder))
    css = folder / "bpquiz.css"
    css.write_bytes(css.read_bytes() + "/* Prüfung */".encode("latin-1"))
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "1", "--templates", str(folder), "--out", str(tmp_path / "o"),
         "--keys-dir", str(tmp_path / "k")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert f"{css} is not UTF-8 text" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("--body-size: 9.5pt;", "--body-size: 0pt;"), "--body-size must be a positive length"),
        (("--small-size: 8pt;", "--small-size: 8em;"), "--small-size must be a positive length"),
        (("--drawing-width: 680px;", "--drawing-width: 6.8.0px;"), "--drawing-width must be"),
        (
            ("--cells-per-row: 3;", "--cells-per-row: many;"),
            '--cells-per-row must be a positive whole number, got "many"',
        ),
        (("--cells-per-row: 3;", "--cells-per-row: 0;"), "--cells-per-row must be a positive"),
        (("--cells-per-row: 3;", ""), "--cells-per-row is missing from :root"),
    ],
)
def test_the_stylesheets_numbers_python_reads_are_checked_first(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    folder = tmp_path / "t"
    run("templates", str(folder))
    css = folder / "bpquiz.css"
    assert edit[0] in css.read_text()
    css.write_text(css.read_text().replace(*edit))
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "1", "--templates", str(folder), "--out", str(tmp_path / "o"),
         "--keys-dir", str(tmp_path / "k")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {css}: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "k").exists()  # nothing written


def test_weasyprint_failing_on_edited_templates_is_one_line(tmp_path: Path) -> None:
    """With --box-height deleted, WeasyPrint 70 fails inside a calc() (an AssertionError): one
    line naming the folder, no key, and a plain rerun works once the stylesheet is fixed."""
    folder = tmp_path / "my-sheets"
    run("templates", str(folder))
    css = folder / "bpquiz.css"
    original = css.read_text()
    css.write_text(original.replace("--box-height: 7mm;", ""))
    args = ["generate", "--seed", "1", "--templates", str(folder), "--out", str(tmp_path / "o"),
            "--keys-dir", str(tmp_path / "k")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {folder}: the edited templates could not be rendered (AssertionError in "
        "WeasyPrint); compare them with `bpquiz templates`\n"
    )
    assert not list((tmp_path / "k").glob("*.json"))
    # Left behind: the answer templates, and what was rendered before the failure; all replaced
    assert {p.name.rsplit("-", 1)[1] for p in (tmp_path / "o").iterdir()} <= {
        "answers.json",
        "answers.csv",
        "solution.pdf",
    }
    css.write_text(original)
    run(*args)
    assert (tmp_path / "k" / "classic-1.json").exists()


def test_relative_templates_folder_renders_pdf(tmp_path: Path, monkeypatch) -> None:
    # The README's own recipe: `bpquiz templates my-sheets`, then `--templates my-sheets`.
    monkeypatch.chdir(tmp_path)
    run("templates", "my-sheets")
    run("generate", "--seed", "3", "--preset", "chain", "--templates", "my-sheets")
    assert pdftext(next((tmp_path / "exams" / "chain-3").glob("*-sheet.pdf")))


def test_a_batch_class_set_renders_in_worker_processes(tmp_path: Path) -> None:
    # Worker processes receive the variants pickled: every part of a Solution must pickle.
    run(
        "generate", "--seed", "9", "--preset", "batch", "--variants", "3", "--format", "html",
        "--jobs", "2", "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys"),
    )  # fmt: skip
    assert len(list((tmp_path / "out").glob("*-solution.html"))) == 3


def test_points_in_hundredths_add_up_as_written(tmp_path: Path) -> None:
    """Points are whole hundredths, and a sheet's totals are written as such: 6, not
    6.000000000000001 (5 z at 1, 5 a at 0.13 and 5 δ at 0.07, summed as floats)."""
    run(
        "generate", "--seed", "1", "--format", "html", "--ask", "z,a,delta",
        "--points", "a=0.13,delta=0.07", "--out", str(tmp_path / "o"),
        "--keys-dir", str(tmp_path / "k"),
    )  # fmt: skip
    html = next((tmp_path / "o").glob("*-sheet.html")).read_text()
    assert "Questions (6 points)" in html
    for points in re.findall(r"\(([\d.]+) points?\)", html):
        assert re.fullmatch(r"\d+(\.\d\d?)?", points), points


def test_small_nets_pack_their_pages_and_footers_hold_together(tmp_path, monkeypatch):
    """The chain's questions go two to a line (one page, not a second page of two rows); the
    solution's marking table follows on rather than taking a page of its own; a long roster name
    leaves "Page 1 of n" on one line."""
    monkeypatch.chdir(tmp_path)
    long_name = "Maximiliane Alexandrina Konstantinopoulou-Wahlberg von Hohenzollern"
    (tmp_path / "r.csv").write_text(f"id,name\ns1,{long_name}\n", encoding="utf-8")
    made = CliRunner().invoke(
        app, ["generate", "--seed", "3", "--preset", "chain", "--roster", "r.csv"]
    )
    assert made.exit_code == 0, made.output
    [sheet] = (tmp_path / "exams" / "chain-3").glob("*-sheet.pdf")
    [solution] = (tmp_path / "exams" / "chain-3").glob("*-solution.pdf")
    assert len(pages_of(sheet)) == 1
    pages = pages_of(solution)
    assert len(pages) == 2 and "Answers for marking" in pages[-1]
    assert "Updated weights and biases, layer 1" in pages[-1]  # on the marking table's page
    for page in [*pages_of(sheet), *pages]:
        assert re.search(r"Page \d of \d", page), page[-300:]


def test_a_name_no_font_can_print_is_named(tmp_path: Path) -> None:
    """A roster name with a character no installed font has would print as a box: the teacher
    is told which student and which character, and what to install."""
    from bpquiz.sheets.glyphs import covered

    if covered() is None:
        pytest.skip("needs fontconfig's fc-list")
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ann Lee\ns2,\U00010000ra Bo\ns3,李小龙\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "5", "--roster", str(roster), "--out", str(tmp_path / "out"),
         "--keys-dir", str(tmp_path / "keys"), "--title", "Quiz \U00013000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "no installed font" in line]
    assert len(warnings) == 2, result.stderr
    assert "U+13000 EGYPTIAN HIEROGLYPH A001) in the title" in warnings[0]
    assert "U+10000 LINEAR B SYLLABLE B008 A) in the name of student s2" in warnings[1]
    assert "fonts-noto-cjk" in warnings[1]


def drawing_layout(svg: str) -> str:
    """A drawing with every number in its texts written as # and its alternative text left out:
    what the variants of a class set must share."""
    svg = re.sub(r' aria-label="[^"]*"', "", svg)
    return re.sub(r">[^<]+<", lambda m: re.sub(r"−?\d+(?:\.\d+)?", "#", m.group(0)), svg)


WEIGHT_LABEL = re.compile(r'<text [^>]*fill="#1f4e8c"[^>]*>([^<]*)</text>')


@pytest.mark.parametrize(
    ("settings", "notation"),
    [(customise(preset), "layered") for preset in sorted(PRESETS)]
    + [(customise("classic"), "textbook"), (customise("classic", layers=[4, 6, 6, 4]), "layered")],
    ids=[*sorted(PRESETS), "classic-textbook", "crowded"],
)
def test_every_variant_of_a_class_set_gets_the_same_drawing(settings, notation) -> None:
    """Weights on the edges as numbers, as symbols or not at all is decided by the network, not by
    one variant's numbers: a class set is fair (in the crowded net no label fits at all)."""
    options = SheetOptions(notation=notation)
    variants = make_variants(settings, 3, 8)
    layouts = {drawing_layout(sheet_context(v, settings, options)["diagram"]) for v in variants}
    assert len(layouts) == 1


def test_the_reviewed_class_set_shows_every_weight_on_its_edge() -> None:
    """softmax, seed 3: K6MRJ's drawing showed symbols on its edges (its own shorter numbers,
    placed first, had left one weight no room), NDXHR's the numbers."""
    settings = customise("softmax")
    for variant in make_variants(settings, 3, 2, exam="softmax-3"):
        labels = WEIGHT_LABEL.findall(sheet_context(variant, settings, SheetOptions())["diagram"])
        assert len(labels) == 15 and all(re.fullmatch(r"−?\d\.?\d*", t) for t in labels), labels
