"""Laying a class set out once and stamping each variant's texts in (bpquiz.sheets.stamping.stamp, bpquiz.sheets.stamping.cache).

The stamped files are checked against what they must say (every text of the variant, read back by
pdftotext), against the whole rendering of the same HTML, and for the places where stamping must
give way to whole rendering.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from pdfua import check as check_tagged
from pypdf import PdfReader
from typer.testing import CliRunner

from bpquiz.cli import app
from bpquiz.exercises.draw import PRESETS, customise, make_variants
from bpquiz.maths.notation import make_notation
from bpquiz.sheets.context import render_html
from bpquiz.sheets.options import DOCUMENTS, SheetOptions
from bpquiz.sheets.pdf import html_to_pdf
from bpquiz.sheets.stamping import cache
from bpquiz.sheets.stamping.batch import stamped_documents
from bpquiz.sheets.stamping.fonts import _to_unicode, _widths
from bpquiz.sheets.stamping.layout import SkeletonSpec
from bpquiz.sheets.stamping.slots import Slots, extra_chars, fill_reserves, reserves_for, simple
from bpquiz.sheets.templates import template_roots
from bpquiz.sheets.variable import room_for

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
runner = CliRunner()


def words(pdf: bytes, tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / name
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split()


def bbox_words(pdf: bytes, tmp_path: Path) -> list[tuple[str, int, float, float, float]]:
    """(word, page, xMin, xMax, yMax) of every word, from pdftotext -bbox."""
    path = tmp_path / "bbox.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    out = []
    for page, body in enumerate(html.split("<page ")[1:]):
        for x0, x1, y1, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            body,
        ):
            out.append((word, page, float(x0), float(x1), float(y1)))
    return out


# --- reserves: the same for every seed, and never narrower than the text -----------------------


@pytest.mark.parametrize(
    ("text", "kind", "room"),
    [
        ("0.45", "number", "−0.00"),
        ("1", "number", "−0.00"),
        ("−0.3990", "number", "−0.0000"),
        ("12.5", "number", "−00.00"),
        (
            "= 1·(−0.45) + 0.9·0.08 = −0.3990",
            "working",
            "= (−0.00)·(−0.00) + (−0.00)·(−0.00) = (−0.0000)",
        ),
        ("= σ(−0.3990) = 0.4016", "working", "= σ(−0.0000) = (−0.0000)"),
        ("= σ(0.3320) = 0.5822", "working", "= σ(−0.0000) = (−0.0000)"),
        ("= (0.1·0.6 + 0.2)·0.5", "working", "= ((−0.00)·(−0.00) + (−0.00))·(−0.00)"),
        ("N6HPN", "code", "WWWWW"),
        ("Zoë", "name", "Zoë"),
        ("(0.1325 from unrounded values)", "open", ""),
    ],
)
def test_room_for(text: str, kind: str, room: str) -> None:
    assert room_for(text, kind) == room


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_skeleton_does_not_depend_on_the_seed(preset: str) -> None:
    """What the cache is keyed on is the same for every seed (given the same structure: a batch
    preset draws its batch size, so its skeletons are grouped by that)."""
    settings = customise(preset)
    seen: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for seed in range(40, 52):
        variant = make_variants(settings, seed, 1)[0]
        for document in DOCUMENTS:
            slots = Slots()
            html = render_html(document, variant, settings, SheetOptions(), slots)
            reserves = reserves_for([slots])
            chars = extra_chars(slots.texts + reserves + [d.text for d in slots.drawing])
            key = (document, variant.problem.examples)
            seen.setdefault(key, set()).add((fill_reserves(html, reserves), chars))
    assert all(len(skeletons) == 1 for skeletons in seen.values()), {
        k: len(v) for k, v in seen.items()
    }


def test_simple_text_needs_no_shaping() -> None:
    assert simple("= (−0.45)·0.9 + ½ → z⁽¹⁾₁ Zoë Ångström Łukasiewicz 李小龙")
    assert not simple("Zoe\u0308")  # a combining mark
    assert not simple("سارة")  # right to left, joined
    assert not simple("देव")  # Devanagari needs shaping


def test_pdf_font_tables_are_read_in_both_forms() -> None:
    cmap = (
        b"2 beginbfchar\n<0013> <0030>\n<0c9d> <2212>\nendbfchar\n"
        b"1 beginbfrange\n<0024> <0026> <0041>\nendbfrange\n"
    )
    assert _to_unicode(cmap) == {0x13: "0", 0xC9D: "−", 0x24: "A", 0x25: "B", 0x26: "C"}
    assert _widths([17, [318], 19, [636, 637], 30, 32, 500]) == {
        17: 318.0,
        19: 636.0,
        20: 637.0,
        30: 500.0,
        31: 500.0,
        32: 500.0,
    }


# --- stamped files say what the whole rendering says ----------------------------------------


@pytest.fixture(scope="module")
def classic_set() -> dict:
    settings = customise("classic")
    variants = make_variants(settings, 7, 4)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    return {"settings": settings, "variants": variants, "stamped": stamped}


def test_every_classic_variant_is_stamped(classic_set: dict) -> None:
    stamped = classic_set["stamped"]
    assert stamped.rendered_whole == 0
    assert set(stamped.class_files) == set(DOCUMENTS) and stamped.notes == []


def test_stamped_files_hold_the_same_words_as_whole_rendering(classic_set, tmp_path) -> None:
    """Every text of the variant arrives, and nothing else: the words of a stamped file are those
    of the same variant rendered whole by WeasyPrint."""
    roots = template_roots(None)
    settings = classic_set["settings"]
    for variant, (sheet, solution) in zip(
        classic_set["variants"],
        zip(*[iter(classic_set["stamped"].documents)] * 2, strict=True),
        strict=True,
    ):
        for rendered in (sheet, solution):
            whole, _ = html_to_pdf(
                render_html(rendered.document, variant, settings, SheetOptions()), roots
            )
            name = f"{variant.code}-{rendered.document}"
            assert Counter(words(rendered.data, tmp_path, name + "-s.pdf")) == Counter(
                words(whole, tmp_path, name + "-w.pdf")
            ), name


def test_numbers_in_a_weight_table_column_are_right_aligned(classic_set, tmp_path) -> None:
    variant = classic_set["variants"][0]
    sheet = classic_set["stamped"].documents[0]
    givens = variant.solution.givens()
    found = bbox_words(sheet.data, tmp_path)
    from bpquiz.maths.functions import number_text

    # Weight W(2): a column per output neuron, a row per hidden neuron. The table comes after the
    # diagram, so each number's last occurrence on page 1 is its table cell.
    for j in (1, 2):
        rights = []
        for i in (1, 2, 3):
            text = number_text(givens[f"w2_{i}_{j}"])
            hits = [w for w in found if w[0] == text and w[1] == 0]
            rights.append(max(hits, key=lambda w: w[4])[3])
        assert max(rights) - min(rights) < 0.6, rights


def test_the_class_files_hold_every_student_in_order(classic_set, tmp_path) -> None:
    stamped = classic_set["stamped"]
    for document in DOCUMENTS:
        path = tmp_path / f"class-{document}.pdf"
        path.write_bytes(stamped.class_files[document])
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        pages = text.split("\f")[:-1]
        per_student = [d.pages for d in stamped.documents if d.document == document]
        assert len(pages) == sum(per_student)
        first_pages = [sum(per_student[:k]) for k in range(len(per_student))]
        for variant, page in zip(classic_set["variants"], first_pages, strict=True):
            assert f"Variant {variant.code}" in pages[page]
            assert f"Page 1 of {per_student[0]}" in pages[page]


def _xref_offsets(data: bytes) -> dict[int, int]:
    """The offsets of the objects a file's cross-reference stream says are written whole."""
    import struct
    import zlib

    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    head, rest = data[start:].split(b"stream\n", 1)
    length = re.search(rb"/Length (\d+)", head)
    assert length and re.search(rb"/W \[1 4 2\]", head)
    stream = zlib.decompress(rest[: int(length.group(1))])
    entries = [struct.unpack(">BIH", stream[k : k + 7]) for k in range(0, len(stream), 7)]
    return {n: offset for n, (kind, offset, _) in enumerate(entries) if kind == 1}


@pytest.mark.parametrize("which", ["document", "class file"])
def test_a_stamped_file_is_a_well_formed_pdf(classic_set, which, tmp_path) -> None:
    """Each object the cross-reference stream points at starts where it says, and qpdf finds
    nothing wrong."""
    stamped = classic_set["stamped"]
    data = stamped.documents[1].data if which == "document" else stamped.class_files["solution"]
    for number, offset in _xref_offsets(data).items():
        assert data[offset:].startswith(b"%d 0 obj" % number), number
    assert PdfReader(io.BytesIO(data), strict=True).pages
    if shutil.which("qpdf"):
        path = tmp_path / "file.pdf"
        path.write_bytes(data)
        checked = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "No syntax or stream encoding errors found" in checked.stdout


def test_stamped_files_and_class_files_are_tagged_throughout(classic_set) -> None:
    """PDF/UA's structure, checked (tests/pdfua.py): every text in marked content that the
    structure tree reaches (or an artifact: the page margins), a language, the title the same
    in the information and the XMP metadata, and the drawing's alternative text."""
    stamped = classic_set["stamped"]
    for data in [*(d.data for d in stamped.documents[:2]), *stamped.class_files.values()]:
        assert check_tagged(data) == []


def test_each_stamped_number_is_read_right_after_its_label(classic_set, tmp_path) -> None:
    """The structure tree reads each worked line's label, then its stamped numbers (in the
    slot's marked content, under the line's P), and pypdf reads a table's numbers with it."""
    variant = classic_set["variants"][0]
    solution = classic_set["stamped"].documents[1]
    path = tmp_path / "solution.pdf"
    path.write_bytes(solution.data)
    tree = subprocess.run(
        ["pdfinfo", "-struct-text", str(path)], check=True, capture_output=True, text=True
    ).stdout
    settings = classic_set["settings"]
    step = variant.solution.step("z1_1", make_notation("layered", 2, 1), settings.rounding)
    label = f'"{step.symbol} = {step.formula}"'
    assert label in tree
    after = tree[tree.index(label) :]
    assert after.index(step.result) < after.index('"z⁽¹⁾₂ =')
    sheet = tmp_path / "sheet.pdf"
    sheet.write_bytes(classic_set["stamped"].documents[0].data)
    text = PdfReader(sheet).pages[0].extract_text()
    from bpquiz.maths.functions import number_text

    x1 = number_text(variant.solution.givens()["x_1"])
    assert re.search(rf"x₁ x₂\s+{re.escape(x1)} ", text), text[:800]
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    assert "Tagged:          yes" in info.stdout


def test_the_drawing_is_described_with_its_own_numbers(classic_set) -> None:
    """The drawing's alternative text is the variant's network in words, weights included."""
    variant = classic_set["variants"][1]
    sheet = PdfReader(io.BytesIO(classic_set["stamped"].documents[2].data))
    alts = [
        str(obj["/Alt"])
        for n in range(1, int(sheet.trailer["/Size"]))
        if isinstance(obj := _object(sheet, n), dict) and obj.get("/S") == "/Figure"
    ]
    from bpquiz.maths.functions import number_text

    givens = variant.solution.givens()
    assert len(alts) == 1 and alts[0].startswith("Network diagram: 2 inputs")
    assert f"W⁽¹⁾₁₂ = {number_text(givens['w1_1_2'])}" in alts[0]
    assert f"x₂ = {number_text(givens['x_2'])}" in alts[0]


def _object(reader: PdfReader, number: int) -> object:
    try:
        return reader.get_object(number)
    except Exception:
        return None


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"classic"}))
def test_every_preset_is_stamped_in_both_notations(preset: str) -> None:
    settings = customise(preset)
    variants = make_variants(settings, 3, 3)
    notations = ["layered"] + (["textbook"] if variants[0].problem.depth == 2 else [])
    for notation in notations:
        stamped = stamped_documents(variants, settings, SheetOptions(notation=notation), jobs=2)
        assert stamped.rendered_whole == 0, (preset, notation)


def test_a_crowded_diagram_stamps_no_stray_weights(tmp_path: Path) -> None:
    """When the weights do not all fit on their edges, none is written on the drawing (a review
    found the ones placed before the first that did not fit stamped loose over the network)."""
    settings = customise("classic", layers=[4, 6, 6, 4])
    variants = make_variants(settings, 3, 2)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    assert stamped.rendered_whole == 0
    roots = template_roots(None)
    whole, _ = html_to_pdf(render_html("sheet", variants[0], settings, SheetOptions()), roots)
    assert Counter(words(stamped.documents[0].data, tmp_path, "s.pdf")) == Counter(
        words(whole, tmp_path, "w.pdf")
    )


def test_the_variant_box_reads_variant_and_code_on_one_line(classic_set, tmp_path) -> None:
    for rendered, variant in zip(
        classic_set["stamped"].documents,
        [v for v in classic_set["variants"] for _ in DOCUMENTS],
        strict=True,
    ):
        lines = [
            line.split()
            for line in subprocess.run(
                ["pdftotext", "-layout", "-", "-"],
                input=rendered.data,
                check=True,
                capture_output=True,
            )
            .stdout.decode()
            .splitlines()
        ]
        # The page header and the box: "Variant CODE" twice on the first page, once on others.
        together = sum(
            1
            for ws in lines
            for k in range(len(ws) - 1)
            if ws[k : k + 2] == ["Variant", variant.code]
        )
        assert together == rendered.pages + 1, rendered.document


# --- where stamping gives way ----------------------------------------------------------------


def test_a_name_that_needs_shaping_is_rendered_whole(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ann Lee\ns2,Zoe\u0308 Smith\ns3,Bo\n", encoding="utf-8")
    settings = customise("classic")
    from bpquiz.exercises.roster import load_roster

    students = load_roster(roster)
    variants = make_variants(settings, 5, 3, students=students)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    assert stamped.rendered_whole == 2  # Zoë's sheet and solution
    assert "sheet" not in stamped.class_files  # joined from the students' files instead
    for rendered, variant in zip(stamped.documents[::2], variants, strict=True):
        text = " ".join(words(rendered.data, tmp_path, f"{variant.code}.pdf"))
        assert variant.student["name"].split()[0][:2] in text


def test_a_sheet_rendered_whole_draws_the_weights_as_the_stamped_ones(tmp_path: Path) -> None:
    """softmax, seed 3: the first variant's drawing, laid out by its own numbers' widths, once had
    no room for one weight's number, so rendered whole (here for a name that needs shaping) it
    showed symbols on every edge, while its stamped classmate showed the numbers."""
    from bpquiz.maths.functions import number_text
    from bpquiz.maths.ids import weight_id

    settings = customise("softmax")
    students = [{"id": "s1", "name": "سارة أحمد"}, {"id": "s2", "name": "Ben Ng"}]
    variants = make_variants(settings, 3, 2, students=students, exam="softmax-3")
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    assert stamped.rendered_whole == 2  # the first student's sheet and solution
    for rendered, variant in zip(stamped.documents[::2], variants, strict=True):
        found = Counter(words(rendered.data, tmp_path, f"{variant.code}.pdf"))
        assert not [w for w in found if re.fullmatch(r"W⁽\d⁾..", w)], variant.code
        p, givens = variant.problem, variant.solution.givens()
        weights = [
            number_text(givens[weight_id("w", l, i, j)])
            for l in range(1, p.depth + 1)
            for i in range(1, p.layers[l - 1] + 1)
            for j in range(1, p.layers[l] + 1)
        ]
        for weight, times in Counter(weights).items():  # in its table and on its edge
            assert found[weight] >= 2 * times, (variant.code, weight)


def test_a_name_too_long_for_its_field_is_rendered_whole(tmp_path: Path) -> None:
    """A name wider than its field would run past the line; rendered whole, it wraps."""
    long = "Dr. Maximilian Alexander von Hohenzollern-Sigmaringen-Hechingen"
    settings = customise("classic")
    students = [{"id": "s1", "name": "Ann Lee"}, {"id": "s2", "name": long}]
    variants = make_variants(settings, 5, 2, students=students)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    assert stamped.rendered_whole == 2
    assert "Hechingen" in " ".join(words(stamped.documents[2].data, tmp_path, "long.pdf"))


def test_a_very_long_name_leaves_the_others_page_footers_alone(tmp_path: Path) -> None:
    """Room is reserved for names up to a length; a longer one is rendered whole (it wraps)."""
    long = " ".join(["Abcdefgh"] * 14)
    settings = customise("classic")
    students = [{"id": "s1", "name": "Ann Lee"}, {"id": "s2", "name": long}]
    variants = make_variants(settings, 7, 2, students=students)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=2)
    assert stamped.rendered_whole == 2
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"],
        input=stamped.documents[0].data,
        check=True,
        capture_output=True,
    ).stdout.decode()
    assert "Page 1 of 2" in text and "Page 2 of 2" in text


def test_templates_that_copy_a_slot_elsewhere_are_rendered_whole(tmp_path: Path) -> None:
    """A teacher's template that copies the variant into the page margin with string-set (as the
    templates once did) cannot be stamped: every document is rendered whole, and right."""
    folder = tmp_path / "templates"
    result = runner.invoke(app, ["templates", str(folder)])
    assert result.exit_code == 0, result.output
    css = folder / "bpquiz.css"
    css.write_text(
        css.read_text()
        + "\n.exam-header td.variant { string-set: copied content(); }\n"
        + "@page { @top-center { content: string(copied); } }\n"
    )
    settings = customise("classic")
    variants = make_variants(settings, 5, 2)
    stamped = stamped_documents(variants, settings, SheetOptions(templates=folder), jobs=2)
    assert stamped.rendered_whole == 4
    text = " ".join(words(stamped.documents[0].data, tmp_path, "copied.pdf"))
    assert text.count(variants[0].code) >= 3


# --- the cache -------------------------------------------------------------------------------


def skeletons(cache_folder: Path) -> list[Path]:
    return [p for p in cache_folder.iterdir() if p.name != "jinja"]


def generate(out: Path, *more: str) -> None:
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--out", str(out),
         "--keys-dir", str(out / "keys"), *more],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def pdf_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.pdf"))}


def test_cached_skeletons_give_the_same_bytes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "cold")
    assert len(skeletons(tmp_path / "cache")) == 2  # sheet and solution
    generate(tmp_path / "warm")
    monkeypatch.setenv("BPQUIZ_CACHE", "off")
    generate(tmp_path / "off")
    cold = pdf_files(tmp_path / "cold")
    assert len(cold) == 6
    assert cold == pdf_files(tmp_path / "warm") == pdf_files(tmp_path / "off")


def test_a_damaged_cache_entry_is_made_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "first")
    for meta in (tmp_path / "cache").glob("*/meta.json"):
        meta.write_text("{not json")
    generate(tmp_path / "second")
    assert pdf_files(tmp_path / "first") == pdf_files(tmp_path / "second")
    for meta in (tmp_path / "cache").glob("*/meta.json"):
        json.loads(meta.read_text())


def test_a_cache_entry_with_a_changed_file_is_made_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "first")
    entries = skeletons(tmp_path / "cache")
    # Swap the two skeletons' prepared heads: each entry's files still parse.
    a, b = (entry / "template.head" for entry in entries)
    a_bytes = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(a_bytes)
    generate(tmp_path / "second")
    assert pdf_files(tmp_path / "first") == pdf_files(tmp_path / "second")


def test_a_cache_entry_found_under_another_name_is_made_again(tmp_path, monkeypatch) -> None:
    """Swapped whole entries (each consistent in itself) are not used for each other."""
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    generate(tmp_path / "first")
    a, b = skeletons(tmp_path / "cache")
    a.rename(tmp_path / "cache" / "swap")
    b.rename(a)
    (tmp_path / "cache" / "swap").rename(b)
    generate(tmp_path / "second")
    assert pdf_files(tmp_path / "first") == pdf_files(tmp_path / "second")


def test_a_font_copied_into_a_font_folder_changes_the_key(tmp_path, monkeypatch) -> None:
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    monkeypatch.setattr(cache, "FONT_FOLDERS", (fonts,))
    before = cache.key(SkeletonSpec("<html>", (), "", False, frozenset()))
    assert cache.key(SkeletonSpec("<html>", (), "", False, frozenset())) == before
    (fonts / "new.ttf").write_bytes(b"font")
    os.utime(fonts, ns=(0, 10**18))  # however coarse the file system's clock
    assert cache.key(SkeletonSpec("<html>", (), "", False, frozenset())) != before


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BPQUIZ_CACHE", str(blocker / "cache"))
    generate(tmp_path / "out")
    assert len(pdf_files(tmp_path / "out")) == 6


def test_edited_templates_get_skeletons_of_their_own(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "templates"
    assert runner.invoke(app, ["templates", str(folder)]).exit_code == 0
    generate(tmp_path / "a", "--templates", str(folder))
    css = folder / "bpquiz.css"
    css.write_text(css.read_text().replace("--body-size: 9.5pt;", "--body-size: 10pt;"))
    generate(tmp_path / "b", "--templates", str(folder))
    assert len(skeletons(tmp_path / "cache")) == 4
    assert pdf_files(tmp_path / "a") != pdf_files(tmp_path / "b")


def test_the_cache_keeps_the_most_recent_entries(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BPQUIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "KEEP", 2)
    for title in ("One", "Two"):
        generate(tmp_path / title, "--title", title)
    assert len(skeletons(tmp_path / "cache")) == 2


# --- any failure falls back to whole rendering, and says so ------------------------------------


def test_an_edited_template_that_filters_a_slot_is_rendered_whole(tmp_path: Path) -> None:
    """`{{ code|lower }}` cannot be laid out once (a slot is not its text): the documents are
    rendered whole, right, and the CLI says how many and why in one line."""
    folder = tmp_path / "templates"
    assert runner.invoke(app, ["templates", str(folder)]).exit_code == 0
    base = folder / "base.html"
    base.write_text(
        base.read_text().replace(
            '<td class="variant">Variant <span class="code">{{ code }}</span>',
            '<td class="variant">Variant <span class="code">{{ code|lower }}</span>',
        )
    )
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--templates", str(folder),
         "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert "4 documents rendered whole, not stamped" in line and "TypeError" in line
    code = json.loads(next((tmp_path / "keys").glob("*.json")).read_text())["variants"][0]
    text = " ".join(words((tmp_path / "out" / f"{code['variant']}-sheet.pdf").read_bytes(),
                          tmp_path, "lower.pdf"))  # fmt: skip
    assert code["variant"].lower() in text


@pytest.mark.parametrize("where", ["layout", "stamp"])
def test_any_failure_in_the_speed_layer_renders_whole(where: str, monkeypatch) -> None:
    """A library that changed under the speed layer breaks it in ways no one foresaw: whatever
    it raises, each document is rendered whole instead, and the reason is counted."""
    from bpquiz.sheets.stamping import batch

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'PageBox' object has no attribute 'children'")

    monkeypatch.setenv("BPQUIZ_CACHE", "off")
    monkeypatch.setattr(batch, "build_skeleton" if where == "layout" else "page_ops", broken)
    settings = customise("classic")
    variants = make_variants(settings, 5, 2)
    stamped = stamped_documents(variants, settings, SheetOptions(), jobs=1)
    assert stamped.rendered_whole == 4
    [(reason, count)] = stamped.whole.items()
    assert count == 4 and "AttributeError: 'PageBox' object" in reason
    assert all(d.data.startswith(b"%PDF") for d in stamped.documents)


def test_a_class_file_joined_around_a_document_rendered_whole_is_tagged(tmp_path: Path) -> None:
    """Where one student's document needs whole rendering, the class file is joined from the
    students' files: tagged too (each student's structure a Part), each on fresh paper."""
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ann Lee\ns2,Zoe\u0308 Smith\ns3,Bo\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["generate", "--seed", "5", "--roster", str(roster), "--duplex", "--name", "mid",
         "--out", str(tmp_path / "out"), "--keys-dir", str(tmp_path / "keys")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reason = "'Zoe\u0308 Smith' needs text shaping"
    assert f"Warning: 2 documents rendered whole, not stamped: {reason}" in result.stderr
    for name in ("mid-sheets.pdf", "mid-solutions.pdf"):
        data = (tmp_path / "out" / name).read_bytes()
        assert check_tagged(data) == [], name
        parts = subprocess.run(
            ["pdfinfo", "-struct", str(tmp_path / "out" / name)], capture_output=True, text=True
        ).stdout
        assert parts.count("\n  Part") == 3


MEMORY = """
import resource, sys, tempfile
from pathlib import Path
from bpquiz.exercises.draw import customise, make_variants
from bpquiz.sheets.render import SheetRequest, render_exam
settings = customise("classic")
variants = make_variants(settings, 42, int(sys.argv[1]))
with open("/proc/self/statm") as statm:  # resident pages now: the variants held
    before = int(statm.read().split()[1]) * resource.getpagesize() // 1024
with tempfile.TemporaryDirectory() as out:
    files = render_exam(variants, settings, SheetRequest(jobs=2), Path(out), "class")
    assert files.class_sheets and files.class_sheets.stat().st_size > 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
def test_memory_does_not_grow_with_the_class(tmp_path: Path) -> None:
    """Class files are written as their copies come and every file as it is stamped: the main
    process keeps a few numbers per student, and what it adds while rendering 200 students is
    what it adds for 40 (the variants themselves, drawn before, are not counted). Before, it kept
    every file and copy: ~430 kB a student, 69 MB more for these 160."""
    import sys

    env = {**os.environ, "BPQUIZ_CACHE": str(tmp_path / "cache")}

    def added_kb(count: int) -> int:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY, str(count)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(done.stdout.split()[-1])

    added_kb(200)  # lays the skeletons out, and keeps them
    small, large = added_kb(40), added_kb(200)
    assert large < small + 8_000, (small, large)  # kB: measured 0.7 MB more (40 kB a student)


def test_a_stamped_file_embeds_each_font_once(classic_set) -> None:
    """The font pages are written with the skeleton, so a font is embedded once, subset for the
    skeleton's text and every stamped text alike (before, each came twice)."""
    for rendered in classic_set["stamped"].documents[:2]:
        reader = PdfReader(io.BytesIO(rendered.data))
        names = [
            str(obj["/FontName"])
            for n in range(1, int(reader.trailer["/Size"]))
            if isinstance(obj := _object(reader, n), dict) and obj.get("/Type") == "/FontDescriptor"
        ]
        assert names and len(names) == len(set(names)), names
