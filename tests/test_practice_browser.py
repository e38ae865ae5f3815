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
from bpquiz.maths import functions as functions_module
from bpquiz.maths.expr import Function
from bpquiz.maths.ids import KINDS
from bpquiz.maths.notation import make_notation
from bpquiz.maths.rounding import rule
from bpquiz.sheets.options import SheetOptions
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
    "same mistake": "The same mistake as",
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


# --- the page as a student uses it ------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[GeneratedExam, Path]]:
    """A practice page of a few kinds of exercise (one in the textbook notation)."""
    root = tmp_path_factory.mktemp("pages")
    made = {}
    for name, settings in [
        ("classic", CONFIGS["classic"]),
        ("softmax", CONFIGS["softmax"]),
        ("batch-sum", CONFIGS["batch-sum"]),
    ]:
        exam = practice_exam(root, name, settings, seed=7)
        made[name] = (exam, root / name / f"{exam.variants[0].code}-practice.html")
    textbook = generate_exam(
        CONFIGS["single-output-sigfigs"],
        7,
        name="textbook",
        keys_dir=root / "keys",
        out_dir=root / "textbook",
        sheets=SheetRequest(
            options=SheetOptions(notation="textbook"), format="html", practice=True
        ),
    )
    made["textbook"] = (textbook, root / "textbook" / f"{textbook.variants[0].code}-practice.html")
    return made


def focus_outline(page: Any) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return `${s.outlineStyle} ${s.outlineWidth}`; }"
    )


def test_the_keyboard_reaches_every_box_step_and_check_in_order(browser: Any, pages: dict) -> None:
    _, path = pages["classic"]
    page = open_page(browser, path)
    expected = []
    for qid in page.evaluate("() => Array.from(document.querySelectorAll('.pr-box'), b => b.id)"):
        expected += [qid, f"summary:{qid}"]
    expected.append("check")
    seen = []
    for _ in expected:
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                """() => { const e = document.activeElement;
                if (e.tagName === "SUMMARY") return "summary:" + e.closest(".pr-item").querySelector("input").id;
                return e.classList.contains("pr-check") ? "check" : e.id; }"""
            )
        )
        # Focus is visible wherever it lands: a solid outline at least 2px wide.
        style, width = focus_outline(page).split()
        assert style != "none" and float(width.removesuffix("px")) >= 2, (seen[-1], style, width)
    assert seen == expected
    page.close()


def test_typed_answers_are_checked_with_enter_and_announced(browser: Any, pages: dict) -> None:
    exam, path = pages["classic"]
    variant = exam.variants[0]
    path_values = variant.solution.rounded_path(CONFIGS["classic"].rounding)
    page = open_page(browser, path)
    boxes = page.locator("input.pr-box")
    first, second = boxes.nth(0), boxes.nth(1)
    first.click()
    page.keyboard.type(CONFIGS["classic"].rounding.format(path_values["z1_1"]).replace("−", "-"))
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the worked step, into the next box
    page.keyboard.type("0,5")
    page.keyboard.press("Enter")
    summary = page.locator("#pr-summary")
    assert summary.get_attribute("role") == "status"
    assert summary.get_attribute("aria-live") == "polite"
    assert summary.inner_text().startswith("Checked: 1 of ")
    # Each box is described by its verdict, so a screen reader reads it with the box.
    for box, verdict in ((first, "correct · 1 of 1"), (second, "wrong · 0 of 1")):
        described = page.locator(f"#{box.get_attribute('aria-describedby')}")
        assert described.inner_text().startswith(verdict)
    assert second.get_attribute("aria-invalid") == "true"
    assert "0,5 is off by" in page.locator(".pr-feedback").nth(1).inner_text()
    assert not page.errors
    page.close()


def test_each_box_reveals_its_worked_step(browser: Any, pages: dict) -> None:
    exam, path = pages["textbook"]
    variant = exam.variants[0]
    settings = CONFIGS["single-output-sigfigs"]
    notation = make_notation("textbook", variant.problem.depth, variant.problem.examples)
    page = open_page(browser, path)
    items = page.locator(".pr-item")
    for k in range(items.count()):
        item = items.nth(k)
        qid = item.locator("input").get_attribute("name")
        step = variant.solution.step(qid, notation, settings.rounding)
        worked = item.locator(".pr-step .step")
        assert not worked.is_visible()
        item.locator("summary").focus()
        page.keyboard.press("Enter")
        assert worked.is_visible()
        shown = worked.inner_text()
        assert shown == f"{step.equation}\n{step.working}" + (f" {step.note}" if step.note else "")
    page.close()


@pytest.mark.parametrize("name", ["classic", "softmax", "batch-sum", "textbook"])
def test_the_page_passes_axe_wcag_21_aa(browser: Any, pages: dict, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    _, path = pages[name]
    page = open_page(browser, path)
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    axe = Axe()
    before = axe.run(page, options=options)
    # Checked (every kind of verdict on show) and with a worked step open.
    boxes = page.locator("input.pr-box")
    for k, text in enumerate(["0.5", "abc", "", "1,5"] * (boxes.count() // 4)):
        boxes.nth(k).fill(text)
    page.click("button.pr-check")
    page.locator(".pr-step summary").first.click()
    after = axe.run(page, options=options)
    for results in (before, after):
        assert results.violations_count == 0, results.generate_report()
    page.close()


def test_the_page_works_offline(browser: Any, pages: dict) -> None:
    """Nothing is fetched but the page itself: no server, no network, no other file."""
    _, path = pages["softmax"]
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.as_uri())
    page.locator("input.pr-box").first.fill("0.1")
    page.click("button.pr-check")
    page.locator(".pr-step summary").first.click()
    assert page.locator("#pr-summary").inner_text().startswith("Checked:")
    assert requested == [path.as_uri()]
    page.close()


def test_the_evaluator_has_every_function_of_the_maths(browser: Any, pages: dict) -> None:
    """One table of functions in the page, one case each: the same numbers as the Python's."""
    functions = [f for f in vars(functions_module).values() if isinstance(f, Function)]
    _, path = pages["classic"]
    page = open_page(browser, path)
    for function in functions:
        for x in (-2.5, -0.3, 0.0, 0.7, 1.9):
            if function.name == "ln" and x <= 0:
                continue
            tree = ["Call", function.name, ["Ref", "x"]]
            got = page.evaluate("([t, x]) => bpquizPractice.evaluate(t, {x})", [tree, x])
            assert got == pytest.approx(function.fn(x), rel=1e-15, abs=1e-300), function.name
    page.close()
