"""How fast the sheets render: a 100-variant classic class set, and one variant end to end.

    python bench/bench_render.py [--variants 100] [--jobs N]

Prints seconds per variant (sheet + solution, wall time over the whole set, all jobs), pages
rendered, peak memory (the main process and the largest worker), and the wall time of
`bpquiz generate --seed 42` in a fresh process. Both with an empty skeleton cache (the first run
of a preset on a machine: WeasyPrint lays the skeletons out) and with a warm one (every later run,
any seed: only stamping), each in a cache folder of its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpquiz.exercises.draw import customise, make_variants
from bpquiz.sheets.render import SheetRequest, render_exam
from bpquiz.sheets.workers import default_jobs


def class_set(count: int, jobs: int) -> None:
    settings = customise("classic")
    variants = make_variants(settings, 42, count)
    print(f"class set:        {count} classic variants, {jobs} worker processes")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BPQUIZ_CACHE"] = cache
        for state in ("empty cache", "warm cache"):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                request = SheetRequest(jobs=jobs)
                files = render_exam(variants, settings, request, Path(tmp), "bench")
                elapsed = time.perf_counter() - start
                sizes = [files.sheets[0], files.solutions[0], files.class_sheets]
                sizes.append(files.class_solutions)
                kb = [p.stat().st_size / 1000 if p else 0.0 for p in sizes]
            print(
                f"  {state + ':':<15} {elapsed:.2f} s in all (with the two class PDFs), "
                f"{elapsed / count:.3f} s per variant (sheet + solution), "
                f"{files.pages} pages ({files.pages / elapsed:.0f} pages/s)"
            )
        print(
            f"file sizes:       a sheet {kb[0]:.0f} kB, its solution {kb[1]:.0f} kB; class files "
            f"{kb[2]:.0f} kB and {kb[3]:.0f} kB"
        )
    del os.environ["BPQUIZ_CACHE"]
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory:      main {main_mb:.0f} MB, largest worker {worker_mb:.0f} MB")
    print("                  (the check that it does not grow with the class: --variants 1000)")


def _generate(cache: str) -> float:
    exe = shutil.which("bpquiz")
    command = [exe] if exe else [sys.executable, "-m", "bpquiz"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([*command, "generate", "--seed", "42"], cwd=tmp, check=True,
                       capture_output=True, env={**os.environ, "BPQUIZ_CACHE": cache})  # fmt: skip
        return time.perf_counter() - start


def end_to_end(runs: int = 3) -> None:
    print("end to end:       bpquiz generate --seed 42, a fresh process each time")
    colds, warms = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            colds.append(_generate(cache))
            warms.append(_generate(cache))
    for state, times in (("empty cache", colds), ("warm cache", warms)):
        print(
            f"  {state + ':':<15} {statistics.median(times):.2f} s "
            f"(median of {runs}; min {min(times):.2f} s, max {max(times):.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    print(f"machine:          {os.cpu_count()} cores")
    class_set(args.variants, args.jobs)
    end_to_end()


if __name__ == "__main__":
    main()
