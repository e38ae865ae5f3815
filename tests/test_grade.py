"""Marking: comparison boundaries, items, key lookup, batches, reports, and the CLI end to end."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bpquiz.api import generate_exam
from bpquiz.cli import app
from bpquiz.errors import OptionError
from bpquiz.exercises.draw import customise
from bpquiz.exercises.key import KeyFileError, index_keys, key_files, load_key, open_keys
from bpquiz.grading.batch import grade_paths
from bpquiz.grading.compare import (
    Comparison,
    Model,
    right_to_fewer_digits,
    within_decimals,
    within_sigfigs,
    within_tolerance,
)
from bpquiz.grading.items import (
    Context,
    Item,
    Report,
    Result,
    Status,
    grade_sheet,
)
from bpquiz.grading.report import gradebook_csv, neutralise
from bpquiz.maths.rounding import ALLOWANCE_UNITS, Mode, Rounding, unit

runner = CliRunner()

# --- comparison models: the boundaries ----------------------------------------------------------

VALUES = [0.59327, -0.0937, 0.0064, 12.34, -1.0, 0.0]


@pytest.mark.parametrize("true", VALUES)
@pytest.mark.parametrize("tol", [6e-5, 5e-3, 0.1])
def test_key_tolerance_boundary(true, tol):
    key = Comparison()
    for sign in (1, -1):
        assert key.accepts(true + sign * 0.9 * tol, true, tol)
        assert not key.accepts(true + sign * 1.1 * tol, true, tol)
    assert key.allowance(true, tol) == tol


@pytest.mark.parametrize("true", VALUES)
@pytest.mark.parametrize(("atol", "rtol"), [(1e-3, 0.0), (0.0, 0.01), (1e-4, 0.02)])
def test_absolute_relative_boundary(true, atol, rtol):
    allowed = atol + rtol * abs(true)
    if allowed == 0:  # a purely relative tolerance accepts only 0 itself for a true 0
        assert within_tolerance(0.0, true, atol, rtol)
        assert not within_tolerance(1e-12, true, atol, rtol)
        return
    model = Comparison(Model.TOLERANCE, atol=atol, rtol=rtol)
    for sign in (1, -1):
        assert within_tolerance(true + sign * 0.9 * allowed, true, atol, rtol)
        assert not within_tolerance(true + sign * 1.1 * allowed, true, atol, rtol)
        assert model.accepts(true + sign * 0.9 * allowed, true, key_tol=1e9)  # key ignored
        assert not model.accepts(true + sign * 1.1 * allowed, true, key_tol=1e9)


@pytest.mark.parametrize("true", VALUES)
@pytest.mark.parametrize("digits", [1, 2, 3, 4, 6])
def test_sigfigs_boundary(true, digits):
    allowed = ALLOWANCE_UNITS * unit(Mode.SIGFIGS, digits, true)
    model = Comparison(Model.SIGFIGS, digits=digits)
    for sign in (1, -1):
        assert within_sigfigs(true + sign * 0.9 * allowed, true, digits)
        assert not within_sigfigs(true + sign * 1.1 * allowed, true, digits)
        assert model.accepts(true + sign * 0.9 * allowed, true, key_tol=0.0)
        assert not model.accepts(true + sign * 1.1 * allowed, true, key_tol=0.0)


@pytest.mark.parametrize("true", VALUES)
@pytest.mark.parametrize("digits", [1, 2, 3, 4, 6])
def test_decimals_boundary(true, digits):
    allowed = ALLOWANCE_UNITS * 10.0**-digits
    model = Comparison(Model.DECIMALS, digits=digits)
    for sign in (1, -1):
        assert within_decimals(true + sign * 0.9 * allowed, true, digits)
        assert not within_decimals(true + sign * 1.1 * allowed, true, digits)
        assert model.accepts(true + sign * 0.9 * allowed, true, key_tol=0.0)
        assert not model.accepts(true + sign * 1.1 * allowed, true, key_tol=0.0)


def test_digit_models_accept_the_value_rounded_and_not_the_next_one():
    assert within_decimals(0.5933, 0.59327, 4)
    assert not within_decimals(0.5932, 0.59327, 4)  # 0.7 units off
    assert within_sigfigs(0.00937, 0.0093712, 3)
    assert not within_sigfigs(0.00938, 0.0093712, 3)
    assert within_sigfigs(12.3, 12.34, 3)
    assert not within_sigfigs(12.4, 12.34, 3)


def test_boundaries_are_inclusive():
    assert within_tolerance(1.5, 1.0, atol=0.5)
    assert within_tolerance(0.25, 0.5, rtol=0.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_never_right(bad):
    for model in (
        Comparison(),
        Comparison(Model.TOLERANCE, atol=1e9),
        Comparison(Model.SIGFIGS, digits=1),
        Comparison(Model.DECIMALS, digits=1),
    ):
        assert not model.accepts(bad, 0.5, 1e9)
        assert not model.accepts(0.5, bad, 1e9)
        assert not model.accepts(bad, bad, 1e9)


@pytest.mark.parametrize(
    "args",
    [
        {"model": Model.SIGFIGS, "digits": 0},
        {"model": Model.DECIMALS, "digits": 11},
        {"model": Model.TOLERANCE, "atol": -1.0},
        {"model": Model.TOLERANCE, "rtol": math.nan},
    ],
)
def test_bad_comparison_settings(args):
    with pytest.raises(OptionError):
        Comparison(**args)


def test_right_to_fewer_digits():
    rule = Rounding(Mode.DECIMALS, 4)
    assert right_to_fewer_digits(0.593, 0.59327, 3, rule)
    assert right_to_fewer_digits(0.59, 0.59327, 2, rule)
    assert not right_to_fewer_digits(0.594, 0.59327, 3, rule)  # wrong even to 3 places
    assert not right_to_fewer_digits(0.5933, 0.59327, 4, rule)  # not fewer digits
    sig = Rounding(Mode.SIGFIGS, 3)
    assert right_to_fewer_digits(0.0094, 0.0093712, 2, sig)
    assert not right_to_fewer_digits(0.0095, 0.0093712, 2, sig)


# --- one exam, generated once for the module ---------------------------------------------------


def make_exam(root: Path, preset="classic", seed=42, count=2, rounding=None, students=None):
    name = f"{preset}-{seed}"
    settings = customise(preset, rounding=rounding)
    written = generate_exam(
        settings,
        seed,
        count,
        students=students,
        name=name,
        keys_dir=root / "answer_keys",
        out_dir=root / "exams" / name,
    )
    variants = written.variants
    return settings, variants, written


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    root = tmp_path_factory.mktemp("exam")
    settings, variants, written = make_exam(root)
    return SimpleNamespace(root=root, settings=settings, variants=variants, written=written)


def template(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def fill(doc: dict, values: dict, student="s1") -> dict:
    doc = dict(doc, student=student)
    doc["answers"] = {qid: values[qid] for qid in doc["answers"]}
    return doc


def key_values(exam_dir: Path, code: str) -> tuple[dict[str, float], Rounding]:
    keys = open_keys(None, exam_dir / "answer_keys")
    variant = keys.find(code)
    return {q.id: q.value for q in variant.asked}, variant.rounding


def write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = doc if isinstance(doc, str | bytes) else json.dumps(doc, ensure_ascii=False)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def invoke(root: Path, *args: str):
    return runner.invoke(app, ["grade", *args, "--keys", str(root / "answer_keys")])


# --- round trip -------------------------------------------------------------------------------


ROUND_TRIP = [
    ("classic", None),
    ("batch", None),
    ("softmax", None),
    ("deep", None),
    ("chain", Rounding(Mode.SIGFIGS, 3)),
    ("classic", Rounding(Mode.DECIMALS, 3)),
]


@pytest.mark.parametrize(("preset", "rounding"), ROUND_TRIP)
def test_round_trip(tmp_path, preset, rounding):
    """generate → the key rounded as the sheet asks, or the rounded-intermediates path → full
    marks; the same with a real mistake (adding η·gradient) → exactly the updates lost."""
    settings, variants, written = make_exam(tmp_path, preset, seed=7, count=2, rounding=rounding)
    rule = settings.rounding
    keys = open_keys(None, tmp_path / "answer_keys")
    for variant, path in zip(variants, written.answers, strict=True):
        blank = template(path)
        solution = variant.solution

        typed = {q: rule.format(v) for q, v in solution.values.items()}  # with "−", as printed
        rounded_path = {k: float(v) for k, v in solution.rounded_path(rule).items()}
        givens = solution.givens()
        mistaken = dict(rounded_path)
        moved = set()  # the updates the mistake changes: not those of a zero gradient (a dead ReLU)
        for q in solution.computed():
            if q.kind in ("w_new", "b_new"):
                old, _, gradient = q.inputs()  # w − η·∂L/∂w
                mistaken[q.id] = givens[old] + givens["eta"] * rounded_path[gradient]
                if rounded_path[gradient] != 0:
                    moved.add(q.id)

        for values in (typed, rounded_path):
            files = [write(tmp_path / "in" / f"{variant.code}.json", fill(blank, values))]
            report = grade_paths(files, keys, jobs=1)
            assert report.ok, report.errors
            (result,) = report.results
            assert result.score == result.max_score > 0, [
                i for i in result.items if i.status is not Status.CORRECT
            ]

        files = [write(tmp_path / "in" / f"{variant.code}.json", fill(blank, mistaken))]
        (result,) = grade_paths(files, keys, jobs=1).results
        wrong = {i.id for i in result.items if i.status is Status.WRONG}
        assert wrong == moved and moved
        assert result.score == result.max_score - len(moved)


def test_round_trip_through_the_cli(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    values, rule = key_values(root, variants[0].code)
    filled = fill(template(written.answers[0]), {k: rule.format(v) for k, v in values.items()})
    path = write(tmp_path / "s1.json", filled)
    result = invoke(root, str(path))
    assert result.exit_code == 0, result.output
    assert f"Total: {len(values)}/{len(values)} (100.0%)" in result.stdout


# --- items -------------------------------------------------------------------------------------


def one_sheet(exam, answers: dict, student="s1"):
    root = exam.root
    written = exam.written
    from bpquiz.grading.readers.json_file import parse_answers

    doc = template(written.answers[0])
    doc["answers"].update(answers)
    doc["student"] = student
    keys = open_keys(None, root / "answer_keys")
    sheet = parse_answers(json.dumps(doc).encode(), "s1.json")
    return sheet, keys.find(sheet.variant)


def item(result: Result, qid: str) -> Item:
    return next(i for i in result.items if i.id == qid)


def test_each_status_and_its_feedback(exam):
    root = exam.root
    variants = exam.variants
    values, rule = key_values(root, variants[0].code)
    sheet, variant = one_sheet(
        exam,
        {
            "z1_1": rule.format(values["z1_1"]),
            "z1_2": round(values["z1_2"], 2),
            "z1_3": values["z1_3"] + 0.01,
            "a1_1": "abc",
            "a1_2": None,
            "a1_3": True,
        },
    )
    result = grade_sheet(sheet, variant)
    assert item(result, "z1_1").status is Status.CORRECT
    assert item(result, "z1_1").credit == 1.0
    fewer = item(result, "z1_2")
    assert fewer.status is Status.WRONG
    assert fewer.feedback.startswith("right to 2 decimal places, but the sheet asks for 4")
    off = item(result, "z1_3")
    assert (off.status, off.credit) == (Status.WRONG, 0.0)
    assert "is off by 0.01" in off.feedback
    assert item(result, "a1_1").status is Status.INVALID
    assert item(result, "a1_1").given == "abc"
    assert item(result, "a1_1").feedback == '"abc" is not a number'
    assert (item(result, "a1_2").status, item(result, "a1_2").feedback) == (
        Status.MISSING,
        "no answer",
    )
    assert item(result, "a1_3").feedback == "true is not a number"
    assert result.max_score == len(variant.asked)
    assert result.score == 1


def test_json_shape_is_exactly_the_documented_one(exam, tmp_path):
    root = exam.root
    written = exam.written
    good = write(tmp_path / "a.json", template(written.answers[0]))
    bad = write(tmp_path / "b.json", "not json")
    result = invoke(root, str(good), str(bad), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"results", "errors", "notes"}
    assert doc["notes"] == []
    (res,) = doc["results"]
    assert set(res) == {"student", "variant", "score", "max_score", "items"}
    assert res["student"] == "a"  # a blank student falls back to the file name
    assert set(res["items"][0]) == {
        "id",
        "status",
        "credit",
        "points",
        "typed",
        "expected",
        "given",
        "misconception",
        "feedback",
    }
    assert {i["status"] for i in res["items"]} == {"missing"}
    assert doc["errors"] == [
        {"file": str(bad), "error": "not JSON: Expecting value (line 1, column 1)"}
    ]
    assert "Error: " + str(bad) in result.stderr


def test_unknown_ids_are_listed_not_ignored(exam):
    """A misspelt id is reported, and the file's other answers are still graded."""
    values, _ = key_values(exam.root, exam.variants[0].code)
    sheet, variant = one_sheet(exam, {"a1_9": 0.5, "Z1_1": 0.2, "z1_2": values["z1_2"]})
    result = grade_sheet(sheet, variant)
    (problem,) = result.problems
    assert problem.startswith('unknown quantity ids "a1_9", "Z1_1" (variant ')
    assert problem.endswith("they were not graded, the other answers were")
    assert item(result, "z1_2").status is Status.CORRECT
    assert item(result, "z1_1").status is Status.MISSING


def test_an_unknown_id_in_a_file_is_an_error_and_the_rest_is_graded(exam, tmp_path):
    doc = template(exam.written.answers[0])
    values, _ = key_values(exam.root, doc["variant"])
    doc["student"] = "s1"
    doc["answers"] = {"z1_1": values["z1_1"], "z1_l": 0.5}
    path = write(tmp_path / "typo.json", doc)
    result = invoke(exam.root, str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    (graded,) = report["results"]
    assert graded["score"] == 1
    (error,) = report["errors"]
    assert error["file"] == str(path)
    assert error["error"].startswith('unknown quantity id "z1_l"')


def test_overrides_change_the_verdict(exam):
    root = exam.root
    variants = exam.variants
    values, _ = key_values(root, variants[0].code)
    close = values["z1_1"] + 0.004
    sheet, variant = one_sheet(exam, {"z1_1": close})
    assert item(grade_sheet(sheet, variant), "z1_1").status is Status.WRONG
    loose = Comparison(Model.DECIMALS, digits=2)
    assert item(grade_sheet(sheet, variant, loose), "z1_1").status is Status.CORRECT
    relative = Comparison(Model.TOLERANCE, rtol=0.5)
    assert item(grade_sheet(sheet, variant, relative), "z1_1").status is Status.CORRECT


def test_markers_see_wrong_items_and_earlier_ones(exam):
    """The extension point the follow-through issue builds on."""
    root = exam.root
    variants = exam.variants
    values, _ = key_values(root, variants[0].code)
    seen: list[tuple[str, list[str], dict]] = []

    def half_credit(item: Item, context: Context) -> Item:
        seen.append((item.id, list(context.graded), dict(context.given)))
        return item._replace(status=Status.FOLLOW_THROUGH, credit=0.5, feedback="carried")

    sheet, variant = one_sheet(exam, {"z1_1": values["z1_1"], "z1_2": 9.0})
    result = grade_sheet(sheet, variant, markers=[half_credit])
    assert [s[0] for s in seen] == ["z1_2"]
    assert seen[0][1] == ["z1_1"]
    assert seen[0][2] == {"z1_1": values["z1_1"], "z1_2": 9.0}
    assert item(result, "z1_2").status is Status.FOLLOW_THROUGH
    assert result.score == 1.5


# --- keys and variant codes --------------------------------------------------------------------


def test_variant_code_is_only_a_lookup_value(exam, tmp_path):
    root = exam.root
    written = exam.written
    # Even with a "key" sitting exactly where the code would lead as a path, it is never used.
    write(tmp_path / "etc" / "passwd.json", {"format": "bpquiz-key/1"})
    for code in ("../../etc/passwd", "../answer_keys/classic-42", "/etc/passwd", "5E945/.."):
        doc = dict(template(written.answers[0]), variant=code)
        path = write(tmp_path / "x" / "evil.json", doc)
        result = invoke(root, str(path), "--json")
        assert result.exit_code == 1
        (error,) = json.loads(result.stdout)["errors"]
        assert error["error"].startswith(f"unknown variant {json.dumps(code)}")


def test_codes_are_read_off_paper(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    doc = dict(template(written.answers[0]), variant=f"  {variants[0].code.lower()} ")
    result = invoke(root, str(write(tmp_path / "lower.json", doc)))
    assert result.exit_code == 0, result.output


def test_the_same_code_in_two_keys_asks_for_key(exam, tmp_path):
    root = exam.root
    written = exam.written
    keys = tmp_path / "keys"
    keys.mkdir()
    original = root / "answer_keys" / "classic-42.json"
    (keys / "a.json").write_bytes(original.read_bytes())
    (keys / "b.json").write_bytes(original.read_bytes())
    answers = write(tmp_path / "s.json", template(written.answers[0]))
    result = runner.invoke(app, ["grade", str(answers), "--keys", str(keys)])
    assert result.exit_code == 1
    assert "is in several keys" in result.stderr and "--key FILE" in result.stderr
    result = runner.invoke(app, ["grade", str(answers), "--key", str(keys / "a.json")])
    assert result.exit_code == 0, result.output


def test_one_code_twice_in_a_key_is_refused_when_the_key_is_read(exam, tmp_path):
    """Two variants of one key with the same code (one in lower case) were exported, then every
    grade said the code "is in several keys (k.json, k.json)"."""
    document = template(exam.root / "answer_keys" / "classic-42.json")
    first = document["variants"][0]
    document["variants"].append(dict(first, variant=f" {first['variant'].lower()}"))
    key = write(tmp_path / "k.json", document)
    reason = (
        f'{key}: variants[{len(document["variants"]) - 1}].variant: the code "{first["variant"]}" '
        "is also variants[0]'s: each variant of a key needs its own code"
    )
    with pytest.raises(KeyFileError) as raised:
        load_key(key)
    assert str(raised.value) == reason
    exported = runner.invoke(app, ["export", str(key), "--moodle", str(tmp_path / "k.xml")])
    assert exported.exit_code == 1 and exported.stderr == f"Error: {reason}\n"
    assert not (tmp_path / "k.xml").exists()
    answers = write(tmp_path / "s.json", template(exam.written.answers[0]))
    graded = runner.invoke(app, ["grade", str(answers), "--key", str(key)])
    assert graded.exit_code == 1 and f"Error: {reason}" in graded.stderr


def test_a_broken_key_among_good_ones(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "classic.json").write_bytes((root / "answer_keys" / "classic-42.json").read_bytes())
    (keys / "broken.json").write_text("{", encoding="utf-8")
    index = index_keys(key_files(keys))
    assert index.find(variants[0].code).exam == "classic-42"
    assert [f for f, _ in index.errors] == [str(keys / "broken.json")]
    answers = write(tmp_path / "s.json", template(written.answers[0]))
    result = runner.invoke(app, ["grade", str(answers), "--keys", str(keys), "--json"])
    assert result.exit_code == 1  # graded, but the teacher must hear about the broken key
    doc = json.loads(result.stdout)
    assert len(doc["results"]) == 1
    assert doc["errors"][0]["file"] == str(keys / "broken.json")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[]", "expected a JSON object"),
        ('{"format": "bpquiz-answers/1"}', 'format is "bpquiz-answers/1"'),
        ('{"format": "bpquiz-key/1"}', "exam: expected an object"),
        (
            '{"format": "bpquiz-key/1", "exam": {"rounding": {"mode": "x", "digits": 4}}}',
            "exam.rounding",
        ),
    ],
)
def test_bad_keys_are_one_line(tmp_path, content, reason):
    path = write(tmp_path / "k.json", content)
    with pytest.raises(KeyFileError, match=reason):
        load_key(path)
    result = runner.invoke(app, ["grade", str(path), "--key", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and reason in result.stderr


def test_no_keys_at_all(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "s.json", {"format": "bpquiz-answers/1"})
    result = runner.invoke(app, ["grade", "s.json"])
    assert result.exit_code == 1
    assert "no answer-key folder answer_keys/" in result.stderr
    assert "Traceback" not in result.output


def test_the_roster_student_is_who_counts(tmp_path):
    students = [{"id": "s100", "name": "Ada"}, {"id": "s200", "name": "Alan"}]
    written = make_exam(tmp_path, count=2, students=students)[2]
    first = template(written.answers[0])
    assert first["student"] == "s100"
    ok = write(tmp_path / "in" / "a.json", dict(first, student=""))
    swapped = write(tmp_path / "in" / "b.json", dict(first, student="s200"))
    result = invoke(tmp_path, str(ok), str(swapped), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [r["student"] for r in doc["results"]] == ["s100"]
    assert 'says student "s200"' in doc["errors"][0]["error"]


# --- a batch with one broken file of each kind -------------------------------------------------


def test_a_batch_survives_every_kind_of_broken_file(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    values, rule = key_values(root, variants[0].code)
    blank = template(written.answers[0])
    folder = tmp_path / "class"
    write(folder / "good1.json", fill(blank, {k: rule.format(v) for k, v in values.items()}, "g1"))
    write(folder / "good2.json", fill(blank, dict.fromkeys(values, "0,1"), "g2"))
    dup = json.dumps(fill(blank, values, "d")).replace('"z1_2":', '"z1_1": 1, "z1_2":', 1)
    broken = {
        "not_json.json": "{nope",
        "list.json": "[1, 2, 3]",
        "wrong_format.json": dict(blank, format="bpquiz-answers/9"),
        "no_format.json": {k: v for k, v in blank.items() if k != "format"},
        "unknown_variant.json": dict(blank, variant="ZZZZZ"),
        "duplicate.json": dup,
        "answers_list.json": dict(blank, answers=[1, 2]),
        "student_number.json": dict(blank, student=1234),
        "unknown_ids.json": dict(blank, answers={**blank["answers"], "zz9": 1}),
        "huge.json": b" " * (1024 * 1024 + 1),
        "deep.json": "[" * 5000 + "]" * 5000,
        "latin1.json": json.dumps(
            {**{k: v for k, v in blank.items() if k != "symbols"}, "student": "José"},
            ensure_ascii=False,
        ).encode("latin-1"),
        "empty.json": b"",
    }
    for name, content in broken.items():
        write(folder / name, content)
    empty_dir = tmp_path / "nothing_here"
    empty_dir.mkdir()
    before = {p: p.read_bytes() for p in folder.iterdir()}

    result = invoke(root, str(folder), str(empty_dir), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    # A file with an unknown id is reported and still graded (its blank answers score 0).
    assert sorted(r["student"] for r in doc["results"]) == ["g1", "g2", "unknown_ids"]
    scores = {r["student"]: r["score"] for r in doc["results"]}
    assert scores["g1"] == len(values) and scores["g2"] < len(values)
    assert scores["unknown_ids"] == 0
    errors = {Path(e["file"]).name: e["error"] for e in doc["errors"]}
    expected = {
        "not_json.json": "not JSON",
        "list.json": "got a list",
        "wrong_format.json": 'format is "bpquiz-answers/9"',
        "no_format.json": 'no "format" field',
        "unknown_variant.json": 'unknown variant "ZZZZZ"',
        "duplicate.json": 'the key "z1_1" appears twice',
        "answers_list.json": '"answers" must be an object',
        "student_number.json": '"student" must be a string',
        "unknown_ids.json": 'unknown quantity id "zz9"',
        "huge.json": "larger than 1 MiB",
        "deep.json": "nested more than 32 levels",
        "latin1.json": "not UTF-8 text",
        "empty.json": "empty file",
        "nothing_here": "no answer files (*.json, *.pdf, *.csv) in this folder",
    }
    assert set(errors) == set(expected)
    for name, reason in expected.items():
        assert reason in errors[name], name
        assert name in result.stderr
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in folder.iterdir()} == before  # inputs untouched

    # Without --json: one line per student, a summary, the errors on stderr, still exit 1.
    result = invoke(root, str(folder))
    assert result.exit_code == 1
    assert "3 students graded" in result.stdout
    assert "13 errors (see above)" in result.stdout
    assert result.stderr.count("Error: ") == 13


def test_parallel_and_serial_grading_agree(exam, tmp_path, monkeypatch):
    root = exam.root
    variants = exam.variants
    written = exam.written
    from bpquiz.grading import batch as grade_module

    values, _rule = key_values(root, variants[0].code)
    blank = template(written.answers[0])
    folder = tmp_path / "many"
    for n in range(30):
        answers = {k: v + (n % 3) * 0.001 * (i % 2) for i, (k, v) in enumerate(values.items())}
        write(folder / f"s{n:02}.json", fill(blank, answers, f"s{n:02}"))
    write(folder / "zz.json", "broken")
    keys = open_keys(None, root / "answer_keys")
    serial = grade_paths([folder], keys, jobs=1)
    monkeypatch.setattr(grade_module, "PARALLEL_FROM", 2)
    monkeypatch.setattr(grade_module, "WARM_UP", 5)  # the rest over a worker and this process
    parallel = grade_paths([folder], keys, jobs=2)
    assert parallel.to_dict() == serial.to_dict()
    assert [r.student for r in parallel.results] == [f"s{n:02}" for n in range(30)]
    assert len(parallel.errors) == 1


# --- CSV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("s1234", "s1234"),
        ("José", "José"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise(cell, safe):
    assert neutralise(cell) == safe


def test_gradebook_csv_neutralises_and_is_written_atomically(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    values, _rule = key_values(root, variants[0].code)
    blank = template(written.answers[0])
    folder = tmp_path / "class"
    evil = '=HYPERLINK("http://evil","click")'
    write(folder / "a.json", fill(blank, values, evil))
    write(folder / "b.json", fill(blank, dict.fromkeys(values), "@me"))
    gradebook = tmp_path / "out" / "grades.csv"
    write(gradebook, "old report")
    result = invoke(root, str(folder), "--csv", str(gradebook))
    assert result.exit_code == 1 and "Use --force to replace it" in result.stderr
    result = invoke(root, str(folder), "--csv", str(gradebook), "--force")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(gradebook.read_text(encoding="utf-8"))))
    assert rows[0][:5] == ["student", "variant", "score", "max_score", "percent"]
    assert rows[0][5:] == list(values)
    assert rows[1][:5] == [
        "'" + evil,
        variants[0].code,
        str(len(values)),
        str(len(values)),
        "100.0",
    ]
    assert rows[1][5:] == ["1"] * len(values)
    assert rows[2][:5] == ["'@me", variants[0].code, "0", str(len(values)), "0.0"]
    assert not [p for p in gradebook.parent.iterdir() if p.name != "grades.csv"]  # no temp left


def test_csv_for_students_of_different_exams(exam, tmp_path):
    a = Result("a", "AAAAA", (Item("z1_1", Status.CORRECT, 1.0, 1.0, 0.5, 0.5),))
    b = Result("b", "BBBBB", (Item("loss", Status.WRONG, 0.0, 2.0, 0.5, 0.1),))
    rows = list(csv.reader(io.StringIO(gradebook_csv(Report((a, b))))))
    assert rows[0][5:] == ["z1_1", "loss"]
    assert rows[1][5:] == ["1", ""] and rows[2][5:] == ["", "0"]


def test_csv_never_overwrites_an_input(exam, tmp_path):
    root = exam.root
    written = exam.written
    path = write(tmp_path / "s.json", template(written.answers[0]))
    before = path.read_bytes()
    result = invoke(root, str(path), "--csv", str(path))
    assert result.exit_code == 2
    assert path.read_bytes() == before


# --- CLI usage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["s.json", "--sigfigs", "3", "--decimals", "2"],
        ["s.json", "--atol", "0.1", "--sigfigs", "3"],
        ["s.json", "--atol", "-1"],
        ["s.json", "--atol", "nan"],
        ["s.json", "--sigfigs", "0"],
        ["s.json", "--key", "k.json", "--keys", "keys"],
    ],
)
def test_wrong_usage_exits_2(args):
    result = runner.invoke(app, ["grade", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_grade_has_help_with_an_example():
    result = runner.invoke(app, ["grade", "--help"])
    assert result.exit_code == 0
    assert "Example: bpquiz grade" in result.stdout


def test_one_student_gets_a_table(exam, tmp_path):
    root = exam.root
    variants = exam.variants
    written = exam.written
    values, rule = key_values(root, variants[0].code)
    answers = {k: rule.format(v) for k, v in values.items()}
    answers["a1_1"] = "[red]boom[/red]"
    path = write(tmp_path / "s.json", fill(template(written.answers[0]), answers, "[bold]x"))
    result = invoke(root, str(path))
    assert result.exit_code == 0, result.output
    assert "[bold]x · variant" in result.stdout  # shown as typed, never as markup
    assert '"[red]boom' in result.stdout  # the cell may wrap after this
    assert "invalid" in result.stdout
    assert f"Total: {len(values) - 1}/{len(values)}" in result.stdout


def test_a_student_handing_in_twice_is_flagged(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    result = CliRunner().invoke(
        app,
        ["generate", "--seed", "8", "--format", "html", "--keys-dir", str(keys_dir),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [template] = (tmp_path / "out").glob("*-answers.json")
    sheet = json.loads(template.read_text())
    sheet["student"] = "s1"
    first_id = next(iter(sheet["answers"]))
    for name, answer in (("first.json", 0.1), ("second.json", 0.2)):
        sheet["answers"][first_id] = answer  # answers in both: two submissions, not a blank copy
        (tmp_path / name).write_text(json.dumps(sheet))
    graded = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "first.json"), str(tmp_path / "second.json"), "--keys",
         str(keys_dir), "--json"],
    )  # fmt: skip
    assert graded.exit_code == 1
    report = json.loads(graded.stdout)
    assert len(report["results"]) == 2
    [error] = report["errors"]
    assert error["file"].endswith("second.json") and "first.json" in error["error"]
