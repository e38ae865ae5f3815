"""How fast `bpquiz grade` is: 10,000 classic answer files, and one file end to end.

    python bench/bench_grade.py [--files 10000] [--jobs N]

Targets (issue 4): the batch under 5 s on a 2-core machine, one file under 0.3 s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpquiz.api import generate_exam
from bpquiz.exercises.draw import customise
from bpquiz.exercises.key import open_keys
from bpquiz.grading.batch import grade_paths
from bpquiz.grading.marking import FollowThrough, markers


def make_class(root: Path, count: int) -> tuple[Path, Path]:
    """A classic exam with 20 variants and `count` filled-in answer files: most answers right,
    some typed with a decimal comma or a Unicode minus, some wrong, some missing."""
    settings = customise("classic")
    written = generate_exam(
        settings, 42, 20, name="bench", keys_dir=root / "answer_keys", out_dir=root / "exams"
    )
    variants = written.variants
    folder = root / "class"
    folder.mkdir()
    rule = settings.rounding
    for n in range(count):
        variant = variants[n % len(variants)]
        template = json.loads(written.answers[n % len(variants)].read_text(encoding="utf-8"))
        values = variant.solution.values
        answers = {}
        for i, qid in enumerate(template["answers"]):
            value = rule.round(values[qid])
            match (n + i) % 10:
                case 0:
                    answers[qid] = rule.format(value)  # "−0,1234"-style strings
                case 1:
                    answers[qid] = value + 0.01  # wrong
                case 2 if n % 7 == 0:
                    answers[qid] = None
                case _:
                    answers[qid] = value
        template.update(student=f"s{n:05}", answers=answers)
        (folder / f"s{n:05}.json").write_text(json.dumps(template, indent=1), encoding="utf-8")
    return folder, root / "answer_keys"


def end_to_end(one: Path, keys: Path, runs: int = 7) -> tuple[float, float]:
    """Median wall time of `bpquiz grade one.json`, and of `bpquiz --help` (startup alone)."""
    exe = shutil.which("bpquiz")
    command = [exe] if exe else [sys.executable, "-m", "bpquiz"]

    def median(args: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                command + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return median(["grade", str(one), "--keys", str(keys)]), median(["--help"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        folder, keys_dir = make_class(Path(tmp), args.files)
        keys = open_keys(None, keys_dir)
        modes = {
            "follow-through and misconceptions (the default)": markers(FollowThrough.FULL),
            "plain comparison (--follow-through off is close to this)": (),
        }
        for label, chosen in modes.items():
            for jobs in dict.fromkeys([1, args.jobs or cpus]):
                start = time.perf_counter()
                report = grade_paths([folder], keys, jobs=jobs, markers=chosen)
                elapsed = time.perf_counter() - start
                assert len(report.results) == args.files and not report.errors
                print(
                    f"grade {args.files} classic answer files, {jobs} process(es), {label}: "
                    f"{elapsed:.2f} s ({1e6 * elapsed / args.files:.0f} µs a file)"
                )
        one, startup = end_to_end(folder / "s00000.json", keys_dir)
        print(
            f"bpquiz grade one.json, end to end: {one:.3f} s (bpquiz --help alone: {startup:.3f} s)"
        )
        print(f"on {cpus} CPU(s), Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
