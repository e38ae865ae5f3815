"""The exports against real clients, where they are installed (tests/lms_helpers.py says where):

- a real Moodle 4.4 (shared/tools/moodle): every preset's class set of 30 variants imports with
  no error or warning; Moodle marks the key's answers right and answers outside the tolerance
  wrong; a real quiz's Responses report regrades with follow-through;
- the IMS schemas (shared/tools/qti/validate.py): the QTI 2.1 and Canvas packages validate;
- Pyslet (shared/tools/qti/score.py), an independent QTI 2.1 implementation, scores the items.

Each is skipped, with the reason, where its client is missing (CI can't install Moodle: its
source is not reachable from there). tests/test_lms_grading.py covers the round trip in CI with
reports this Moodle made.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from lms_helpers import (
    FIXTURES,
    class_attempts,
    moodle_missing,
    qti_python,
    right_answers,
    run_quiz,
    shared_tools,
)

from bpquiz.api import export, generate_exam, grade
from bpquiz.exercises.draw import customise
from bpquiz.exercises.key import KeyVariant, load_key
from bpquiz.exercises.presets import PRESETS

CLASS = 30
needs_moodle = pytest.mark.skipif(moodle_missing() is not None, reason=str(moodle_missing()))
needs_qti = pytest.mark.skipif(
    qti_python() is None,
    reason="no QTI tools: run shared/tools/qti/setup.sh (PyPI lxml, pyslet) beside the checkout",
)


@pytest.fixture(scope="module")
def class_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimpleNamespace]:
    """Every preset's class set of 30 variants, with its Moodle, QTI and Canvas exports."""
    root = tmp_path_factory.mktemp("class-sets")
    sets = {}
    for preset in PRESETS:
        exam = generate_exam(
            customise(preset),
            11,
            CLASS,
            name=f"{preset}-11",
            keys_dir=root / "keys",
            out_dir=root / preset,
        )
        out = root / preset
        export(exam.key, moodle=out / "m.xml", qti=out / "q.zip", canvas=out / "c.zip")
        sets[preset] = SimpleNamespace(
            key=exam.key,
            variants=load_key(exam.key),
            moodle=out / "m.xml",
            qti=out / "q.zip",
            canvas=out / "c.zip",
            root=out,
        )
    return sets


# --- Moodle ----------------------------------------------------------------------------------------


def moodle_run(xml: Path, responses: dict) -> dict:
    tools = shared_tools()
    assert tools is not None
    answers = xml.with_suffix(".responses.json")
    answers.write_text(json.dumps(responses, ensure_ascii=False), encoding="utf-8")
    ran = subprocess.run(
        ["bash", str(tools / "moodle" / "run.sh"), str(xml), str(answers)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert ran.returncode == 0, ran.stderr[-2000:] + ran.stdout[-2000:]
    return json.loads(ran.stdout)


def shifted(variant: KeyVariant, share: float) -> list[str]:
    """Every box at the key's value + share·tolerance (repr: no rounding of its own)."""
    return [repr(q.value + share * q.tol_abs) for q in variant.asked]


@needs_moodle
@pytest.mark.parametrize("preset", list(PRESETS))
def test_moodle_imports_and_marks_every_preset(class_sets, preset):
    made = class_sets[preset]
    responses = {
        f"{v.exam} · {v.code}": [
            [right_answers(v)[q.id] for q in v.asked],  # what students type
            shifted(v, 0.9),  # inside the tolerance
            shifted(v, -1.1),  # outside it
        ]
        for v in made.variants
    }
    result = moodle_run(made.moodle, responses)
    imported = result["import"]
    assert imported["ok"] and imported["importerrors"] == 0
    assert imported["errors"] == [] and imported["warnings"] == []
    assert "php_messages" not in result and "fatal" not in result  # no PHP notice, no exception
    questions = {q["name"]: q for q in result["questions"]}
    assert len(questions) == CLASS
    for v in made.variants:
        q = questions[f"{v.exam} · {v.code}"]
        assert q["qtype"] == "multianswer"
        assert q["defaultmark"] == sum(b.points for b in v.asked)
        for gap, box in zip(q["subquestions"], v.asked, strict=True):
            low, high = gap["answers"][-1]["accepted_interval"]
            assert low == pytest.approx(box.value - box.tol_abs, abs=1e-12)
            assert high == pytest.approx(box.value + box.tol_abs, abs=1e-12)
    verdicts: dict[str, list[float]] = {}
    for attempt in result["grading"]["results"]:
        verdicts.setdefault(attempt["name"], []).append(attempt["fraction"])
        if attempt["fraction"] == 0:
            assert all(part["fraction"] == 0 for part in attempt["parts"])
    assert all(marks == [1.0, 1.0, 0.0] for marks in verdicts.values()), verdicts


@needs_moodle
def test_a_real_quiz_regrades_with_follow_through(tmp_path):
    tools = shared_tools()
    assert tools is not None
    exam = generate_exam(
        customise("classic"),
        13,
        3,
        name="live-13",
        keys_dir=tmp_path / "keys",
        out_dir=tmp_path / "exam",
    )
    xml = tmp_path / "live.xml"
    export(exam.key, moodle=xml)
    attempts = class_attempts(load_key(exam.key))
    (tmp_path / "attempts.json").write_text(json.dumps(attempts, ensure_ascii=False), "utf-8")
    ran = run_quiz(tools, xml, tmp_path / "attempts.json", tmp_path / "out")
    assert ran.returncode == 0, ran.stderr[-2000:]
    report, _ = grade([tmp_path / "out" / "responses_qtext_right.csv"], key=exam.key)
    assert report.ok, report.errors
    results = {r.student: r for r in report.results}
    charles = results["s0002@example.com"]
    assert sum(i.status == "follow_through" for i in charles.items) >= 10
    assert charles.score == charles.max_score - 1
    emilie = results["s0003@example.com"]
    assert sum("Moodle read" in i.feedback for i in emilie.items) == 3
    assert results["s0001@example.com"].score == 50  # the better of Ada's two attempts
    assert [n.note.split(": ", 1)[0] for n in report.notes] == ["row 6", "row 7"]


@needs_moodle
def test_moodles_gradebook_import_takes_the_moodle_gradebook(tmp_path):
    """grade/import/csv's own code (tests/moodle/grade_import.php): users matched by email, the
    percentage into a new grade item, the absent student with no grade."""
    tools = shared_tools()
    assert tools is not None
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,name,email\ns0001@example.com,Ada Lovelace,\nu42,Absent Student,absent@example.com\n"
        "u2,Charles Babbage,s0002@example.com\n",
        encoding="utf-8",
    )
    report, _ = grade(
        [FIXTURES / "moodle" / "responses_right.csv"],
        key=FIXTURES / "moodle" / "online-12.json",
        roster=roster,
    )
    from bpquiz.grading.gradebook import gradebook_csv

    book = tmp_path / "grades.csv"
    book.write_text(gradebook_csv(report, "moodle"), encoding="utf-8")
    # The usernames quiz_responses.sh gives these students, so that each email is one user's.
    users = [
        {"username": email.split("@")[0], "firstname": "F", "lastname": "L", "email": email}
        for email in (
            [
                "s0001@example.com",
                "absent@example.com",
                "s0002@example.com",
                "s0003@example.com",
                "s0004@example.com",
                "s0006@example.com",
                "s0007@example.com",
            ]
        )
    ]
    (tmp_path / "users.json").write_text(json.dumps(users), encoding="utf-8")
    script = Path(__file__).parent / "moodle" / "grade_import.php"
    ran = subprocess.run(
        [
            "bash",
            "-c",
            f'. "{tools}/moodle/common.sh"; pg_running || pg_start; cd "$MOODLE_SRC"; '
            f'MOODLE_DIR="$MOODLE_SRC" php "${{PHP_OPTS[@]}}" "{script}" "{book}" '
            f'"{tmp_path / "users.json"}" "Email address" useremail "online-12 %"',
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    result = json.loads(ran.stdout)
    assert result["status"] is True and result["errors"] == [], result
    assert result["grades"]["s0001@example.com"] == 100
    assert result["grades"]["s0002@example.com"] == 98
    assert result["grades"]["absent@example.com"] is None


# --- QTI 2.1 and Canvas: the IMS schemas, and Pyslet ------------------------------------------------


def qti(tool: str, *args: str) -> dict:
    found = qti_python()
    assert found is not None
    python, tools = found
    ran = subprocess.run(
        [str(python), str(tools / tool), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert ran.stdout, ran.stderr[-2000:]
    return json.loads(ran.stdout)


@needs_qti
@pytest.mark.parametrize("preset", list(PRESETS))
def test_packages_validate_against_the_ims_schemas(class_sets, preset):
    made = class_sets[preset]
    for package in (made.qti, made.canvas):
        report = qti("validate.py", str(package))
        invalid = [f for f in report["files"] if f["valid"] is False]
        assert report["all_valid"], invalid[:2]
        checked = [f for f in report["files"] if f["valid"] is True]
        assert len(checked) >= CLASS + 1  # every item (or quiz) and the manifest


@needs_qti
@pytest.mark.parametrize("preset", list(PRESETS))
def test_pyslet_scores_the_items_as_the_key_says(class_sets, preset):
    made = class_sets[preset]
    for v in made.variants[:3]:
        ids = [q.id for q in v.asked]
        candidates = [
            right_answers(v),
            dict(zip(ids, shifted(v, 0.9), strict=True)),
            dict(zip(ids, shifted(v, -1.1), strict=True)),
            {},
        ]
        path = made.root / f"{v.code}.candidates.json"
        path.write_text(json.dumps(candidates), encoding="utf-8")
        item = f"{v.exam}-{v.code}"
        scored = qti(
            "score.py", str(made.qti), "--member", f"{item}/{item}.xml", "--candidates", str(path)
        )
        points = sum(q.points for q in v.asked)
        assert [r["outcomes"]["SCORE"] for r in scored["results"]] == [points, points, 0, 0]
        assert all(r["outcomes"]["MAXSCORE"] == points for r in scored["results"])
