"""Fillable PDF sheets: the form as generated, filled in as a PDF reader would, and graded."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject
from typer.testing import CliRunner

from bpquiz.cli import app
from bpquiz.forms import NAME_FIELD, STUDENT_FIELD, VARIANT_FIELD, VARIANT_INFO
from bpquiz.maths.rounding import Mode, Rounding

runner = CliRunner()
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils")


@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Two classic variants, seed 42, fillable: per-student sheets and a class file."""
    root = tmp_path_factory.mktemp("fillable")
    out, keys = root / "out", root / "keys"
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--fillable", "--jobs", "2",
         "--out", str(out), "--keys-dir", str(keys)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    key = json.loads((keys / "classic-42.json").read_text())
    r = key["exam"]["rounding"]
    variants = key["variants"]
    return SimpleNamespace(
        root=root,
        out=out,
        keys=keys,
        key=key,
        codes=[v["variant"] for v in variants],
        asked={v["variant"]: [q for q in v["quantities"] if q["asked"]] for v in variants},
        rule=Rounding(Mode(r["mode"]), r["digits"]),
    )


def sheet(exam, index: int = 0) -> Path:
    return exam.out / f"{exam.codes[index]}-sheet.pdf"


def grade(exam, *paths: Path) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["grade", *map(str, paths), "--keys", str(exam.keys), "--json"])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def fill(source: Path, target: Path, values: dict[str, str]) -> Path:
    """Type values into the fields and save, as a PDF reader does (the file is rewritten)."""
    writer = PdfWriter(clone_from=PdfReader(source))
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    writer.set_need_appearances_writer(True)
    with target.open("wb") as f:
        writer.write(f)
    return target


def answers_of(exam, code: str) -> dict[str, str]:
    """Every asked value rounded as the sheet asks, some typed as people type them, with two
    mistakes and one left blank: every status but invalid (one invalid answer is added)."""
    typed = {q["id"]: exam.rule.format(q["value"]) for q in exam.asked[code]}  # "−0.3990"
    ids = list(typed)
    typed[ids[0]] = typed[ids[0]].replace(".", ",")  # decimal comma
    typed[ids[1]] = " " + typed[ids[1]] + " "
    typed[ids[2]] = "0.5"  # wrong
    typed[ids[3]] = typed[ids[3]][:-1]  # right to fewer digits: wrong, says so
    typed[ids[4]] = ""  # missing
    typed[ids[5]] = "n/a"  # invalid
    return typed


# --- the form as generated ---------------------------------------------------------------------


def test_every_answer_box_is_a_field_named_by_its_id(exam):
    for code in exam.codes:
        reader = PdfReader(exam.out / f"{code}-sheet.pdf")
        fields = reader.get_fields()
        ids = [q["id"] for q in exam.asked[code]]
        assert set(fields) == {*ids, VARIANT_FIELD, STUDENT_FIELD, NAME_FIELD}
        assert all(fields[i].get("/FT") == "/Tx" and fields[i].get("/V") == "" for i in ids)
        # Unique within the file: one widget per field name, across all pages.
        widgets = [a.get_object()["/T"] for page in reader.pages for a in page.get("/Annots", [])]
        assert sorted(widgets) == sorted(fields)
        # The file says which variant it is, twice: a read-only hidden field, and metadata.
        variant = fields[VARIANT_FIELD]
        assert variant["/V"] == code and variant["/Ff"] & 1
        widget = next(
            a.get_object()
            for page in reader.pages
            for a in page["/Annots"]
            if a.get_object()["/T"] == VARIANT_FIELD
        )
        assert widget["/F"] & 2  # hidden: not shown, not printed
        assert reader.metadata[VARIANT_INFO] == code


def test_solutions_and_class_files_have_no_fields(exam):
    """Students fill their own CODE-sheet.pdf; in one class file their same-named fields would
    be one field, so the class file is for printing only."""
    for name in (
        "classic-42-sheets.pdf",
        "classic-42-solutions.pdf",
        f"{exam.codes[0]}-solution.pdf",
    ):
        reader = PdfReader(exam.out / name)
        assert not reader.get_fields(), name
        assert "/AcroForm" not in reader.trailer["/Root"]
    # …and stays small: the fields' font (embedded whole) is not in it.
    assert (exam.out / "classic-42-sheets.pdf").stat().st_size < 200_000


def pngs(pdf: Path, folder: Path) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(folder / "p")], check=True)
    return [p.read_bytes() for p in sorted(folder.glob("p-*.png"))]


def test_the_printed_look_stays_the_same(exam, tmp_path):
    plain = tmp_path / "plain"
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--jobs", "2",
         "--out", str(plain), "--keys-dir", str(tmp_path / "keys")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in (f"{exam.codes[0]}-sheet.pdf", "classic-42-sheets.pdf"):
        printed = pngs(plain / name, tmp_path / f"plain-{name}")
        assert len(printed) >= 2
        assert pngs(exam.out / name, tmp_path / f"fillable-{name}") == printed, name
    # A filled sheet prints what was typed in its boxes (pdftoppm draws the fields' values).
    filled = fill(sheet(exam), tmp_path / "f.pdf", {exam.asked[exam.codes[0]][0]["id"]: "0.4321"})
    assert pngs(filled, tmp_path / "filled")[0] != printed[0]


# --- grading filled sheets ---------------------------------------------------------------------


def test_a_filled_sheet_grades_exactly_like_the_same_answers_in_json(exam, tmp_path):
    code = exam.codes[0]
    typed = answers_of(exam, code)
    pdf = fill(sheet(exam), tmp_path / "ada.pdf", {**typed, STUDENT_FIELD: "s1234"})
    template = json.loads((exam.out / f"{code}-answers.json").read_text())
    template["student"] = "s1234"
    template["answers"] = {k: (v or None) for k, v in typed.items()}
    as_json = tmp_path / "ada.json"
    as_json.write_text(json.dumps(template, ensure_ascii=False), encoding="utf-8")

    status, from_pdf, _ = grade(exam, pdf)
    assert status == 0 and from_pdf["errors"] == []
    assert grade(exam, as_json)[1] == from_pdf
    (result,) = from_pdf["results"]
    statuses = [item["status"] for item in result["items"]]
    assert statuses[:6] == ["correct", "correct", "wrong", "wrong", "missing", "invalid"]
    assert set(statuses[6:]) == {"correct"}
    assert result["student"] == "s1234" and result["variant"] == code
    assert "right to 3 decimal places" in result["items"][3]["feedback"]


def test_blank_student_id_falls_back_to_the_file_name(exam, tmp_path):
    pdf = fill(sheet(exam, 1), tmp_path / "s99.pdf", {NAME_FIELD: "Bo"})
    status, doc, _ = grade(exam, pdf)
    assert status == 0
    (result,) = doc["results"]
    assert result["student"] == "s99" and result["score"] == 0
    assert {i["status"] for i in result["items"]} == {"missing"}


def encrypted(source: Path, target: Path, password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password="teacher", algorithm="AES-128")
    with target.open("wb") as f:
        writer.write(f)
    return target


def test_a_batch_of_pdfs_survives_every_kind_of_broken_one(exam, tmp_path):
    code = exam.codes[0]
    folder = tmp_path / "class"
    folder.mkdir()
    typed = {q["id"]: exam.rule.format(q["value"]) for q in exam.asked[code]}
    good = fill(sheet(exam), folder / "good.pdf", {**typed, STUDENT_FIELD: "g1"})
    (folder / "g2.json").write_text(
        json.dumps({"format": "bpquiz-answers/1", "variant": exam.codes[1], "answers": {}})
    )
    # Opens without a password (a viewer's permissions-only encryption): graded.
    g3 = fill(good, tmp_path / "g3.pdf", {STUDENT_FIELD: "g3"})
    encrypted(g3, folder / "permissions.pdf", "")

    encrypted(good, folder / "password.pdf", "secret")
    data = good.read_bytes()
    (folder / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    (folder / "text.pdf").write_text("my answers: 0.5933, 0.1")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "huge.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * (10 << 20))
    shutil.copy(exam.out / f"{code}-solution.pdf", folder / "solution.pdf")
    shutil.copy(exam.out / "classic-42-sheets.pdf", folder / "class-file.pdf")

    def edited(name: str, change) -> None:
        writer = PdfWriter(clone_from=PdfReader(good))
        change(writer)
        with (folder / name).open("wb") as f:
            writer.write(f)

    def other_exam(writer: PdfWriter) -> None:
        writer.update_page_form_field_values(writer.pages[0], {VARIANT_FIELD: "ZZZZZ"})
        writer.add_metadata({VARIANT_INFO: "ZZZZZ"})

    def flattened(writer: PdfWriter) -> None:
        writer.remove_annotations(subtypes="/Widget")
        del writer.root_object[NameObject("/AcroForm")]

    def partly_gone(writer: PdfWriter) -> None:
        # What a damaged file pypdf half-repairs looks like: some fields are not there at all.
        form = writer.root_object["/AcroForm"]
        fields = form["/Fields"]
        keep = [f for f in fields if not f.get_object()["/T"].startswith("w_new")]
        form[NameObject("/Fields")] = type(fields)(keep)

    edited("other-exam.pdf", other_exam)
    edited("two-codes.pdf", lambda w: w.add_metadata({VARIANT_INFO: exam.codes[1]}))
    edited("flattened.pdf", flattened)
    edited("partly-gone.pdf", partly_gone)

    status, doc, stderr = grade(exam, folder)
    assert status == 1
    scores = {r["student"]: r["score"] for r in doc["results"]}
    full = float(len(typed))
    assert scores == {"g1": full, "g2": 0.0, "g3": full}
    errors = {Path(e["file"]).name: e["error"] for e in doc["errors"]}
    expected = {
        "password.pdf": "protected by a password",
        "truncated.pdf": "",  # damaged: unreadable, or fields missing (either is an error)
        "garbage.pdf": "damaged PDF",
        "text.pdf": "not a PDF file",
        "empty.pdf": "empty file",
        "huge.pdf": "larger than 10 MiB",
        "other-exam.pdf": 'unknown variant "ZZZZZ"',
        "two-codes.pdf": "two different variant codes",
        "flattened.pdf": "no answer fields",
        "partly-gone.pdf": "the form has no field for w_new",
    }
    assert set(errors) == set(expected)
    for name, reason in expected.items():
        assert reason in errors[name], (name, errors[name])
        assert name in stderr
    assert errors["truncated.pdf"].startswith(("damaged PDF", "the form has no field", "no bpquiz"))
    # bpquiz's own documents among the sheets (a worked solution, a class file) are notes.
    notes = {Path(n["file"]).name: n["note"] for n in doc["notes"]}
    assert set(notes) == {"solution.pdf", "class-file.pdf"}
    assert all("a document bpquiz wrote" in note for note in notes.values())


def test_grading_json_never_imports_pypdf(exam, tmp_path):
    answers = exam.out / f"{exam.codes[0]}-answers.json"
    code = (
        "import sys; from typer.testing import CliRunner; from bpquiz.cli import app; "
        f"r = CliRunner().invoke(app, ['grade', {str(answers)!r}, '--keys', {str(exam.keys)!r}]); "
        "print(r.exit_code, 'pypdf' in sys.modules, 'weasyprint' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False", "False"]


def test_generate_help_mentions_fillable():
    result = runner.invoke(app, ["generate", "--help"])
    assert "--fillable" in result.stdout


def test_reading_checks_what_is_not_a_form_at_all():
    from bpquiz.grading.readers.pdf_form import parse_pdf_answers
    from bpquiz.grading.readers.sheet import AnswersError

    blank = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(blank)
    with pytest.raises(AnswersError, match="no bpquiz answer fields"):
        parse_pdf_answers(blank.getvalue(), "blank.pdf")
