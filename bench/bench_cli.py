"""Start-up time of the command line: `bpquiz --help`, `bpquiz presets`, and what they import.

Run: python bench/bench_cli.py  (prints the median of several runs of each command)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
COMMANDS = {
    "bpquiz --help": ["--help"],
    "bpquiz --version": ["--version"],
    "bpquiz presets": ["presets"],
}


def wall(args: list[str]) -> float:
    """Seconds for one run of `python ARGS`."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - start


def median_ms(args: list[str]) -> float:
    return statistics.median(wall(args) for _ in range(RUNS)) * 1000


def heavy_modules_after_help() -> list[str]:
    code = (
        "import sys; from bpquiz.cli import app; from typer.testing import CliRunner; "
        "CliRunner().invoke(app, ['--help']); "
        "print(','.join(m for m in ('weasyprint', 'numpy', 'pypdf') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> None:
    print(
        f"{'python -c pass':<20} {median_ms(['-c', 'pass']):6.0f} ms  (interpreter alone, for scale)"
    )
    for label, args in COMMANDS.items():
        print(f"{label:<20} {median_ms(['-m', 'bpquiz', *args]):6.0f} ms  (median of {RUNS})")
    heavy = heavy_modules_after_help()
    print(f"heavy modules imported by --help: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
