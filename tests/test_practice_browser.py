"""The practice page in a real browser (Debian's Chromium, driven by Playwright).

The differential test: a few hundred random answer sets (tests/practice_answers.py), across presets
and conventions, are typed into each page and checked there, and graded by `bpquiz grade`; the
two must agree on every box's status, credit, misconception and feedback.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium
from practice_answers import answer_sets

from bpquiz.api import GeneratedExam, generate_exam, grade
from bpquiz.exercises.draw import customise
from bpquiz.exercises.presets import Settings
from bpquiz.maths.ids import KINDS
from bpquiz.maths.rounding import rule
from bpquiz.sheets.render import SheetRequest

ALL_STEPS = list(KINDS)  # with grad_a and dact: each δ in steps
CONFIGS: dict[str, Settings] = {
    "classic": customise("classic"),
    "batch": customise("batch"),
    "softmax": customise("softmax"),
    "deep": customise("deep"),
    "mitchell": customise("mitchell"),
    "classic-error": customise("classic", delta_sign="error"),
    "batch-sum": customise("batch", batch_reduction="sum"),
    "classic-steps": customise("classic", asked=ALL_STEPS),
    "single-output-sigfigs": customise("single-output", rounding=rule(sigfigs=3)),
    "xor-2-decimals": customise("xor", rounding=rule(decimals=2)),
}
SETS_PER_VARIANT = 20
READ_RESULTS = """() => Array.from(document.querySelectorAll(".pr-result"), r => ({
  id: r.id.slice(3, -7), status: r.dataset.status, credit: Number(r.dataset.credit),
  misconception: r.dataset.misconception || null,
  verdict: r.querySelector(".pr-verdict").textContent,
  feedback: r.querySelector(".pr-feedback").textContent}))"""
VERDICTS = {
    "correct": "correct",
    "follow_through": "follow-through",
    "wrong": "wrong",
    "missing": "blank",
    "invalid": "not a number",
}

FEEDBACK = {
    "carried forward": "carried forward",
    "own rounding": "your own (accepted) rounded",
    "gaming refused": "makes this step trivial",
    "same mistake": "the same mistake as",
    "fewer digits": "but the sheet asks for",
}
"""Kinds of feedback, counted to show what the answer sets exercised."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def practice_exam(root: Path, name: str, settings: Settings, seed: int) -> GeneratedExam:
    return generate_exam(
        settings,
        seed,
        2,
        name=name,
        keys_dir=root / "keys",
        out_dir=root / name,
        sheets=SheetRequest(format="html", practice=True),
    )


def open_page(browser: Any, path: Path) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    page.errors = errors
    return page


def check(page: Any, answers: dict[str, str | None], enter_in: str | None) -> list[dict]:
    """Type `answers` into the boxes, press Check (or Enter in a box), read every verdict."""
    for qid, text in answers.items():
        page.fill(f"#pr-{qid}", text or "")
    page.evaluate("() => { document.getElementById('pr-summary').textContent = '' }")
    if enter_in is None:
        page.click("button.pr-check")
    else:
        page.press(f"#pr-{enter_in}", "Enter")
    page.wait_for_function("() => document.getElementById('pr-summary').textContent !== ''")
    assert not page.errors, page.errors
    return page.evaluate(READ_RESULTS)


TALLY: Counter[str] = Counter()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_page_marks_as_bpquiz_grade_does(browser: Any, tmp_path: Path, config: str) -> None:
    settings = CONFIGS[config]
    exam = practice_exam(tmp_path, config, settings, seed=100 + list(CONFIGS).index(config))
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    typed: dict[str, tuple[str, Any]] = {}
    for v, variant in enumerate(exam.variants):
        asked = [q.id for q in variant.solution.computed() if q.kind in settings.asked]
        for n, answer_set in enumerate(
            answer_sets(variant.solution, settings.rounding, asked, SETS_PER_VARIANT, seed=v)
        ):
            student = f"{variant.code}-{n:03d}"
            typed[student] = (variant.code, answer_set)
            document = {
                "format": "bpquiz-answers/1",
                "variant": variant.code,
                "student": student,
                # A box of spaces is blank on the page, as a spreadsheet's cell is for grade.
                "answers": {
                    qid: text if text is not None and text.strip() else None
                    for qid, text in answer_set.answers.items()
                },
            }
            (submissions / f"{student}.json").write_text(json.dumps(document, ensure_ascii=False))
    report, _ = grade([submissions], key=exam.key)
    assert report.ok, report.errors
    graded = {r.student: {i.id: i for i in r.items} for r in report.results}

    disagreements = []
    pages = {
        v.code: open_page(browser, tmp_path / config / f"{v.code}-practice.html")
        for v in exam.variants
    }
    for k, (student, (code, answer_set)) in enumerate(sorted(typed.items())):
        ids = list(answer_set.answers)
        enter_in = None if k % 3 == 0 else ids[k % len(ids)]
        for shown in check(pages[code], answer_set.answers, enter_in):
            item = graded[student][shown["id"]]
            expected = {
                "status": str(item.status),
                "credit": item.credit,
                "misconception": item.misconception,
                "feedback": item.feedback,
            }
            got = {key: shown[key] for key in expected}
            if got != expected:
                disagreements.append((student, answer_set.story, shown["id"], expected, got))
            verdict = VERDICTS[shown["status"]]
            if shown["misconception"]:
                verdict += f" [{shown['misconception']}]"
            assert shown["verdict"].startswith(verdict), shown
            TALLY[shown["status"]] += 1
            TALLY["misconception"] += bool(shown["misconception"])
            TALLY.update(kind for kind, words in FEEDBACK.items() if words in shown["feedback"])
        TALLY["sets"] += 1
    for page in pages.values():
        page.close()
    print(f"\n{config}: {len(typed)} answer sets; so far {dict(TALLY)}")
    assert not disagreements, "\n".join(map(str, disagreements[:40]))
