"""Grading reports: the terminal tables, the --json document and the --csv gradebook.

Everything a student wrote reaches the terminal as rich Text (never as markup) and the gradebook
neutralised, so a student id can neither restyle the terminal nor run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Sequence

from rich.console import Console, JustifyMethod, OverflowMethod
from rich.table import Table
from rich.text import Text

from bpquiz.files import printable
from bpquiz.grading.classlist import absent
from bpquiz.grading.items import GradingNote, Item, Report, Result, Status

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell starting with one of these as a formula (OWASP's list)."""
VERDICTS = {
    Status.CORRECT: ("correct", "green"),
    Status.FOLLOW_THROUGH: ("follow-through", "cyan"),
    Status.WRONG: ("wrong", "red"),
    Status.MISSING: ("missing", "yellow"),
    Status.INVALID: ("invalid", "magenta"),
}


def number(value: float) -> str:
    """A score without float noise: 48, 47.5, 13.33."""
    return f"{round(value, 2):g}"


# --- JSON ----------------------------------------------------------------------------------------


def results_json(report: Report) -> str:
    """The --json document: {"results": [...], "errors": [...]}, shaped as README documents, one
    student or error a line. (Indented, json's encoder is pure Python: 8 s for 10,000 students.)"""

    def lines(key: str, entries: list[dict]) -> str:
        dumped = [json.dumps(e, ensure_ascii=False, allow_nan=False) for e in entries]
        return f' "{key}": [' + (",".join(f"\n  {d}" for d in dumped) + "\n ]" if dumped else "]")

    document = report.to_dict()
    return "{\n" + ",\n".join(lines(k, v) for k, v in document.items()) + "\n}\n"


def note_lines(notes: Sequence[GradingNote], listed: int = 3) -> list[str]:
    """The notes as lines, one per kind: the same note on many files (a class folder's solutions,
    blank templates) is one line naming the first few (--json lists them all)."""
    files: dict[str, list[str]] = {}
    for note in notes:
        files.setdefault(note.note, []).append(note.file)
    lines = []
    for text, named in files.items():
        unique = list(dict.fromkeys(named))
        if len(unique) == 1:
            lines.append(f"{unique[0]}: {text}")
        else:
            more = f" and {len(unique) - listed} more" if len(unique) > listed else ""
            lines.append(f"{len(unique)} files: {text}: {', '.join(unique[:listed])}{more}")
    return lines


# --- CSV -----------------------------------------------------------------------------------------


def neutralise(cell: str) -> str:
    """Make a text cell inert in a spreadsheet: a leading apostrophe shows it as typed."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def gradebook_csv(report: Report) -> str:
    """One row per student: id, variant, score, max, percent, then the points of each quantity."""
    ids: dict[str, None] = {}
    for result in report.results:
        ids.update(dict.fromkeys(item.id for item in result.items))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student", "variant", "score", "max_score", "percent", *map(neutralise, ids)])
    for result in report.results:
        earned = {item.id: number(item.score) for item in result.items}
        writer.writerow(
            [
                neutralise(result.student),
                neutralise(result.variant),
                number(result.score),
                number(result.max_score),
                f"{result.percent:.1f}",
                *(earned.get(qid, "") for qid in ids),
            ]
        )
    return buffer.getvalue()


# --- terminal ------------------------------------------------------------------------------------


def _given(item: Item) -> Text:
    if item.given is None:
        return Text("—", style="dim")
    if isinstance(item.given, float):
        return Text(f"{item.given:.10g}")
    return Text(json.dumps(item.given, ensure_ascii=False))


def _verdict(item: Item) -> Text:
    """The verdict word, and the misconception's code when one was recognised (short, so the
    table stays readable in 80 columns; the feedback sentences follow the table)."""
    word, style = VERDICTS[item.status]
    text = Text(word, style=style)
    if item.misconception:
        text.append(f" [{item.misconception}]", style=style)
    return text


def feedback_notes(result: Result) -> Table:
    """Each item's feedback under the table: symbol and id, then the sentence, wrapped."""
    notes = Table.grid(padding=(0, 1))
    notes.add_column(no_wrap=True)
    notes.add_column()
    for item in result.items:
        if item.feedback and item.status is not Status.MISSING:
            notes.add_row(Text(f"{item.symbol} ({item.id})", style="dim"), Text(item.feedback))
    return notes


COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("", "left"),
    ("id", "left"),
    ("expected", "right"),
    ("given", "right"),
    ("verdict", "left"),
    ("points", "right"),
)


def student_table(result: Result) -> Table:
    """One student's items: symbol, id, expected, given, verdict (with the code of a recognised
    misconception), points."""
    table = Table(
        title=Text(f"{result.student} · variant {result.variant}"),
        title_justify="left",
        show_edge=False,
    )
    for name, justify in COLUMNS:
        # A misconception's code is one long word: fold it rather than cut it short with "…".
        overflow: OverflowMethod = "fold" if name == "verdict" else "ellipsis"
        table.add_column(name, justify=justify, overflow=overflow)
    for item in result.items:
        table.add_row(
            Text(item.symbol),
            Text(item.id, style="dim"),
            Text(result.rule.format(item.expected)),
            _given(item),
            _verdict(item),
            Text(f"{number(item.score)}/{number(item.points)}"),
        )
    return table


def _counts(result: Result) -> str:
    counts = {status: 0 for status in Status}
    for item in result.items:
        counts[item.status] += 1
    return ", ".join(
        f"{n} {VERDICTS[status][0]}"
        for status, n in counts.items()
        if n and status is not Status.CORRECT
    )


def _total(result: Result) -> str:
    return f"{number(result.score)}/{number(result.max_score)} ({result.percent:.1f}%)"


PLAIN_FROM = 100
"""From this many students, the one-line-each list is plain text: laying out a rich table was
half the time of grading a class of 10,000."""


def print_report(report: Report, console: Console, details: bool | None = None) -> None:
    """A table per student (default for one student), else one line each and a summary."""
    results = report.results
    if details is None:
        details = len(results) == 1
    if not details and len(results) >= PLAIN_FROM:
        console.file.write(plain_lines(results))
        console.print(Text(summary(report), style="bold"))
        return
    if details:
        for result in results:
            console.print(student_table(result))
            notes = feedback_notes(result)
            if notes.row_count:
                console.print(notes)
            console.print(Text(f"Total: {_total(result)}", style="bold"))
            console.print()
        if len(results) == 1:
            return
    elif results:
        table = Table(box=None, show_header=True, pad_edge=False)
        for name in ("student", "variant", "score", ""):
            table.add_column(name, justify="right" if name == "score" else "left")
        for result in results:
            table.add_row(
                Text(result.student),
                Text(result.variant),
                Text(_total(result)),
                Text(_counts(result), style="dim"),
            )
        console.print(table)
    console.print(Text(summary(report), style="bold"))


def plain_lines(results: Sequence[Result]) -> str:
    """One line per student, in aligned columns, as plain text: student, variant, score, and
    what was not correct."""
    rows = [(printable(r.student), printable(r.variant), _total(r), _counts(r)) for r in results]
    width = [max(len(title), *(len(row[k]) for row in rows)) for k, title in enumerate(_PLAIN)]
    width[0] = min(width[0], 40)  # a long id takes its room, without pushing every other line
    lines = [
        f"{a:<{width[0]}}  {b:<{width[1]}}  {c:>{width[2]}}  {d}".rstrip()
        for a, b, c, d in [_PLAIN, *rows]
    ]
    return "\n".join(lines) + "\n"


_PLAIN = ("student", "variant", "score", "")


def summary(report: Report) -> str:
    """'28 students graded, 2 absent (30 on the roster): mean 41.5/50 (83.0%), median …, range …;
    2 errors (see above).'"""
    results = report.results
    parts = []
    roll = (
        f", {absent(report)} absent ({len(report.roster)} on the roster)" if report.roster else ""
    )
    if results:
        percents = [r.percent for r in results]
        scores = [r.score for r in results]
        top = results[0].max_score
        same_max = all(r.max_score == top for r in results)

        def show(score: float, percent: float) -> str:
            return (
                f"{number(score)}/{number(top)} ({percent:.1f}%)" if same_max else f"{percent:.1f}%"
            )

        parts.append(
            f"{len(results)} student{'s' * (len(results) != 1)} graded{roll}: "
            f"mean {show(statistics.fmean(scores), statistics.fmean(percents))}, "
            f"median {show(statistics.median(scores), statistics.median(percents))}, "
            f"lowest {show(min(scores), min(percents))}, highest {show(max(scores), max(percents))}"
        )
    else:
        parts.append(f"no student graded{roll}")
    if report.errors:
        n = len(report.errors)
        parts.append(f"{n} error{'s' * (n != 1)} (see above)")
    return "; ".join(parts) + "."
