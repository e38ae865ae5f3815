"""`bpquiz grade` on LMS response exports: real reports a real Moodle made (tests/fixtures/moodle,
see its README), and Canvas Student Analysis reports in the layout of Canvas's source."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from lms_helpers import FIXTURES, right_answers
from typer.testing import CliRunner

from bpquiz.api import grade
from bpquiz.cli import app
from bpquiz.exercises.key import load_key
from bpquiz.grading.items import Status
from bpquiz.grading.readers.moodle import moodle_reads, split_parts

runner = CliRunner()
MOODLE = FIXTURES / "moodle"
KEY = MOODLE / "online-12.json"


def graded(path: Path, *args: str) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["grade", str(path), "--key", str(KEY), "--json", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def by_student(doc: dict) -> dict[str, dict]:
    return {r["student"]: r for r in doc["results"]}


def items(result: dict) -> dict[str, dict]:
    return {i["id"]: i for i in result["items"]}


@pytest.fixture(scope="module")
def moodle_report() -> tuple[int, dict, str]:
    return graded(MOODLE / "responses_qtext_right.csv")


def test_every_finished_attempt_is_graded_the_email_is_the_student(moodle_report):
    status, doc, stderr = moodle_report
    assert status == 0, stderr
    assert list(by_student(doc)) == [f"s000{n}@example.com" for n in (1, 2, 3, 4, 6, 7)]
    assert doc["errors"] == []


def test_the_attempt_in_progress_and_the_worse_attempt_are_notes(moodle_report):
    _, doc, stderr = moodle_report
    notes = [n["note"] for n in doc["notes"]]
    assert notes == [
        "row 6: Grace Hopper (s0005@example.com): attempt not finished (In progress), not graded",
        "row 7: another attempt of s0001@example.com (10/50) is not counted: the best one, "
        "row 2 (50/50), is",
    ]
    assert "Note: " in stderr


def test_a_slip_carried_forward_earns_follow_through(moodle_report):
    """Moodle gave Charles 6.60/10 (33 of 50 boxes); his method was right after one slip."""
    charles = by_student(moodle_report[1])["s0002@example.com"]
    marked = items(charles)
    assert marked["z1_1"]["status"] == "wrong"
    assert charles["score"] == 49
    carried = [i for i in charles["items"] if i["status"] == "follow_through"]
    assert len(carried) == 16
    assert all("carried forward from your" in i["feedback"] for i in carried)
    overview = list(csv.reader(io.StringIO((MOODLE / "overview.csv").read_text("utf-8-sig"))))
    moodle_grade = {row[2]: row[7] for row in overview[1:] if row[2]}
    assert moodle_grade["s0002@example.com"] == "6.60"


def test_unicode_minus_and_decimal_comma_read_as_bpquiz_reads_them(moodle_report):
    """Moodle marked these three boxes wrong (9.20/10); bpquiz credits them and says why."""
    emilie = by_student(moodle_report[1])["s0003@example.com"]
    marked = items(emilie)
    assert emilie["score"] == 49  # one box left blank
    assert marked["a1_2"]["status"] == "missing"
    assert marked["z1_1"]["status"] == "correct"
    assert marked["z1_1"]["feedback"] == '(Moodle read "−0.4240" as no number and marked it wrong.)'
    assert marked["a1_1"]["feedback"] == '(Moodle read "0,3956" as 3956 and marked it wrong.)'
    flagged = [i for i in emilie["items"] if "Moodle read" in i["feedback"]]
    assert len(flagged) == 3


def test_a_catalogued_mistake_is_named(moodle_report):
    alan = items(by_student(moodle_report[1])["s0004@example.com"])
    assert alan["w_new2_1_1"]["status"] == "wrong"
    assert alan["w_new2_1_1"]["misconception"] == "update_sign"


def test_answers_with_every_digit_and_blank_attempts(moodle_report):
    doc = moodle_report[1]
    assert by_student(doc)["s0007@example.com"]["score"] == 50
    blank = by_student(doc)["s0006@example.com"]
    assert {i["status"] for i in blank["items"]} == {"missing"}


def test_the_right_answers_alone_find_the_variants(moodle_report):
    status, doc, _ = graded(MOODLE / "responses_right.csv")
    assert status == 0
    assert doc["results"] == moodle_report[1]["results"]


def test_a_report_without_question_or_right_answer_is_one_clear_error():
    status, doc, stderr = graded(MOODLE / "responses.csv")
    assert status == 1
    assert doc["results"] == []
    (error,) = doc["errors"]
    assert 'with "Question text" or "Right answer" ticked' in error["error"]
    assert stderr.count("Error: ") == 1


def test_a_question_of_another_exam_is_that_rows_error(tmp_path):
    text = (MOODLE / "responses_qtext_right.csv").read_text("utf-8-sig")
    variant = load_key(KEY)[1].code  # Charles's
    changed = text.replace(f"Variant {variant} of exam online-12.", "Variant ZZZZZ of exam other.")
    path = tmp_path / "other.csv"
    path.write_text(changed, encoding="utf-8-sig")
    status, doc, _ = graded(path)
    assert status == 1
    errors = [e["error"] for e in doc["errors"]]
    assert errors[0] == (
        'row 3: Charles Babbage (s0002@example.com): variant "ZZZZZ" of exam "other" is in no '
        "answer key: a question from another exam?"
    )
    # The other rows are graded; Grace's (in progress) and Dennis's had the same question.
    assert "s0001@example.com" in by_student(doc) and "s0002@example.com" not in by_student(doc)


def test_moodle_reads_numbers_as_measured():
    assert moodle_reads("0.5") == 0.5
    assert moodle_reads(" .5 ") == 0.5
    assert moodle_reads("5e-1") == 0.5
    assert moodle_reads("0,5") == 5
    assert moodle_reads("1,000.5") == 1000.5
    assert moodle_reads("−0.5") is None
    assert moodle_reads("–0.5") is None
    assert moodle_reads("abc") is None


def test_cloze_parts_are_split_in_order():
    assert split_parts("part 1: 0.1; part 2: ; part 3:", 3) == ["0.1", "", ""]
    assert split_parts("part 1: 0.5; part 9: 1; part 2: 3", 2) == ["0.5; part 9: 1", "3"]
    assert split_parts("part 1: 0.1; part 2: 2", 3) is None
    assert split_parts("0.1", 1) is None


# --- the roster and the gradebooks ---------------------------------------------------------------


ROSTER = (
    "id,name,email\n"
    "s0001@example.com,Ada Lovelace,\n"
    "u42,Absent Student,absent@example.com\n"
    "u2,Charles Babbage,s0002@example.com\n"
    "s0003@example.com,Émilie du Châtelet,\n"
    "s0004@example.com,Alan Turing,\n"
    "s0005@example.com,Grace Hopper,\n"
    "s0006@example.com,Blaise Pascal,\n"
)


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def grade_right_responses(*args: str):
    """`bpquiz grade` of the real Moodle report of right answers, with `args`."""
    return runner.invoke(
        app, ["grade", str(MOODLE / "responses_right.csv"), "--key", str(KEY), *args]
    )


def test_roster_gradebook_lists_every_student_in_roster_order(roster, tmp_path):
    book = tmp_path / "book.csv"
    result = grade_right_responses("--roster", str(roster), "--csv", str(book))
    rows = list(csv.DictReader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert [(r["student"], r["name"], r["status"]) for r in rows] == [
        ("s0001@example.com", "Ada Lovelace", "graded"),
        ("u42", "Absent Student", "absent"),
        ("u2", "Charles Babbage", "graded"),
        ("s0003@example.com", "Émilie du Châtelet", "graded"),
        ("s0004@example.com", "Alan Turing", "graded"),
        ("s0005@example.com", "Grace Hopper", "absent"),  # her attempt is still in progress
        ("s0006@example.com", "Blaise Pascal", "graded"),
        ("s0007@example.com", "Dennis Ritchie", "not_on_roster"),
    ]
    absent = rows[1]
    assert absent["score"] == absent["variant"] == absent["percent"] == ""
    assert rows[2]["score"] == "49"
    # The summary counts the absent; a student not on the roster is an error (exit code 1).
    assert "6 students graded, 2 absent (7 on the roster)" in result.stdout
    assert result.exit_code == 1
    assert 'student "s0007@example.com" is not on the roster' in result.stderr


def test_moodle_gradebook_for_its_csv_import(roster, tmp_path):
    book = tmp_path / "moodle.csv"
    grade_right_responses("--roster", str(roster), "--csv", str(book), "--gradebook", "moodle")
    rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert rows[0] == [
        "Student ID",
        "Email address",
        "Name",
        "online-12",
        "online-12 %",
        "Feedback",
    ]
    assert rows[1][:5] == ["s0001@example.com", "s0001@example.com", "Ada Lovelace", "50", "100.00"]
    assert rows[2] == ["u42", "absent@example.com", "Absent Student", "", "", ""]  # no grade
    assert rows[3][:5] == ["u2", "s0002@example.com", "Charles Babbage", "49", "98.00"]
    assert rows[3][5] == "bpquiz: 49/50 (98.0%); 16 follow-through, 1 wrong"


def test_canvas_gradebook_has_the_header_canvas_requires(tmp_path):
    book = tmp_path / "canvas.csv"
    grade_right_responses("--csv", str(book), "--gradebook", "canvas")
    rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "online-12"]
    assert rows[1] == ["Points Possible", "", "", "", "", "50"]
    assert rows[2] == ["Ada Lovelace", "", "s0001@example.com", "", "", "50"]


def test_gradebook_style_needs_a_file():
    result = runner.invoke(app, ["grade", str(KEY), "--gradebook", "moodle"])
    assert result.exit_code == 2
    assert "give the gradebook's file with --csv FILE" in result.output


def test_the_keys_roster_is_the_default(tmp_path):
    """An exam generated with a roster lists its students without --roster."""
    from bpquiz.api import generate_exam
    from bpquiz.exercises.draw import customise

    students = [{"id": f"s{n}", "name": f"Student {n}"} for n in (1, 2, 3)]
    exam = generate_exam(
        customise("chain"),
        3,
        students=students,
        name="chain-3",
        keys_dir=tmp_path / "k",
        out_dir=tmp_path / "e",
    )
    answers = json.loads(exam.answers[1].read_text(encoding="utf-8"))
    path = tmp_path / "s2.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    report, _ = grade([path], key=exam.key)
    assert [(e.id, e.name) for e in report.roster] == [(s["id"], s["name"]) for s in students]
    from bpquiz.grading.classlist import class_lines

    assert [(line.student, str(line.status)) for line in class_lines(report)] == [
        ("s1", "absent"),
        ("s2", "graded"),
        ("s3", "absent"),
    ]
    assert report.ok


# --- Canvas Student Analysis ---------------------------------------------------------------------


def student_analysis(rows: list[list[str]], variant, extra: list[str] | None = None) -> str:
    """A report in the layout of canvas-lms's StudentAnalysis#to_csv for one bpquiz quiz."""
    header = ["name", "id", "sis_id", "section", "section_id", "section_sis_id", "submitted"]
    header += extra or []
    header += ["5001: the problem", "0"]
    for n, q in enumerate(variant.asked):
        header += [
            f"{5002 + n}: {q.symbol} = ? Round to 4 decimal places; type a decimal point and a "
            f"plain minus sign. [bpquiz {variant.exam}/{variant.code}/{q.id}]",
            f"{q.points:g}",
        ]
    header += ["n correct", "n incorrect", "score"]
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue()


def test_canvas_student_analysis_is_regraded(tmp_path):
    variant = load_key(KEY)[0]
    right = right_answers(variant)
    cells = []
    for n, q in enumerate(variant.asked):
        typed = "" if n == 3 else right[q.id]
        cells += [typed, "1" if typed else "0"]
    row = ["Ada Lovelace", "93990", "s100", "Sec A", "25701", "", "2026-03-12 10:00:00 UTC"]
    rows = [[*row, "", "", *cells, "49", "1", "49"]]
    rows.append(
        ["Alan Turing", "93991", "", "Sec A", "25701", "", "2026-03-12 10:00:00 UTC"]
        + ["", ""]
        + [c if i % 2 else "0,5" for i, c in enumerate(cells)]
        + ["0", "50", "0"]
    )
    path = tmp_path / "quiz-student-analysis.csv"
    path.write_text(student_analysis(rows, variant), encoding="utf-8")
    report, _ = grade([path], key=KEY)
    assert report.ok, report.errors
    ada, alan = report.results
    assert (ada.student, ada.score) == ("s100", 49)  # the SIS id; one box blank
    assert ada.identity is not None and ada.identity.lms_user == "93990"
    assert alan.student == "93991"  # no SIS id: Canvas's user id
    # "0,5" in every box: read as 0.5 (a decimal comma), so a number, and wrong here.
    assert alan.items[0].given == 0.5 and alan.items[0].status is Status.WRONG
    book = tmp_path / "canvas.csv"
    runner.invoke(
        app, ["grade", str(path), "--key", str(KEY), "--csv", str(book), "--gradebook", "canvas"]
    )
    rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert rows[2] == ["Ada Lovelace", "93990", "s100", "", "", "49"]
    assert rows[3][:3] == ["Alan Turing", "93991", ""]


def test_canvas_attempt_of_a_variant_drawn_for_another_student_is_a_note(tmp_path):
    """Canvas gives a variant's quiz to whom the teacher assigns it: when the key drew it for
    another roster student, the attempt is graded as the student Canvas signed in, with a note."""
    from bpquiz.api import generate_exam
    from bpquiz.exercises.draw import customise

    students = [{"id": "s001", "name": "Ada Lovelace"}, {"id": "s002", "name": "Alan Turing"}]
    generate_exam(
        customise("classic"), 5, students=students, name="mid",
        keys_dir=tmp_path / "keys", out_dir=tmp_path / "exams",
    )  # fmt: skip
    key = tmp_path / "keys" / "mid.json"
    ada = load_key(key)[0]
    assert ada.student == "s001"
    right = right_answers(ada)
    cells = [c for q in ada.asked for c in (right[q.id], "1")]
    signed_in = {
        "s001": ["Ada Lovelace", "93990", "s001", "A", "1", "", "2026-03-12 10:00:00 UTC"],
        "s002": ["Alan Turing", "93991", "s002", "A", "1", "", "2026-03-12 10:05:00 UTC"],
    }
    for student, row in signed_in.items():
        path = tmp_path / f"{student}.csv"
        path.write_text(student_analysis([[*row, "", "", *cells, "50", "0", "50"]], ada))
        report, _ = grade([path], key=key)
        assert report.ok, report.errors
        (result,) = report.results
        assert (result.student, result.score) == (student, 50)
        drawn = [n.note for n in report.notes if "which the key drew for" in n.note]
        expected = f'row 2: s002 answered variant {ada.code}, which the key drew for "s001"'
        assert drawn == ([f"{expected}: graded as s002's"] if student == "s002" else [])


def test_canvas_report_of_another_quiz_is_one_error(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text(
        "name,id,sis_id,section,section_id,section_sis_id,submitted,101: What is 2+3?,1,"
        "n correct,n incorrect,score\nAda,1,,A,2,,2026-01-01,5,1,1,0,1\n",
        encoding="utf-8",
    )
    report, _ = grade([path], key=KEY)
    (error,) = report.errors
    assert "a Canvas Student Analysis report with no bpquiz question" in error.error


def test_feedback_sheets_and_class_analysis_from_an_lms_report(roster, tmp_path):
    result = grade_right_responses(
        "--roster",
        str(roster),
        "--summary",
        str(tmp_path / "class.html"),
        "--feedback",
        str(tmp_path / "feedback"),
    )
    absent = "Absent Student, Grace Hopper"  # by name, in roster order
    assert f"Class analysis: 6 students, 2 absent ({absent})" in result.stdout
    html = (tmp_path / "class.html").read_text(encoding="utf-8")
    assert "6 students graded · 2 absent · mean" in html
    assert f"Absent (nothing handed in): {absent}." in html
    sheets = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert sheets[:2] == ["s0001_example.com-feedback.pdf", "s0002_example.com-feedback.pdf"]
    assert len(sheets) == 6
