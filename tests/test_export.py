"""`bpquiz export`: a key's variants as Moodle XML, a QTI 2.1 package and a Canvas package.

These tests read the files back with the standard library; tests/test_lms_clients.py hands the
same files to a real Moodle and to the IMS schemas, where those are installed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bpquiz.api import export, generate_exam
from bpquiz.cli import app
from bpquiz.exercises.draw import customise
from bpquiz.exercises.key import load_key
from bpquiz.lms.moodle import category_path, gap, marks_scale
from bpquiz.lms.question import Box, ExportError, questions

runner = CliRunner()
QTI = "{http://www.imsglobal.org/xsd/imsqti_v2p1}"
QTI12 = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
GAP = re.compile(r"\{(\d+):NUMERICAL:([^{}]*)\}")


def make_key(root: Path, preset: str = "classic", count: int = 3, **overrides) -> Path:
    settings = customise(preset, **overrides)
    exam = generate_exam(
        settings, 7, count, name=f"{preset}-7", keys_dir=root / "keys", out_dir=root / "exams"
    )
    return exam.key


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("export")
    path = make_key(root)
    document = json.loads(path.read_text(encoding="utf-8"))
    return SimpleNamespace(path=path, document=document, variants=document["variants"])


def asked(variant: dict) -> list[dict]:
    return [q for q in variant["quantities"] if q["asked"]]


def test_one_call_writes_every_target(key, tmp_path):
    result = runner.invoke(
        app,
        [
            "export",
            str(key.path),
            "--moodle",
            str(tmp_path / "m.xml"),
            "--qti",
            str(tmp_path / "q.zip"),
            "--canvas",
            str(tmp_path / "c.zip"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.zip", "m.xml", "q.zip"]
    assert "3 variants as Cloze questions in category $course$/top/classic-7" in result.stdout


def test_an_existing_file_is_kept_without_force(key, tmp_path):
    target = tmp_path / "m.xml"
    target.write_text("the teacher's own file")
    result = runner.invoke(app, ["export", str(key.path), "--moodle", str(target)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {target} already exists. Use --force to replace it."
    assert target.read_text() == "the teacher's own file"
    # Nothing else was written either: the check comes before any output.
    other = tmp_path / "q.zip"
    runner.invoke(app, ["export", str(key.path), "--qti", str(other), "--moodle", str(target)])
    assert not other.exists()
    result = runner.invoke(app, ["export", str(key.path), "--moodle", str(target), "--force"])
    assert result.exit_code == 0
    assert target.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give at least one of --moodle FILE.xml"),
        (["--qti", "out.xml"], "--qti writes a .zip file, got out.xml"),
        (["--moodle", "same.xml", "--qti", "same.xml"], "--qti writes a .zip file"),
    ],
)
def test_usage_errors(key, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", str(key.path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_the_same_key_gives_the_same_bytes(key, tmp_path):
    first = export(key.path, qti=tmp_path / "a.zip", canvas=tmp_path / "a-c.zip")
    second = export(key.path, qti=tmp_path / "b.zip", canvas=tmp_path / "b-c.zip")
    assert len(first.written) == len(second.written) == 2
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert (tmp_path / "a-c.zip").read_bytes() == (tmp_path / "b-c.zip").read_bytes()


# --- Moodle -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moodle(key, tmp_path_factory) -> ET.Element:
    path = tmp_path_factory.mktemp("moodle") / "m.xml"
    export(key.path, moodle=path)
    return ET.parse(path).getroot()


def test_moodle_category_then_a_cloze_question_per_variant(key, moodle):
    questions = moodle.findall("question")
    assert [q.get("type") for q in questions] == ["category"] + ["cloze"] * len(key.variants)
    assert questions[0].findtext("category/text") == "$course$/top/classic-7"
    assert questions[0].find("idnumber") is None  # a category idnumber clashes across imports
    names = [q.findtext("name/text") for q in questions[1:]]
    assert names == [f"classic-7 · {v['variant']}" for v in key.variants]


def test_moodle_gaps_carry_the_keys_values_tolerances_and_points(key, moodle):
    for question, variant in zip(moodle.findall("question")[1:], key.variants, strict=True):
        text = question.findtext("questiontext/text")
        assert text.startswith(
            f'<div class="bpquiz">\n<p class="bpquiz-variant">Variant {variant["variant"]} of exam classic-7.</p>'
        )
        gaps = GAP.findall(text)
        expected = asked(variant)
        assert len(gaps) == len(expected)
        for (marks, answers), q in zip(gaps, expected, strict=True):
            assert int(marks) == q["points"]
            last = answers.split("~")[-1]
            value, tol = last.removeprefix("=").split(":")
            assert float(value) == q["value"] and float(tol) == q["tol"]["abs"]
        # Outside the gaps no brace is left for Moodle to misread.
        assert "{" not in GAP.sub("", text)
        image = question.find("questiontext/file")
        assert image.get("name") == "network.svg" and image.get("encoding") == "base64"
        assert '<img src="@@PLUGINFILE@@/network.svg"' in text
        feedback = question.findtext("generalfeedback/text")
        assert f"Worked solution of variant {variant['variant']}" in feedback


def test_moodle_shows_the_rounded_value_as_the_right_answer():
    box = Box("a1_1", "a", 0.43045678, 6e-05, 1.0, "0.4305")
    assert gap(box, 1) == "{1:NUMERICAL:=0.4305:0~=0.43045678:6e-05}"
    exact = Box("z1_1", "z", -0.399, 6e-05, 2.0, "-0.3990")
    assert gap(exact, 1) == "{2:NUMERICAL:=-0.399:6e-05}"
    assert gap(exact, 2) == "{4:NUMERICAL:=-0.399:6e-05}"


def test_moodle_marks_are_made_whole_and_said_so(key, tmp_path):
    document = json.loads(key.path.read_text(encoding="utf-8"))
    for variant in document["variants"]:
        for q in variant["quantities"]:
            q["points"] = 0.5 if q["kind"] == "z" else 1
    halves = tmp_path / "halves.json"
    halves.write_text(json.dumps(document), encoding="utf-8")
    made = questions(load_key(halves))
    assert marks_scale(made) == 2
    result = runner.invoke(app, ["export", str(halves), "--moodle", str(tmp_path / "h.xml")])
    assert result.exit_code == 0
    assert "every gap's marks are the key's points ×2" in result.stderr
    marks = {int(m) for m, _ in GAP.findall((tmp_path / "h.xml").read_text(encoding="utf-8"))}
    assert marks == {1, 2}


def test_moodle_refuses_points_no_small_factor_makes_whole(key, tmp_path):
    document = json.loads(key.path.read_text(encoding="utf-8"))
    document["variants"][0]["quantities"][0]["points"] = 1 / 3
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ExportError, match="take whole marks"):
        export(odd, moodle=tmp_path / "odd.xml")
    assert not (tmp_path / "odd.xml").exists()


def test_category_names_keep_their_slashes():
    assert category_path("week 3/backprop") == "$course$/top/week 3//backprop"


# --- QTI 2.1 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qti(key, tmp_path_factory) -> zipfile.ZipFile:
    path = tmp_path_factory.mktemp("qti") / "q.zip"
    export(key.path, qti=path)
    return zipfile.ZipFile(path)


def test_qti_package_layout(key, qti):
    names = set(qti.namelist())
    assert "imsmanifest.xml" in names and "classic-7-test.xml" in names
    for v in key.variants:
        item = f"classic-7-{v['variant']}"
        assert {f"{item}/{item}.xml", f"{item}/network.svg", f"{item}/bpquiz.css"} <= names
    manifest = ET.fromstring(qti.read("imsmanifest.xml"))
    hrefs = {f.get("href") for f in manifest.iter("{http://www.imsglobal.org/xsd/imscp_v1p1}file")}
    assert hrefs == names - {"imsmanifest.xml"}


def test_qti_items_score_each_quantity_with_the_keys_tolerance(key, qti):
    for v in key.variants:
        item = f"classic-7-{v['variant']}"
        root = ET.fromstring(qti.read(f"{item}/{item}.xml"))
        declared = [d.get("identifier") for d in root.iter(f"{QTI}responseDeclaration")]
        assert declared == [q["id"] for q in asked(v)]
        boxes = [i.get("responseIdentifier") for i in root.iter(f"{QTI}textEntryInteraction")]
        assert boxes == declared
        by_id = {q["id"]: q for q in asked(v)}
        for equal in root.iter(f"{QTI}equal"):
            value, variable = equal.find(f"{QTI}baseValue"), equal.find(f"{QTI}variable")
            q = by_id[variable.get("identifier")]
            assert float(value.text) == q["value"]
            assert equal.get("tolerance") == f"{q['tol']['abs']!r} {q['tol']['abs']!r}"
        maximum = root.find(f"{QTI}outcomeDeclaration[@identifier='MAXSCORE']")
        assert float(maximum.findtext(f"{QTI}defaultValue/{QTI}value")) == sum(
            q["points"] for q in asked(v)
        )


def test_qti_test_picks_one_variant(qti, key):
    test = ET.fromstring(qti.read("classic-7-test.xml"))
    assert test.find(f".//{QTI}selection").get("select") == "1"
    assert len(list(test.iter(f"{QTI}assessmentItemRef"))) == len(key.variants)


# --- Canvas -------------------------------------------------------------------------------------


def test_canvas_a_quiz_per_variant_a_numerical_question_per_quantity(key, tmp_path):
    path = tmp_path / "c.zip"
    export(key.path, canvas=path)
    package = zipfile.ZipFile(path)
    for v in key.variants:
        quiz = f"classic-7-{v['variant']}"
        root = ET.fromstring(package.read(f"{quiz}/{quiz}.xml"))
        items = list(root.iter(f"{QTI12}item"))
        kinds = [i.findtext(f".//{QTI12}fieldentry") for i in items]
        assert kinds == ["text_only_question"] + ["numerical_question"] * len(asked(v))
        for item, q in zip(items[1:], asked(v), strict=True):
            text = item.findtext(f"{QTI12}presentation/{QTI12}material/{QTI12}mattext")
            assert f"[bpquiz classic-7/{v['variant']}/{q['id']}]" in text
            low = float(item.findtext(f".//{QTI12}vargte"))
            high = float(item.findtext(f".//{QTI12}varlte"))
            assert low == pytest.approx(q["value"] - q["tol"]["abs"], abs=1e-15)
            assert high == pytest.approx(q["value"] + q["tol"]["abs"], abs=1e-15)
        assert f"images/{quiz}-network.svg" in package.namelist()


# --- the boxes' order ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["classic", "batch", "softmax", "deep"])
def test_boxes_follow_the_keys_order(preset, tmp_path):
    """A Moodle response lists its boxes as parts 1, 2, …; grading reads them in the key's order."""
    variants = load_key(make_key(tmp_path, preset, count=2))
    for variant, made in zip(variants, questions(variants), strict=True):
        assert [b.id for b in made.boxes] == [q.id for q in variant.asked]


def test_a_layout_out_of_the_keys_order_gets_a_row_per_box(key):
    from bpquiz.lms.question import Part, _in_key_order

    variant = load_key(key.path)[0]
    made = questions([variant])[0]
    first, second = made.parts[0], made.parts[1]
    swapped = (Part(first.title, tuple(reversed(first.rows))), second, *made.parts[2:])
    fixed = _in_key_order(swapped, variant)
    assert [b.id for p in fixed for b in p.boxes] == [q.id for q in variant.asked]
    assert fixed[0].title == first.title
    assert all(len(row) == 1 for p in fixed for row in p.rows)
