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
    assert "carol-feedback.pdf is read by this run" in " ".join(result.output.split())
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


# --- the skeleton cache: trusted only when private, checked before use, pruned of its own -------


def pdfs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.pdf"))}


def make_sheets(tmp_path: Path, out: str, cache: Path | str, *more: str):
    result = runner.invoke(
        app,
        ["generate", "--seed", "42", "--variants", "2", "--out", str(tmp_path / out),
         "--keys-dir", str(tmp_path / out / "keys"), *more],
        env={"BPQUIZ_CACHE": str(cache)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def warm(tmp_path_factory) -> SimpleNamespace:
    """A cache with the sheet's and the solution's skeletons, and the sheets a first run made
    (a cold cache gives the same bytes as none: test_stamp)."""
    root = tmp_path_factory.mktemp("warm")
    make_sheets(root, "out", root / "cache")
    return SimpleNamespace(cache=root / "cache", pdfs=pdfs(root / "out"))


def copy_of(warm, tmp_path: Path) -> Path:
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(warm.cache, cache)  # modes kept
    return cache


def cache_entries(cache: Path) -> list[Path]:
    from bpquiz.sheets.stamping.cache import entries

    return entries(cache)


def sheet_entry(cache: Path) -> Path:
    """The sheet's entry (it has the drawing), not the solution's."""
    return next(e for e in cache_entries(cache) if '"drawing": [' in (e / "meta.json").read_text())


def plant_compiled_templates(folder: Path, marker: Path) -> None:
    """What the attack did: Jinja's compiled-template files, replaced by pickles that run a
    command when loaded."""
    import pickle

    import jinja2

    from bpquiz.sheets.templates import template_roots

    compiled = folder / "jinja"
    compiled.mkdir(parents=True)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(r) for r in template_roots(None)]),
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(compiled)),
    )
    for name in ("sheet.html", "solution.html", "base.html", "macros.html"):
        env.get_template(name)

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for path in compiled.iterdir():
        path.write_bytes(pickle.dumps(Payload()))


def test_nothing_in_a_shared_cache_folder_runs_as_the_teacher(tmp_path, warm):
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)  # BPQUIZ_CACHE pointing at a folder everyone can write
    marker = tmp_path / "owned"
    plant_compiled_templates(cache, marker)
    result = make_sheets(tmp_path, "out", cache)
    assert not marker.exists()
    assert pdfs(tmp_path / "out") == warm.pdfs
    assert result.stderr.startswith(
        f"Warning: not using the skeleton cache {cache}: {cache} is writable by others"
    )
    assert sorted(p.name for p in cache.iterdir()) == ["jinja"]  # nothing kept there either


def test_compiled_templates_are_never_unpickled_even_from_a_private_cache(tmp_path, warm):
    cache = copy_of(warm, tmp_path)
    marker = tmp_path / "owned"
    plant_compiled_templates(cache, marker)
    result = make_sheets(tmp_path, "out", cache)
    assert not marker.exists() and "Warning" not in result.stderr
    assert pdfs(tmp_path / "out") == warm.pdfs


def trusted(folder: Path) -> tuple[Path | None, str]:
    import warnings

    from bpquiz.sheets.stamping.cache import trusted_folder

    with warnings.catch_warnings(record=True) as caught, pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("always")
        mp.setenv("BPQUIZ_CACHE", str(folder))
        found = trusted_folder()
    return found, " ".join(str(w.message) for w in caught)


def test_a_cache_folder_is_trusted_only_when_private_all_the_way_up(tmp_path):
    mine = tmp_path / "mine"
    assert trusted(mine) == (mine, "")
    assert mine.stat().st_mode & 0o777 == 0o700  # made private
    for mode in (0o775, 0o757):
        mine.chmod(mode)
        assert trusted(mine) == (None, f"not using the skeleton cache {mine}: {mine} is writable by others; make it yours and not writable by others (chmod go-w), or set BPQUIZ_CACHE to a private folder")  # fmt: skip
    shared = tmp_path / "shared"
    (shared / "mine").mkdir(parents=True, mode=0o700)
    shared.chmod(0o777)  # not sticky: anyone may rename the cache and put theirs in its place
    found, warning = trusted(shared / "mine")
    assert found is None and f"{shared} is writable by others" in warning
    shared.chmod(0o1777)  # sticky, as /tmp: only the owner may rename it
    assert trusted(shared / "mine") == (shared / "mine", "")
    if os.geteuid() == 0:  # making a folder another user's needs root
        os.chown(shared / "mine", 65534, 65534)
        found, warning = trusted(shared / "mine")
        assert found is None and "belongs to another user (uid 65534)" in warning


def damage_meta(entry: Path, change, digest: bool) -> None:
    from bpquiz.sheets.stamping.cache import _digest

    meta = json.loads((entry / "meta.json").read_text())
    change(meta)
    if digest:
        meta["digest"] = _digest(meta)
    (entry / "meta.json").write_text(json.dumps(meta))


def shift(meta: dict) -> None:
    meta["places"][0]["left"] += 300


def far_page(meta: dict) -> None:
    meta["places"][0]["page"] = 99


@pytest.mark.parametrize(
    ("change", "digest"),
    [
        (shift, False),  # once a wrong sheet; the entry's digest shows it was changed
        (far_page, False),
        (far_page, True),  # once an IndexError on every later run; the check finds it
    ],
    ids=["left += 300", "page = 99", "page = 99, digest matching"],
)
def test_a_damaged_cache_entry_is_made_again_never_crashes_nor_changes_a_sheet(
    tmp_path, warm, change, digest
):
    cache = copy_of(warm, tmp_path)
    damage_meta(sheet_entry(cache), change, digest)
    make_sheets(tmp_path, "second", cache)
    assert pdfs(tmp_path / "second") == warm.pdfs
    make_sheets(tmp_path, "third", cache)  # and the entry made again is sound
    assert pdfs(tmp_path / "third") == warm.pdfs


def loaded(cache: Path):
    """The sheet's skeleton and fonts, as load() gives them."""
    from bpquiz.sheets.stamping import cache as skeleton_cache

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BPQUIZ_CACHE", str(cache))
        return skeleton_cache.load(sheet_entry(cache).name)


def test_every_field_of_an_entry_is_checked_against_what_a_skeleton_can_hold(warm):
    """Each change below, written into an entry whose digest matched it, once crashed a run or
    changed a sheet; check_entry refuses each (and load() then makes the entry again)."""
    import dataclasses

    from bpquiz.sheets.stamping.cache import check_entry
    from bpquiz.sheets.stamping.fonts import Face, Glyphs

    found = loaded(warm.cache)
    assert found is not None
    skeleton, fonts = found
    check_entry(skeleton, fonts)
    place, template = skeleton.places[0], skeleton.template

    def places(**change):
        return dataclasses.replace(skeleton, places=(dataclasses.replace(place, **change),))

    face = next(iter(fonts.faces))
    resource = next(iter(fonts.faces[face].chars.values()))[0]
    cut = template.pages[0]
    broken = [
        (places(page=99), fonts),
        (places(left=float("nan")), fonts),
        (places(baseline=99_999.0), fonts),
        (places(width=-5.0), fonts),
        (places(slot=-1), fonts),
        (places(align="justify"), fonts),
        (places(face=Face(("Nope",), 400, "normal", "normal")), fonts),
        (places(color=(2.0, 0.0, 0.0)), fonts),
        (dataclasses.replace(skeleton, pages=0), fonts),
        (dataclasses.replace(skeleton, drawing=dataclasses.replace(skeleton.drawing, page=7)), fonts),
        (dataclasses.replace(skeleton, template=dataclasses.replace(template, pages=template.pages[:-1])), fonts),
        (dataclasses.replace(skeleton, template=dataclasses.replace(template, xref=template.xref[:7] + b"\x01\x00\x00\x00\x05\x00\x00" + template.xref[14:])), fonts),
        (dataclasses.replace(skeleton, template=dataclasses.replace(template, root=10**7)), fonts),
        (dataclasses.replace(skeleton, template=dataclasses.replace(template, pages=(dataclasses.replace(cut, frames=("1 0 0 1 0 0 cm (x) Tj", *cut.frames[1:])), *template.pages[1:]))), fonts),
        (dataclasses.replace(skeleton, template=dataclasses.replace(template, pages=(dataclasses.replace(cut, keys=(10 ** 6, *cut.keys[1:])), *template.pages[1:]))), fonts),
        (dataclasses.replace(skeleton, kit=dataclasses.replace(skeleton.kit, part=10**6)), fonts),
        (skeleton, dataclasses.replace(fonts, faces={**fonts.faces, face: Glyphs({"a": ("A B) Tj", 3, 500.0)})})),
        (skeleton, dataclasses.replace(fonts, faces={**fonts.faces, face: Glyphs({"a": (resource, 70_000, 500.0)})})),
    ]  # fmt: skip
    for bad_skeleton, bad_fonts in broken:
        with pytest.raises(ValueError):
            check_entry(bad_skeleton, bad_fonts)


@pytest.mark.parametrize("how", ["link", "group-writable", "fifo", "another name"])
def test_an_entry_file_that_is_a_link_or_others_can_write_is_not_read(
    tmp_path, warm, how, monkeypatch
):
    from bpquiz.sheets.stamping import cache as skeleton_cache

    cache = copy_of(warm, tmp_path)
    entry = sheet_entry(cache)
    skeleton = entry / "template.head"
    if how == "link":
        copy = tmp_path / "elsewhere.pdf"
        copy.write_bytes(skeleton.read_bytes())
        skeleton.unlink()
        os.symlink(copy, skeleton)
    elif how == "fifo":
        skeleton.unlink()
        os.mkfifo(skeleton)
    elif how == "group-writable":
        skeleton.chmod(0o664)
    else:
        os.symlink(entry, cache / ("f" * 32))  # an entry found under another name, via a link
        entry = cache / ("f" * 32)
    monkeypatch.setenv("BPQUIZ_CACHE", str(cache))
    assert skeleton_cache.load(entry.name) is None


def test_pruning_removes_only_bpquiz_entries(tmp_path, warm, monkeypatch):
    from bpquiz.sheets.stamping import cache as skeleton_cache

    cache = copy_of(warm, tmp_path)
    found = loaded(cache)
    monkeypatch.setenv("BPQUIZ_CACHE", str(cache))
    assert found is not None
    theirs = [cache / f"project-{n}" for n in range(70)]
    for folder in theirs:
        folder.mkdir()
        (folder / "notes.txt").write_text("keep me")
    lookalike = cache / ("0123456789abcdef" * 2)  # named like an entry, not marked as one
    lookalike.mkdir()
    (cache / "file.txt").write_text("keep me")
    monkeypatch.setattr(skeleton_cache, "KEEP", 3)
    for n in range(6):
        skeleton_cache.store(f"{n:032x}", *found)
    assert len(cache_entries(cache)) == 3
    assert all((folder / "notes.txt").read_text() == "keep me" for folder in theirs)
    assert lookalike.is_dir() and (cache / "file.txt").exists()
    for entry in cache_entries(cache):  # and what is kept is private
        assert entry.stat().st_mode & 0o777 == 0o700
        assert {f.stat().st_mode & 0o777 for f in entry.iterdir()} == {0o600}


# --- edited templates: a sandbox, and only the template folders' own files ----------------------


@pytest.fixture
def templates(tmp_path) -> Path:
    folder = tmp_path / "my-sheets"
    assert runner.invoke(app, ["templates", str(folder)]).exit_code == 0
    return folder


def generate_with(tmp_path: Path, folder: Path, *more: str):
    return runner.invoke(
        app,
        ["generate", "--seed", "42", "--templates", str(folder), "--out", str(tmp_path / "out"),
         "--keys-dir", str(tmp_path / "keys"), *more],
    )  # fmt: skip


@pytest.mark.parametrize(
    "code",
    [
        "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self._TemplateReference__context }}",
    ],
)
@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_an_edited_template_runs_in_a_sandbox(tmp_path, templates, code, fmt):
    marker = tmp_path / "owned"
    edit(templates, code.replace("MARKER", str(marker)))
    line = one_error_line(generate_with(tmp_path, templates, "--format", fmt))
    assert "the sheet template tried something a template may not" in line
    assert not marker.exists()
    assert not list(tmp_path.glob("keys/*.json"))


def edit(templates: Path, code: str) -> None:
    """Put `code` where the sheet template renders it: inside its content block."""
    sheet = templates / "sheet.html"
    text = sheet.read_text()
    sheet.write_text(text.replace("{% block content %}", "{% block content %}" + code, 1))


def test_a_template_linked_from_outside_the_folder_is_not_read(tmp_path, templates):
    secret = tmp_path / "secret.html"
    secret.write_text("SECRET {% include 'x' %}")
    (templates / "sheet.html").unlink()
    os.symlink(secret, templates / "sheet.html")
    line = one_error_line(generate_with(tmp_path, templates, "--format", "html"))
    assert f"{templates}/sheet.html is a link out of the template folder" in line


@pytest.mark.parametrize(
    "include",
    ["../secret.html", "/etc/passwd", "linked.html"],
)
def test_includes_are_read_only_inside_the_template_folders(tmp_path, templates, include):
    secret = tmp_path / "secret.html"
    secret.write_text("SECRET")
    if include == "linked.html":
        os.symlink(secret, templates / "elsewhere" if False else templates / "linked.html")
    sheet = templates / "sheet.html"
    sheet.write_text(sheet.read_text() + f"{{% include '{include}' %}}")
    result = generate_with(tmp_path, templates, "--format", "html")
    line = one_error_line(result)
    assert "SECRET" not in result.output
    assert "link out of the template folder" in line or "template failed" in line
    assert (
        not list((tmp_path / "out").glob("*-sheet.html")) if (tmp_path / "out").exists() else True
    )


def test_a_huge_file_or_a_pipe_in_the_template_folder_is_one_line_quickly(tmp_path, templates):
    with open(templates / "logo.png", "wb") as huge:  # 1.5 GB, sparse: it was read whole
        huge.truncate(1536 << 20)
    start = time.monotonic()
    line = one_error_line(generate_with(tmp_path, templates))
    assert f"{templates}/logo.png is larger than 16 MiB" in line
    (templates / "logo.png").unlink()
    os.mkfifo(templates / "sheet.css")
    line = one_error_line(generate_with(tmp_path, templates))
    assert f"{templates}/sheet.css is not a regular file" in line
    assert time.monotonic() - start < 10


def test_copying_the_templates_never_writes_through_a_link(tmp_path, templates):
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    (templates / "sheet.html").unlink()
    os.symlink(precious, templates / "sheet.html")
    result = runner.invoke(app, ["templates", str(templates), "--force"])
    assert result.exit_code == 0, result.output
    assert precious.read_text() == "mine" and not (templates / "sheet.html").is_symlink()


# --- a class of 10,000: printed plainly, the pool where it pays off ------------------------------


def big_report(count: int):
    from bpquiz.grading.items import Item, Report, Result, Status

    items = tuple(
        Item(f"q{i}", Status.CORRECT if i % 7 else Status.WRONG, float(i % 7 > 0), 1.0, 0.5, 0.5)
        for i in range(50)
    )
    return Report(tuple(Result(f"s{n:05}", "K7Q2M", items) for n in range(count)))


def test_a_large_class_is_printed_plainly_one_line_a_student(capsys):
    import io

    from rich.console import Console

    from bpquiz.grading.report import PLAIN_FROM, print_report

    buffer = io.StringIO()
    print_report(big_report(PLAIN_FROM), Console(file=buffer, width=80, emoji=False))
    lines = buffer.getvalue().splitlines()
    assert lines[0].split() == ["student", "variant", "score"]
    assert lines[1] == "s00000   K7Q2M    42/50 (84.0%)  8 wrong"
    assert lines[PLAIN_FROM].startswith(f"s{PLAIN_FROM - 1:05}")
    assert lines[PLAIN_FROM + 1].startswith(f"{PLAIN_FROM} students graded: mean 42/50")
    assert not any(c in buffer.getvalue() for c in "│━─")  # no table drawn


def test_json_of_a_large_class_is_one_student_a_line_and_the_same_document():
    from bpquiz.grading.report import results_json

    report = big_report(300)
    text = results_json(report)
    assert json.loads(text) == report.to_dict()
    lines = text.splitlines()
    assert sum(line.startswith('  {"student": ') for line in lines) == 300
    assert len(lines) < 300 + 10


def test_grading_beside_the_pool_gives_what_grading_alone_gives(exam, tmp_path, monkeypatch):
    from bpquiz.exercises.key import open_keys
    from bpquiz.grading import batch

    folder = tmp_path / "class"
    for n in range(40):
        answers_file(exam, folder, f"s{n:02}.json", f"s{n:02}", variant=n % 2)
    (folder / "zz.json").write_text("{")
    keys = open_keys(None, exam.keys)
    alone = batch.grade_paths([folder], keys, jobs=1)
    monkeypatch.setattr(batch, "PARALLEL_FROM", 2)
    monkeypatch.setattr(batch, "WARM_UP", 3)
    beside = batch.grade_paths([folder], keys, jobs=3)
    assert beside.to_dict() == alone.to_dict()


def test_the_pool_is_used_only_on_cpus_that_are_free(monkeypatch):
    from bpquiz.grading import batch

    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3}, raising=False)
    for load, jobs in ((0.1, 4), (1.0, 4), (1.5, 3), (3.2, 1), (9.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert batch._cpus() == jobs
