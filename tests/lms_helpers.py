"""What the LMS tests share: answers as students type them, and where the real clients are.

The real clients (a local Moodle, the IMS schema validator, Pyslet's QTI scorer) live in the
project's shared tools folder, next to the checkout (../shared/tools, or $BPQUIZ_SHARED_TOOLS).
Tests that need one are skipped, with the reason, where it is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bpquiz.exercises.key import KeyVariant

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_tools() -> Path | None:
    """The shared tools folder: $BPQUIZ_SHARED_TOOLS, else shared/tools beside the checkout (or
    beside its parent, for a worktree), else None."""
    candidates = [os.environ.get("BPQUIZ_SHARED_TOOLS", "")]
    candidates += [str(up / "shared" / "tools") for up in (ROOT.parent, ROOT.parent.parent)]
    for candidate in candidates:
        if candidate and any((Path(candidate) / tool).is_dir() for tool in ("moodle", "qti")):
            return Path(candidate)
    return None


def moodle_missing() -> str | None:
    """Why the real Moodle can't be used here, or None when it can."""
    tools = shared_tools()
    if tools is None or not (tools / "moodle" / "run.sh").is_file():
        return "no shared/tools/moodle next to the checkout (set BPQUIZ_SHARED_TOOLS)"
    moodle_root = Path(os.environ.get("MOODLE_ROOT", "/tmp/moodle"))
    if not (moodle_root / "src" / "config.php").is_file():
        return (
            f"Moodle is not installed in {moodle_root} (shared/tools/moodle/setup.sh needs a "
            "Moodle source snapshot; CI can't download one)"
        )
    if shutil.which("php") is None:
        return "no php on this machine"
    return None


def qti_python() -> tuple[Path, Path] | None:
    """(python with lxml and pyslet, the qti tools folder) or None."""
    tools = shared_tools()
    python = Path(os.environ.get("QTI_VENV", "/tmp/qti-venv")) / "bin" / "python"
    if tools is None or not (tools / "qti" / "validate.py").is_file() or not python.is_file():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import lxml, pyslet"], capture_output=True, check=False
    )
    return (python, tools / "qti") if probe.returncode == 0 else None


def typed(variant: KeyVariant, value: float) -> str:
    """A number as a careful student types it into an LMS: the sheet's rounding, ASCII minus."""
    return variant.rounding.format(value).replace("−", "-")


def right_answers(variant: KeyVariant) -> dict[str, str]:
    """The key's values as a student types them."""
    return {q.id: typed(variant, q.value) for q in variant.asked}


def carried_forward(variant: KeyVariant, slip: dict[str, float]) -> dict[str, str]:
    """A student who writes `slip`'s values for those quantities and then carries on correctly
    from their own rounded numbers: what follow-through credit is for."""
    solution = variant.solution
    env: dict[str, float] = dict(solution.givens())
    answers = {}
    for q in solution.computed():
        if q.id in slip:
            env[q.id] = slip[q.id]
        else:
            env[q.id] = solution.recompute_rounded(q.id, env, variant.rounding)
        answers[q.id] = typed(variant, env[q.id])
    return {q.id: answers[q.id] for q in variant.asked}


# --- a class of attempts, for a real Moodle quiz ----------------------------------------------


def _minus(text: str) -> str:
    return text.replace("-", "\u2212")


def _comma(text: str) -> str:
    return text.replace(".", ",")


def class_attempts(variants: list[KeyVariant]) -> list[dict]:
    """The attempts quiz_responses.sh runs through a real Moodle quiz (ATTEMPTS.json): one of each
    case a regrade must handle. Each names its question "EXAM · CODE"; `responses` are the boxes
    in the key's order, as typed (None: left blank)."""
    v0, v1, v2 = variants[:3]

    def question(v: KeyVariant) -> str:
        return f"{v.exam} · {v.code}"

    def boxes(v: KeyVariant, answers: dict[str, str | None]) -> list[str | None]:
        return [answers.get(q.id) for q in v.asked]

    slipped = carried_forward(v1, {"z1_1": v1.asked[0].value + 0.1})
    unicode = dict(right_answers(v2))
    negatives = [qid for qid, text in unicode.items() if text.startswith("-")][:2]
    positives = [qid for qid, text in unicode.items() if not text.startswith("-")][1:3]
    for qid in negatives:
        unicode[qid] = _minus(unicode[qid])
    for qid in positives:
        unicode[qid] = _comma(unicode[qid])
    unicode["a1_2"] = None
    sign = dict(right_answers(v0))
    values = {q.id: q.value for q in v0.quantities}
    eta = v0.solution.problem.learning_rate
    wrong = values["w2_1_1"] if "w2_1_1" in values else v0.solution.givens()["w2_1_1"]
    sign["w_new2_1_1"] = typed(v0, wrong + eta * float(sign["grad_w2_1_1"]))
    half = {q.id: typed(v1, q.value) for q in v1.asked[: len(v1.asked) // 2]}
    few = {q.id: typed(v2, q.value) for q in v2.asked[:10]}
    full = {q.id: repr(q.value) for q in v1.asked}
    people = [
        ("s0001", "Ada", "Lovelace", v0, right_answers(v0), {}),
        ("s0002", "Charles", "Babbage", v1, slipped, {}),
        ("s0003", "Émilie", 'du Châtelet, "E"', v2, unicode, {}),
        ("s0004", "Alan", "Turing", v0, sign, {}),
        ("s0005", "Grace", "Hopper", v1, half, {"finish": False}),
        ("s0001", "Ada", "Lovelace", v2, few, {}),
        ("s0006", "Blaise", "Pascal", v0, {}, {}),
        ("s0007", "Dennis", "Ritchie", v1, full, {}),
    ]
    return [
        {
            "username": user,
            "firstname": first,
            "lastname": last,
            "email": f"{user}@example.com",
            "question": question(v),
            "responses": boxes(v, answers),
            "duration": 600 + 60 * n,
            **extra,
        }
        for n, (user, first, last, v, answers, extra) in enumerate(people)
    ]


def run_quiz(tools: Path, xml: Path, attempts: Path, outdir: Path) -> subprocess.CompletedProcess:
    """shared/tools/moodle/quiz_responses.sh: a real quiz with a random question from the exam's
    category, the attempts run through it, its Responses and Grades reports downloaded as CSV."""
    return subprocess.run(
        [
            "bash",
            str(tools / "moodle" / "quiz_responses.sh"),
            str(xml),
            str(attempts),
            f"--outdir={outdir}",
            "--course=bpquiz-fixtures",
            "--cleanup",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
