"""Issue 14: safe on shared machines and against hostile files. Each finding of the issue has its
test here (the hostile submissions themselves, measured in a subprocess, are in test_hostile.py).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bpquiz.api import generate_exam
from bpquiz.cli import app
from bpquiz.exercises.draw import customise
from bpquiz.files import printable

runner = CliRunner()


@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Two classic variants (no sheets): the key and each variant's right answers."""
    root = tmp_path_factory.mktemp("safety")
    settings = customise("classic")
    made = generate_exam(
        settings, 42, 2, name="classic-42", keys_dir=root / "keys", out_dir=root / "exams"
    )
    answers = [
        {
            q.id: settings.rounding.format(v.solution.values[q.id]).replace("−", "-")
            for q in v.solution.computed()
            if q.kind in settings.asked
        }
        for v in made.variants
    ]
    codes = [v.code for v in made.variants]
    return SimpleNamespace(root=root, keys=root / "keys", codes=codes, answers=answers)


def answers_file(exam, folder: Path, name: str, student: str = "", variant: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    document = {
        "format": "bpquiz-answers/1",
        "variant": exam.codes[variant],
        "student": student,
        "answers": exam.answers[variant],
    }
    path.write_text(json.dumps(document))
    return path


def grade_json(exam, *args: str | Path, keys: Path | None = None) -> tuple[int, dict, str]:
    result = runner.invoke(
        app, ["grade", *map(str, args), "--keys", str(keys or exam.keys), "--json"]
    )
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


SPEC = {
    "layers": [2, 2, 1],
    "activations": ["relu", "linear"],
    "loss": "half_sse",
    "learning_rate": 10,
    "weights": [[[999999.5, -2], [3, 999999.5]], [[999999.5], [999999.5]]],
    "biases": [[999999.5, 0], [0.5]],
    "inputs": [[999999.5, 999999.5]],
    "targets": [[1]],
}


def one_error_line(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "internal error" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- internal errors that become one clear line -------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, "grow too large"),  # ReLU values near 1e6 with lr 10: once decimal.InvalidOperation
        ({"activations": ["sigmoid", "sigmoid"], "learning_rate": 1}, "grow too large"),
        (
            {
                "layers": [2, 2, 1],
                "activations": ["sigmoid", "relu"],
                "weights": [[[509, 761.5], [738, -447]], [[-220.2862], [164]]],
                "biases": [[352.2, 413], [-880.6]],
                "inputs": [[-925, 76.9]],
                "targets": [[0.16]],
            },
            "grow too large",  # σ(−4.7e5) exactly: a fraction of 200,000 digits
        ),
        (
            {
                "layers": [2, 2, 2],
                "activations": ["tanh", "softmax"],
                "loss": "cross_entropy",
                "weights": [
                    [[-465810, -496839], [-697980.5, 709138]],
                    [[-894377, 8247], [2256, 9693]],
                ],
                "biases": [[-746747, -113300.4], [790827.19, -950760.58]],
                "inputs": [[-819246.81, -828429]],
                "targets": [[1, 0]],
            },
            "overflow",  # every exponential of the softmax underflowing: a division by zero
        ),
        ({"activations": [["sigmoid"], "linear"]}, "field 'activations[0]'"),
        ({"loss": ["half_sse"]}, "field 'loss'"),
    ],
)
def test_extreme_specs_are_one_clear_line_quickly(tmp_path, change, message):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**SPEC, **change}))
    for command in (["solve", str(path)], ["generate", "--spec", str(path), "--format", "html"]):
        start = time.monotonic()
        result = (
            runner.invoke(
                app, [*command, "--keys-dir", str(tmp_path / "k"), "--out", str(tmp_path / "o")]
            )
            if command[0] == "generate"
            else runner.invoke(app, command)
        )
        assert message in one_error_line(result)
        assert time.monotonic() - start < 5


@pytest.fixture
def deadline():
    """A hang (a FIFO opened for reading) fails the test instead of stopping the run."""
    import signal

    def hung(*_: object) -> None:
        raise TimeoutError("hung for 60 s")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, before)


def test_a_pipe_dev_zero_or_a_huge_file_among_the_keys_is_one_error_each(exam, tmp_path, deadline):
    keys = tmp_path / "keys"
    keys.mkdir()
    for key in exam.keys.glob("*.json"):
        (keys / key.name).write_bytes(key.read_bytes())
    os.mkfifo(keys / "pipe.json")
    os.symlink("/dev/zero", keys / "zero.json")
    with open(keys / "huge.json", "wb") as huge:  # 2 GB, sparse: reading it whole took 4 GB
        huge.truncate(2 << 30)
    good = answers_file(exam, tmp_path / "subs", "ok.json", "ok")
    start = time.monotonic()
    status, doc, _ = grade_json(exam, good, keys=keys)
    assert time.monotonic() - start < 10
    assert status == 1 and [r["student"] for r in doc["results"]] == ["ok"]
    errors = {Path(e["file"]).name: e["error"] for e in doc["errors"]}
    assert errors["pipe.json"] == "answer key: not a regular file (a pipe or a device)"
    assert errors["zero.json"] == "answer key: not a regular file (a pipe or a device)"
    assert errors["huge.json"].startswith("answer key: larger than 64 MiB")
    # generate reads the keys folder too (for variant codes in use): no hang there either
    result = runner.invoke(
        app,
        ["generate", "--seed", "7", "--keys-dir", str(keys), "--out", str(tmp_path / "o"),
         "--format", "html"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["s1", "x" * (130 << 10)]], "not a readable CSV file"),  # a cell over 128 KiB
        ([["s1", "Zoë " * 10_000]], "line 2: the name is longer than 200 characters"),
        ([["s" * 300, "Zoë"]], "line 2: the id is longer than 200 characters"),
        ([["s1", "Zoë\x1b[2J"]], "line 2: the name holds a control character"),
    ],
)
def test_a_roster_beyond_its_limits_is_one_clear_line_quickly(tmp_path, rows, message):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in rows), encoding="utf-8")
    start = time.monotonic()
    result = runner.invoke(
        app,
        ["generate", "--roster", str(roster), "--keys-dir", str(tmp_path / "k"),
         "--out", str(tmp_path / "o"), "--format", "html"],
    )  # fmt: skip
    assert message in one_error_line(result)
    assert time.monotonic() - start < 5
    assert "\x1b" not in result.output


# --- control characters: names and file names shown as text -------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("s1234", "s1234"),
        ("Zoë Ångström", "Zoë Ångström"),
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
        ("a\nError: fake line", "a\\nError: fake line"),
        ("cr\rover", "cr\\rover"),
        ("evil\u202etxt.json", "evil\\u202etxt.json"),
        ("not-utf8-\udcff", "not-utf8-\\udcff"),
    ],
)
def test_printable_shows_control_characters_as_escapes(text, shown):
    assert printable(text) == shown


def test_a_file_name_with_escape_sequences_and_line_breaks_reaches_no_output_raw(exam, tmp_path):
    folder = tmp_path / "subs"
    # A blank student: the file name is the student. ESC clears the screen; \n fakes a line.
    name = "\x1b[2J\x1b[31mx\nError: fake.json"
    answers_file(exam, folder, name + ".json")
    answers_file(exam, folder, "bad\x1b]0;title\x07.json").write_text("{")
    gradebook = tmp_path / "grades.csv"
    result = runner.invoke(
        app, ["grade", str(folder), "--keys", str(exam.keys), "--csv", str(gradebook)]
    )
    assert result.exit_code == 1
    for text in (result.stdout, result.stderr, gradebook.read_text()):
        assert "\x1b" not in text and "\x07" not in text
    assert "Error: fake.json" not in result.stdout.splitlines()
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        f"Error: {folder}/bad\\x1b]0;title\\x07.json: not JSON: Expecting property name "
        "enclosed in double quotes (line 1, column 2)"
    ]
    assert "\\x1b[2J\\x1b[31mx\\nError: fake" in result.stdout
    assert "\\x1b[2J\\x1b[31mx\\nError: fake" in gradebook.read_text()


def test_emoji_codes_in_a_student_id_are_printed_as_typed(exam, tmp_path):
    path = answers_file(exam, tmp_path, "a.json", student=":x: :smile:")
    result = runner.invoke(app, ["grade", str(path), "--keys", str(exam.keys)])
    assert result.exit_code == 0, result.output
    assert ":x: :smile:" in result.stdout and "❌" not in result.stdout


# --- grading never overwrites what it reads ------------------------------------------------------


@pytest.fixture
def submissions(exam, tmp_path) -> Path:
    folder = tmp_path / "subs"
    answers_file(exam, folder, "alice.json", "alice")
    answers_file(exam, folder, "bob.json", "bob", variant=1)
    return folder


def grade_cli(exam, *args: str | Path):
    return runner.invoke(app, ["grade", *map(str, args), "--keys", str(exam.keys)])


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("option", "target", "message"),
    [
        ("--csv", "subs/class.csv", "subs/, which is being graded"),  # a student's spreadsheet
        ("--csv", "subs/new.csv", "subs/, which is being graded"),  # read as one next time
        ("--summary", "subs/alice.pdf", "subs/, which is being graded"),
        ("--summary", "subs/../subs/report.pdf", "subs/, which is being graded"),
        ("--summary", "link-to-subs/report.pdf", "subs/, which is being graded"),
        ("--csv", "alias.csv", "is being graded"),  # a link to a submitted spreadsheet
        ("--feedback", "subs", "subs/ is being graded"),
        ("--feedback", "link-to-subs", "is being graded"),
    ],
)
def test_no_output_may_replace_an_input(exam, submissions, tmp_path, option, target, message):
    (submissions / "class.csv").write_text("student,variant\n")
    os.symlink(submissions, tmp_path / "link-to-subs")
    os.symlink(submissions / "class.csv", tmp_path / "alias.csv")
    before = contents(submissions)
    for force in ([], ["--force"]):
        result = grade_cli(exam, submissions, option, tmp_path / target, *force)
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())
        assert contents(submissions) == before


def test_a_feedback_sheet_never_replaces_a_submission_of_the_same_name(exam, submissions):
    """The folder is not a graded one, but a file graded from it has a feedback sheet's name."""
    named = answers_file(exam, submissions.parent / "other", "carol-feedback.pdf")
    named.write_bytes(b"%PDF-1.7 a student's own sheet")
    alice = submissions / "alice.json"
    doc = json.loads(alice.read_text())
    alice.write_text(json.dumps({**doc, "student": "carol"}))
    result = grade_cli(exam, alice, named, "--feedback", named.parent)
    assert result.exit_code == 2
    assert "carol-feedback.pdf is being graded" in " ".join(result.output.split())
    assert named.read_bytes() == b"%PDF-1.7 a student's own sheet"


def test_an_earlier_gradebook_or_summary_is_replaced_only_with_force(exam, submissions, tmp_path):
    for option, name in (("--csv", "grades.csv"), ("--summary", "class.html")):
        path = tmp_path / name
        path.write_text("last week's")
        result = grade_cli(exam, submissions, option, path)
        assert one_error_line(result) == f"Error: {path} already exists. Use --force to replace it."
        assert path.read_text() == "last week's"
        result = grade_cli(exam, submissions, option, path, "--force")
        assert result.exit_code == 0, result.output
        assert path.read_text() != "last week's"


def test_earlier_feedback_sheets_are_replaced_only_with_force(exam, submissions, tmp_path):
    pytest.importorskip("weasyprint")
    folder = tmp_path / "feedback"
    folder.mkdir()
    (folder / "bob-feedback.pdf").write_bytes(b"last week's")
    result = grade_cli(exam, submissions, "--feedback", folder)
    line = one_error_line(result)
    assert line == f"Error: {folder}/bob-feedback.pdf already exists. Use --force to replace it."
    assert contents(folder) == {"bob-feedback.pdf": b"last week's"}  # nothing rendered
    result = grade_cli(exam, submissions, "--feedback", folder, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(contents(folder)) == ["alice-feedback.pdf", "bob-feedback.pdf"]


# --- generate never destroys students' work, and one run at a time writes an exam --------------


def generate(tmp_path: Path, *more: str, out: Path | None = None):
    return runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--name", "mid",
         "--keys-dir", str(tmp_path / "keys"), "--out", str(out or tmp_path / "out"), *more],
    )  # fmt: skip


def test_generate_force_never_replaces_a_filled_fillable_sheet(tmp_path):
    from pypdf import PdfReader, PdfWriter

    result = generate(tmp_path, "--fillable")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    (sheet,) = [p for p in out.glob("*-sheet.pdf") if "mid" not in p.name][:1]
    writer = PdfWriter(clone_from=PdfReader(sheet))
    writer.update_page_form_field_values(writer.pages[0], {"z1_1": "0.5"}, auto_regenerate=False)
    with sheet.open("wb") as f:
        writer.write(f)  # a student's work, saved over the blank sheet
    filled = sheet.read_bytes()
    result = generate(tmp_path, "--fillable", "--force")
    line = one_error_line(result)
    assert f"{sheet} holds a student's answers (1 form field filled in, e.g. z1_1)" in line
    assert sheet.read_bytes() == filled
    # A blank sheet, damaged: it can't be told blank, so it is not replaced either.
    sheet.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    assert "cannot be read to tell" in one_error_line(generate(tmp_path, "--fillable", "--force"))
    # Blank sheets (and non-fillable ones) are replaced as before.
    sheet.unlink()
    assert generate(tmp_path, "--fillable", "--force").exit_code == 0
    assert generate(tmp_path, "--force").exit_code == 0


def test_out_pointing_at_a_file_says_so(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for out in (target, target / "sub"):
        line = one_error_line(generate(tmp_path, "--format", "html", out=out))
        assert f"{target} is a file; choose another --out" in line
        assert "filled in" not in line
    assert target.read_text() == "mine"


def test_a_second_run_on_the_same_exam_is_refused_while_the_first_holds_the_lock(tmp_path):
    from bpquiz.files import exclusive

    with exclusive(tmp_path / "keys" / ".mid.lock"):  # as a run in another process would
        line = one_error_line(generate(tmp_path, "--format", "html"))
    assert "another `bpquiz generate` is writing exam mid" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "keys" / "mid.json").exists()
    assert generate(tmp_path, "--format", "html").exit_code == 0  # the lock ends with its holder


def test_concurrent_runs_leave_a_class_file_that_matches_the_key(tmp_path):
    """Two runs of one exam at once (different seeds, --force): whichever wins, the class file's
    variant codes are the key's. Without the lock, one run's sheets met the other's key."""
    import subprocess
    import sys

    from pypdf import PdfReader

    common = ["--variants", "3", "--name", "race", "--keys-dir", str(tmp_path / "keys"),
              "--out", str(tmp_path / "out"), "--force", "--jobs", "1"]  # fmt: skip
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bpquiz", "generate", "--seed", str(seed), *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for seed in (1, 2, 3)
    ]
    outcomes = [(run.wait(120), run.stderr.read().decode()) for run in runs]
    assert any(code == 0 for code, _ in outcomes)
    for code, stderr in outcomes:
        assert code == 0 or "is writing exam race" in stderr, stderr
    key = json.loads((tmp_path / "keys" / "race.json").read_text())
    codes = [v["variant"] for v in key["variants"]]
    text = " ".join(
        page.extract_text() for page in PdfReader(tmp_path / "out" / "race-sheets.pdf").pages
    )
    assert all(code in text for code in codes)
