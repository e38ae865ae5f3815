"""`bpquiz grade --feedback DIR` (a PDF per student) and `--summary FILE` (the class analysis)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_marking import consistent, makes
from typer.testing import CliRunner

from bpquiz.api import generate_exam
from bpquiz.cli import app
from bpquiz.exercises.draw import customise
from bpquiz.grading.feedback import feedback_paths, safe_stem
from bpquiz.grading.items import Item, Report, Result, Status
from bpquiz.grading.summary import class_summary, histogram_chart, quantity_chart
from bpquiz.maths.mistakes import CATALOGUE

runner = CliRunner()
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")


def pdftext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """A classic exam of two variants and three students: one passes z on (forward_no_activation)
    and carries it through, one is all right, one (with a hostile id) used t − y."""
    root = tmp_path_factory.mktemp("class")
    settings = customise("classic")
    written = generate_exam(
        settings,
        42,
        2,
        students=None,
        name="classic-42",
        keys_dir=root / "answer_keys",
        out_dir=root / "exams",
    )
    variants = written.variants
    folder = root / "in"
    folder.mkdir()
    students = [
        ("ana", 0, makes(variants[0].solution, settings, "forward_no_activation")),
        ("ben", 1, (consistent(variants[1].solution, settings), None)),
        ("../../etc/passwd", 0, makes(variants[0].solution, settings, "error_sign")),
    ]
    for n, (student, k, (values, _)) in enumerate(students):
        doc = json.loads(written.answers[k].read_text(encoding="utf-8"))
        doc["student"] = student
        doc["answers"] = {qid: values[qid] for qid in doc["answers"]}
        (folder / f"{n}.json").write_text(json.dumps(doc), encoding="utf-8")
    return root, folder, {s: made[1] for s, _, made in students}


def grade(root: Path, *args: str):
    return runner.invoke(app, ["grade", *args, "--keys", str(root / "answer_keys")])


# --- feedback sheets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("student", "stem"),
    [
        ("s1234", "s1234"),
        ("../../etc/passwd", "etc_passwd"),
        ("/abs/path", "abs_path"),
        (".hidden", "hidden"),
        ("-rf", "rf"),
        ("Zoë O'Neil", "Zo_O_Neil"),
        ("..", "student"),
        ("", "student"),
        ("a\x00b", "a_b"),
        ("x" * 200, "x" * 60),
    ],
)
def test_file_names_from_student_ids_are_safe(student, stem):
    assert safe_stem(student) == stem
    assert "/" not in safe_stem(student) and not safe_stem(student).startswith((".", "-"))


def test_students_with_the_same_safe_name_get_different_files(tmp_path):
    results = [Result("a/b", "K1", ()), Result("a_b", "K1", ()), Result("A_B", "K2", ())]
    paths = feedback_paths(results, tmp_path)
    assert [p.name for p in paths] == [
        "a_b-feedback.pdf",
        "a_b-K1-feedback.pdf",
        "A_B-K2-feedback.pdf",
    ]
    assert all(p.parent == tmp_path for p in paths)


@needs_poppler
def test_feedback_sheets(klass, tmp_path):
    root, folder, _ = klass
    out = tmp_path / "feedback"
    result = grade(root, str(folder), "--feedback", str(out))
    assert result.exit_code == 0, result.output
    assert f"Feedback sheets: {out}/ (3 files)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "ana-feedback.pdf",
        "ben-feedback.pdf",
        "etc_passwd-feedback.pdf",
    ]
    assert not (tmp_path / "etc").exists()

    ana = re.sub(r"\s+", " ", pdftext(out / "ana-feedback.pdf"))
    assert "Feedback" in ana and "ana" in ana
    assert "Score 49 of 50" in ana
    assert "follow-through" in ana and "wrong" in ana
    assert "Your answer Right answer Verdict" in ana
    assert "Worked steps for what you missed" in ana
    assert CATALOGUE["forward_no_activation"].explanation[:40] in ana
    # Ana wrote a = z: the worked step of the item missed, with numbers, and what follows from it.
    assert re.search(r"a⁽¹⁾₁ = σ\(z⁽¹⁾₁\) = σ\([−0-9.]+\) = [−0-9.]+", ana), ana[-800:]
    assert "carried forward from your a⁽¹⁾₁" in ana

    ben = re.sub(r"\s+", " ", pdftext(out / "ben-feedback.pdf"))
    assert "Score 50 of 50" in ben
    assert "nothing to work through again" in ben

    hostile = re.sub(r"\s+", " ", pdftext(out / "etc_passwd-feedback.pdf"))
    assert "../../etc/passwd" in hostile  # shown as written, only the file name is made safe
    assert CATALOGUE["error_sign"].explanation[:30] in hostile


# --- class analysis ----------------------------------------------------------------------------------


def item(qid: str, status: Status, code: str | None = None) -> Item:
    credit = 1.0 if status in (Status.CORRECT, Status.FOLLOW_THROUGH) else 0.0
    return Item(qid, status, credit, 1.0, 0.5, 0.5, code, "", symbol=qid)


def test_class_summary_counts():
    c, f, w, m, i = (Status.CORRECT, Status.FOLLOW_THROUGH, Status.WRONG, Status.MISSING,
                     Status.INVALID)  # fmt: skip
    report = Report(
        (
            Result("s1", "K", (item("z", c), item("a", c))),
            Result("s2", "K", (item("z", w, "transposed_weight"), item("a", f))),
            Result("s3", "K", (item("z", w, "transposed_weight"), item("a", i))),
            Result("s4", "K", (item("z", m), item("a", w, "error_sign"))),
        )
    )
    summary = class_summary(report)
    assert summary.students == 4
    z, a = summary.quantities
    assert z.counts == {"correct": 1, "follow_through": 0, "wrong": 2, "missing": 1}
    assert a.counts == {"correct": 1, "follow_through": 1, "wrong": 2, "missing": 0}  # invalid
    assert a.share("follow_through") == 0.25
    assert summary.misconceptions == [("transposed_weight", 2, 2), ("error_sign", 1, 1)]
    # 100 %, 50 %, 0 %, 0 %: the last band holds 100 %.
    assert summary.histogram == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert summary.mean_percent == 37.5 and summary.median_percent == 25.0


def test_charts_are_svg_with_one_bar_per_quantity_and_band():
    report = Report(
        (
            Result("s1", "K", (item("z<1>", Status.CORRECT), item("a", Status.WRONG))),
            Result("s2", "K", (item("z<1>", Status.MISSING), item("a", Status.WRONG))),
        )
    )
    summary = class_summary(report)
    bars = str(quantity_chart(summary))
    assert bars.startswith("<svg") and bars.endswith("</svg>")
    assert "z&lt;1&gt;" in bars and "<1>" not in bars  # labels escaped
    assert bars.count('fill="#1e7b34"') == 2  # legend + z's correct half
    histogram = str(histogram_chart(summary))
    assert histogram.count("<rect") == 2  # 0–10 % and 50–60 %


def test_summary_in_the_terminal_and_as_html(klass, tmp_path):
    root, folder, _ = klass
    path = tmp_path / "class.html"
    result = grade(root, str(folder), "--summary", str(path))
    assert result.exit_code == 0, result.output
    assert "Class analysis: 3 students" in result.stdout
    assert re.search(r"a⁽¹⁾₁\s+a1_1\s+67%\s+0%\s+33%\s+0%", result.stdout), result.stdout
    assert re.search(r"1 student\s+forward_no_activation", result.stdout)
    assert f"Class analysis: {path}" in result.stdout
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "forward_no_activation" in html and "error_sign" in html
    assert CATALOGUE["error_sign"].explanation.replace("'", "&#39;") in html


@needs_poppler
def test_summary_pdf(klass, tmp_path):
    root, folder, _ = klass
    path = tmp_path / "class.pdf"
    result = grade(root, str(folder), "--summary", str(path), "--brief")
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", pdftext(path))
    assert "Class analysis" in text and "3 students graded" in text
    assert "Where the class is stuck" in text and "Score distribution" in text
    assert "Variant" not in text  # a class report has no variant box


def test_summary_with_json_keeps_stdout_json(klass):
    root, folder, _ = klass
    result = grade(root, str(folder), "--json", "--summary", "-")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["results"]) == 3
    assert "Class analysis: 3 students" in result.stderr


def test_summary_needs_a_pdf_or_html_name(klass, tmp_path):
    root, folder, _ = klass
    result = grade(root, str(folder), "--summary", str(tmp_path / "class.txt"))
    assert result.exit_code == 2
    assert "give a .pdf or .html file name" in result.output
    assert not (tmp_path / "class.txt").exists()


@needs_poppler
def test_reports_carry_the_exams_title_course_date_and_the_students_name(tmp_path, monkeypatch):
    """Feedback and summary in the exam's own header; the roster's name on the feedback; the
    summary's PDF title without a dangling '·', its HTML without a stray 'Variant'; and with a
    roster, students.csv says who has which variant and files."""
    monkeypatch.chdir(tmp_path)
    roster = tmp_path / "class.csv"
    roster.write_text("id,name\ns1,Ada Lovelace\ns2,Bo Ek\n", encoding="utf-8")
    options = ["--seed", "3", "--roster", str(roster), "--title", "Midterm"]
    options += ["--course", "CS 101", "--date", "1 May 2027"]
    made = runner.invoke(app, ["generate", *options])
    assert made.exit_code == 0, made.output
    out = tmp_path / "exams" / "classic-3"
    rows = (out / "students.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "id,name,variant,sheet,solution,answers"
    code = rows[1].split(",")[2]
    assert (
        rows[1]
        == f"s1,Ada Lovelace,{code},{code}-sheet.pdf,{code}-solution.pdf,{code}-answers.json"
    )
    for name in rows[1].split(",")[3:]:
        assert (out / name).is_file()
    template = json.loads((out / f"{code}-answers.json").read_text(encoding="utf-8"))
    grade_dir = tmp_path / "in"
    grade_dir.mkdir()
    (grade_dir / "ada.json").write_text(json.dumps(template), encoding="utf-8")
    result = runner.invoke(
        app, ["grade", str(grade_dir), "--feedback", "fb", "--summary", "class.pdf", "--brief"]
    )
    assert result.exit_code == 0, result.output
    feedback = re.sub(r"\s+", " ", pdftext(tmp_path / "fb" / "s1-feedback.pdf"))
    assert "Midterm" in feedback and "CS 101 · 1 May 2027 · Feedback" in feedback
    assert "Ada Lovelace" in feedback
    summary = re.sub(r"\s+", " ", pdftext(tmp_path / "class.pdf"))
    assert "Class analysis: Midterm" in summary and "CS 101 · 1 May 2027" in summary
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "class.pdf")], capture_output=True, text=True, check=True
    ).stdout
    title = next(line for line in info.splitlines() if line.startswith("Title:"))
    assert title.split(":", 1)[1].strip() == "Class analysis: Midterm · 1 student"
    html_result = runner.invoke(app, ["grade", str(grade_dir), "--summary", "class.html"])
    assert html_result.exit_code == 0
    page = (tmp_path / "class.html").read_text(encoding="utf-8")
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S))
    assert "Class analysis" in visible and "Variant" not in visible
