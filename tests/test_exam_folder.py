"""Grading the exam's own folder: students' files sit beside what `generate` wrote (solutions,
class files, students.csv, the blank templates of every student), and only the students' work is
graded; bpquiz's own documents and blank copies are notes, never errors or extra students."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from bpquiz.cli import app

runner = CliRunner()

ROSTER = (
    "id,name,email\n"
    "s1,Ada Lovelace,ada@example.com\n"
    "s2,Alan Turing,alan@example.com\n"
    "s3,Grace Hopper,grace@example.com\n"
)


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    """A fillable roster exam of three students; s1 and s2 filled in their answers file (s1 all
    right, s2 the first half), s3 handed in nothing."""
    root = tmp_path_factory.mktemp("exam")
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    made = runner.invoke(
        app,
        [
            "generate", "--seed", "4", "--roster", str(root / "roster.csv"), "--fillable",
            "--name", "mid", "--keys-dir", str(root / "keys"), "--out", str(root / "mid"),
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    key = json.loads((root / "keys" / "mid.json").read_text(encoding="utf-8"))
    values = {
        v["student"]["id"]: {q["id"]: q["value"] for q in v["quantities"]} for v in key["variants"]
    }
    for path in sorted((root / "mid").glob("*-answers.json")):
        answers = json.loads(path.read_text(encoding="utf-8"))
        student = answers["student"]
        if student == "s3":
            continue
        ids = list(answers["answers"])
        kept = ids if student == "s1" else ids[: len(ids) // 2]
        answers["answers"] = {qid: round(values[student][qid], 4) for qid in kept}
        path.write_text(json.dumps(answers), encoding="utf-8")
    return root


def grade(exam: Path, *args: str):
    return runner.invoke(
        app, ["grade", str(exam / "mid"), "--keys", str(exam / "keys"), "--json", *args]
    )


def test_only_students_work_is_graded_in_the_exam_folder(exam):
    result = grade(exam)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["errors"] == []
    by_student = {r["student"]: r for r in report["results"]}
    assert sorted(by_student) == ["s1", "s2", "s3"]  # one result each, not one per file
    assert by_student["s1"]["score"] == by_student["s1"]["max_score"]
    assert 0 < by_student["s2"]["score"] < by_student["s2"]["max_score"]
    # s3 filled in nothing anywhere: graded once (all missing), from the first of their files.
    assert by_student["s3"]["score"] == 0
    notes = {Path(n["file"]).name: n["note"] for n in report["notes"]}
    written = {p.name for p in (exam / "mid").iterdir()}
    solutions = {n for n in written if n.endswith("-solution.pdf")}
    own = solutions | {"mid-sheets.pdf", "mid-solutions.pdf"}
    assert own <= set(notes)
    assert all("a document bpquiz wrote" in notes[n] for n in own)
    assert not any(name.endswith("-answers.json") for name in notes)  # what was filled in counts
    assert "class list" in notes["students.csv"]
    # The blank fillable sheets and the spreadsheet template's rows are blank copies (s3's too:
    # they are graded once, from their answers file, the first of their files).
    assert "no answer filled in" in notes["mid-answers.csv"]
    sheets = sorted(n for n in written if n.endswith("-sheet.pdf"))
    assert len(sheets) == 3 and all("no answer filled in" in notes[n] for n in sheets)


def test_the_notes_are_a_line_per_kind_on_the_terminal(exam):
    result = runner.invoke(app, ["grade", str(exam / "mid"), "--keys", str(exam / "keys")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note: ")]
    assert len(notes) == 3, notes
    assert any(line.startswith("Note: 5 files: a document bpquiz wrote") for line in notes)
    assert "Error" not in result.stderr


def test_every_pdf_bpquiz_writes_says_so(exam, tmp_path):
    feedback = tmp_path / "feedback"
    summary = tmp_path / "summary.pdf"
    result = grade(exam, "--feedback", str(feedback), "--summary", str(summary))
    assert result.exit_code == 0, result.output
    pdfs = [*(exam / "mid").glob("*.pdf"), *feedback.glob("*.pdf"), summary]
    assert len(pdfs) == 3 + 3 + 2 + 3 + 1
    for path in pdfs:
        assert PdfReader(path).metadata["/Creator"] == "bpquiz", path
    # Grading them is a note each, not an error: e.g. regrading with the feedback in the folder.
    again = runner.invoke(
        app, ["grade", str(feedback), str(summary), "--keys", str(exam / "keys"), "--json"]
    )
    notes = json.loads(again.stdout)["notes"]
    assert len(notes) == 4 and all("a document bpquiz wrote" in n["note"] for n in notes)


def test_two_filled_files_of_one_student_are_one_error_not_an_unknown_student(exam, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    s1 = next(
        p
        for p in (exam / "mid").glob("*-answers.json")
        if json.loads(p.read_text(encoding="utf-8"))["student"] == "s1"
    )
    (folder / "first.json").write_bytes(s1.read_bytes())
    (folder / "second.json").write_bytes(s1.read_bytes())
    result = runner.invoke(
        app,
        ["grade", str(folder), "--keys", str(exam / "keys"), "--roster", str(exam / "roster.csv")],
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, errors
    assert 'student "s1" is also graded from' in errors[0]
    assert "not on the roster" not in result.stderr


def test_the_moodle_gradebook_takes_the_emails_from_the_keys_roster(exam, tmp_path):
    book = tmp_path / "moodle.csv"
    result = runner.invoke(
        app,
        [
            "grade", str(exam / "mid"), "--keys", str(exam / "keys"),
            "--csv", str(book), "--gradebook", "moodle",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(book.read_text(encoding="utf-8-sig"))))
    emails = {row["Student ID"]: row["Email address"] for row in rows}
    assert emails == {"s1": "ada@example.com", "s2": "alan@example.com", "s3": "grace@example.com"}
