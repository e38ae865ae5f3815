"""How fast `bpquiz grade` is: 10,000 classic answer files, and one file end to end.

    python bench/bench_grade.py [--files 10000] [--jobs N] [--runs 5]

Targets: issue 4, the batch under 5 s on a 2-core machine and one file under 0.3 s end to end;
issue 14, `bpquiz grade` of the whole class, end to end (a fresh process, output redirected),
within 6× a naive loop that reads each file and compares each answer with the key, both measured
here in the same run, taking turns (the best of --runs each: a busy machine only slows runs down).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def naive_loop(folder: Path, keys_dir: Path) -> float:
    """Seconds to read every answers file and compare each answer with its key's value: the
    least any grader must do."""
    start = time.perf_counter()
    key: dict[str, dict[str, tuple[float, float]]] = {}
    for path in keys_dir.glob("*.json"):
        for variant in json.loads(path.read_bytes())["variants"]:
            key[variant["variant"]] = {
                q["id"]: (q["value"], q["tol"]["abs"]) for q in variant["quantities"]
            }
    right = 0
    for path in sorted(folder.iterdir()):
        document = json.loads(path.read_bytes())
        values = key[document["variant"]]
        for qid, given in document["answers"].items():
            try:
                value, tol = values[qid]
                right += abs(float(str(given).replace("−", "-").replace(",", ".")) - value) <= tol
            except (TypeError, ValueError):
                pass
    assert right
    return time.perf_counter() - start


def whole_class(folder: Path, keys_dir: Path, runs: int) -> None:
    """`bpquiz grade FOLDER` end to end against the naive loop, taking turns: wall time, and CPU
    time (steadier on a busy machine; the workers' included)."""
    exe = shutil.which("bpquiz")
    command = [exe] if exe else [sys.executable, "-m", "bpquiz"]
    base = [*command, "grade", str(folder), "--keys", str(keys_dir)]
    commands = {
        "bpquiz grade (default jobs)": base,
        "bpquiz grade --jobs 1": [*base, "--jobs", "1"],
        "bpquiz grade --jobs 2": [*base, "--jobs", "2"],
    }
    walls: dict[str, list[float]] = {"naive loop": [], **{label: [] for label in commands}}
    cpus: dict[str, list[float]] = {label: [] for label in walls}
    for _ in range(runs):
        cpu = time.process_time()
        walls["naive loop"].append(naive_loop(folder, keys_dir))
        cpus["naive loop"].append(time.process_time() - cpu)
        for label, args in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            walls[label].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    naive, naive_cpu = min(walls["naive loop"]), min(cpus["naive loop"])
    print(f"a class of {len(list(folder.iterdir()))} files, end to end, best of {runs} (median):")
    for label in walls:
        wall, cpu = min(walls[label]), min(cpus[label])
        ratio = (
            ""
            if label == "naive loop"
            else f"  {wall / naive:.1f}× the naive loop ({cpu / naive_cpu:.1f}× in CPU time)"
        )
        print(
            f"  {label:<28} {wall:.2f} s ({statistics.median(walls[label]):.2f} s), "
            f"CPU {cpu:.2f} s{ratio}"
        )
    print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


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
    parser.add_argument("--runs", type=int, default=5, help="runs of the whole-class comparison")
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
        whole_class(folder, keys_dir, args.runs)
        one, startup = end_to_end(folder / "s00000.json", keys_dir)
        print(
            f"bpquiz grade one.json, end to end: {one:.3f} s (bpquiz --help alone: {startup:.3f} s)"
        )
        print(f"on {cpus} CPU(s), Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
