"""Class analysis: where a class is stuck, from a grading report.

`class_summary` counts, per quantity, the share of students correct / follow-through / wrong /
missing, the misconceptions named most often and the score distribution; `print_summary` shows it
in the terminal; `render_summary_html` / `write_summary` make the teacher's report (HTML or PDF)
with its charts drawn as hand-written SVG (WeasyPrint draws inline SVG; no plotting library).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bpquiz.exercises.key import KeyIndex
from bpquiz.files import write_atomic
from bpquiz.grading.classlist import absentees
from bpquiz.grading.items import Report, Status
from bpquiz.grading.outputs import refuse_existing
from bpquiz.maths.mistakes import CATALOGUE
from bpquiz.sheets.options import SheetOptions, header
from bpquiz.sheets.templates import render_template, template_roots

SHOWN = ("correct", "follow_through", "wrong", "missing")
"""The columns of the analysis; an invalid answer (not a number) counts as wrong."""
COLOURS = {
    "correct": "#1e7b34",
    "follow_through": "#1f5f9e",
    "wrong": "#b3261e",
    "missing": "#b8b8b8",
}
LABELS = {
    "correct": "correct",
    "follow_through": "follow-through",
    "wrong": "wrong",
    "missing": "missing",
}
BINS = 10
"""Score distribution in bins of 10 percentage points (the last one includes 100 %)."""
TOP_MISCONCEPTIONS = 8


@dataclass(frozen=True)
class QuantityStats:
    id: str
    symbol: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, column: str) -> float:
        return self.counts[column] / self.total if self.total else 0.0


@dataclass(frozen=True)
class ClassSummary:
    students: int
    quantities: list[QuantityStats] = field(default_factory=list)
    misconceptions: list[tuple[str, int, int]] = field(default_factory=list)
    """(code, answers showing it, students showing it), most students first."""
    histogram: list[int] = field(default_factory=list)
    """Students per BINS-wide band of percent scores."""
    mean_percent: float = 0.0
    median_percent: float = 0.0
    delta_sign: str = "gradient"
    """The class's convention for δ (the most students'), for explaining the misconceptions."""
    absent: tuple[str, ...] = ()
    """Roster students who handed nothing in, by name (none without a roster)."""


def _column(status: Status) -> str:
    return "wrong" if status is Status.INVALID else str(status)


def class_summary(report: Report) -> ClassSummary:
    """The analysis of every graded student in `report` (quantities in teaching order)."""
    stats: dict[str, QuantityStats] = {}
    answers: Counter[str] = Counter()
    students: Counter[str] = Counter()
    histogram = [0] * BINS
    percents = []
    for result in report.results:
        codes = set()
        for item in result.items:
            if item.id not in stats:
                stats[item.id] = QuantityStats(item.id, item.symbol, dict.fromkeys(SHOWN, 0))
            stats[item.id].counts[_column(item.status)] += 1
            if item.misconception:
                answers[item.misconception] += 1
                codes.add(item.misconception)
        students.update(codes)
        percents.append(result.percent)
        histogram[min(BINS - 1, int(result.percent // (100 / BINS)))] += 1
    ranked = sorted(students, key=lambda c: (-students[c], -answers[c], c))
    percents.sort()
    n = len(percents)
    median = (percents[(n - 1) // 2] + percents[n // 2]) / 2 if n else 0.0
    return ClassSummary(
        students=n,
        quantities=list(stats.values()),
        misconceptions=[(c, answers[c], students[c]) for c in ranked[:TOP_MISCONCEPTIONS]],
        histogram=histogram,
        mean_percent=sum(percents) / n if n else 0.0,
        median_percent=median,
        delta_sign=Counter(r.delta_sign for r in report.results).most_common(1)[0][0]
        if report.results
        else "gradient",
        absent=tuple(absentees(report)) if report.roster else (),
    )


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def print_summary(summary: ClassSummary, console: Console) -> None:
    """The analysis as terminal tables: per quantity, misconceptions, score distribution."""
    absent = (
        f", {len(summary.absent)} absent ({', '.join(summary.absent)})" if summary.absent else ""
    )
    console.print(Text(f"Class analysis: {summary.students} students{absent}", style="bold"))
    table = Table(box=None, pad_edge=False)
    table.add_column("")
    table.add_column("id", style="dim")
    for column in SHOWN:
        table.add_column(LABELS[column], justify="right")
    for q in summary.quantities:
        table.add_row(Text(q.symbol), Text(q.id), *(Text(_percent(q.share(c))) for c in SHOWN))
    console.print(table)
    if summary.misconceptions:
        console.print(Text("Most frequent misconceptions", style="bold"))
        mistakes = Table(box=None, pad_edge=False, show_header=False)
        mistakes.add_column(justify="right")
        mistakes.add_column()
        for code, _, students in summary.misconceptions:
            mistakes.add_row(Text(f"{students} student{'s' * (students != 1)}"), Text(code))
        console.print(mistakes)
    console.print(Text("Score distribution (percent)", style="bold"))
    width = max(summary.histogram, default=0) or 1
    for k, count in enumerate(summary.histogram):
        band = f"{k * 100 // BINS:>3}–{(k + 1) * 100 // BINS:<3}"
        console.print(Text(f"{band} {'█' * round(20 * count / width):<20} {count}"))
    console.print(
        Text(
            f"mean {summary.mean_percent:.1f}%, median {summary.median_percent:.1f}%",
            style="dim",
        )
    )


# --- charts as SVG ------------------------------------------------------------------------------
# Colours are presentation attributes: WeasyPrint does not apply the stylesheet inside inline SVG.

FONT = 'font-family="DejaVu Sans, sans-serif"'


def _svg(width: float, height: float, body: list[str], words: str) -> Markup:
    """A chart, with `words` saying what it shows for screen readers (and the PDF's alternative
    text)."""
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(words)}">'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, size: float = 2.6, anchor: str = "start", **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size}" text-anchor="{anchor}" {FONT}{extra}>'
        f"{escape(text)}</text>"
    )


def quantity_chart(summary: ClassSummary, width: float = 180) -> Markup:
    """One stacked bar per quantity: correct, follow-through, wrong, missing (in mm)."""
    # Compact rows, so a classic exam's 50 quantities fit under the first charts on one page.
    label, row, bar = 30.0, 2.8, 2.1
    plot = width - label - 12
    top = 6.0
    body = []
    x = label
    for column in SHOWN:  # legend
        body.append(f'<rect x="{x:.2f}" y="0.6" width="3" height="3" fill="{COLOURS[column]}"/>')
        body.append(_text(x + 4, 3.2, LABELS[column]))
        x += 32
    for n, q in enumerate(summary.quantities):
        y = top + n * row
        body.append(_text(label - 1.5, y + bar - 0.3, q.symbol, 2.2, anchor="end"))
        x = label
        for column in SHOWN:
            w = plot * q.share(column)
            if w > 0:
                body.append(
                    f'<rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{bar}" '
                    f'fill="{COLOURS[column]}"/>'
                )
            x += w
        body.append(_text(label + plot + 1.5, y + bar - 0.3, _percent(q.share("correct")), 2.2))
    height = top + row * len(summary.quantities) + 2
    for k in range(5):  # gridline labels at 0, 25 … 100 %
        gx = label + plot * k / 4
        body.append(
            f'<line x1="{gx:.2f}" y1="{top - 0.8}" x2="{gx:.2f}" y2="{height - 1.5}" '
            'stroke="#ffffff" stroke-width="0.25"/>'
        )
    words = "Bar chart of the share of students correct, right by follow-through, wrong and " \
        "missing, per quantity (the same numbers are in the table Per quantity): " + "; ".join(
        f"{q.symbol} {_percent(q.share('correct'))} correct" for q in summary.quantities
    )  # fmt: skip
    return _svg(width, height, body, words + ".")


def histogram_chart(summary: ClassSummary, width: float = 85, height: float = 50) -> Markup:
    """Students per band of 10 percentage points."""
    left, bottom, top = 8.0, 8.0, 3.0
    plot_w, plot_h = width - left - 2, height - bottom - top
    peak = max(summary.histogram, default=0) or 1
    slot = plot_w / BINS
    body = [
        f'<line x1="{left}" y1="{top + plot_h:.2f}" x2="{left + plot_w:.2f}" '
        f'y2="{top + plot_h:.2f}" stroke="#555555" stroke-width="0.3"/>'
    ]
    for k, count in enumerate(summary.histogram):
        h = plot_h * count / peak
        x = left + k * slot
        if count:
            body.append(
                f'<rect x="{x + 0.6:.2f}" y="{top + plot_h - h:.2f}" width="{slot - 1.2:.2f}" '
                f'height="{h:.2f}" fill="#1f4e8c"/>'
            )
            body.append(_text(x + slot / 2, top + plot_h - h - 0.8, str(count), anchor="middle"))
        body.append(_text(x, top + plot_h + 3.5, f"{k * 100 // BINS}", 2.2, anchor="middle"))
    body.append(_text(left + plot_w, top + plot_h + 3.5, "100", 2.2, anchor="middle"))
    body.append(_text(left + plot_w / 2, height - 0.8, "score (%)", 2.4, anchor="middle"))
    bands = [
        f"{k * 100 // BINS} to {(k + 1) * 100 // BINS}%: {count}"
        for k, count in enumerate(summary.histogram)
        if count
    ]
    words = "Histogram of the scores, students per band: " + ("; ".join(bands) or "none")
    return _svg(width, height, body, words + ".")


def misconception_chart(summary: ClassSummary, width: float = 95) -> Markup:
    """Students showing each misconception, most frequent first."""
    label, row, bar = 52.0, 5.0, 3.4
    plot = width - label - 8
    peak = max((s for _, _, s in summary.misconceptions), default=0) or 1
    body = []
    for n, (code, _, students) in enumerate(summary.misconceptions):
        y = 1 + n * row
        w = plot * students / peak
        body.append(_text(label - 1.5, y + bar - 0.6, code, 2.4, anchor="end"))
        body.append(
            f'<rect x="{label}" y="{y:.2f}" width="{w:.2f}" height="{bar}" fill="#b3261e"/>'
        )
        body.append(_text(label + w + 1.2, y + bar - 0.6, str(students), 2.4))
    words = "Bar chart of the students showing each misconception: " + (
        "; ".join(f"{code}: {students}" for code, _, students in summary.misconceptions) or "none"
    )
    return _svg(width, 2 + row * max(1, len(summary.misconceptions)), body, words + ".")


# --- the report ---------------------------------------------------------------------------------


def summary_context(
    summary: ClassSummary, exams: list[str], exam_header: dict[str, str] | None = None
) -> dict[str, Any]:
    """The class report's context; `exam_header`: the title, course and date of the one exam
    graded (as its key keeps them), printed in the report's header."""
    exam_header = exam_header or {}
    title = exam_header.get("title")
    options = SheetOptions(
        f"Class analysis: {title}" if title else "Class analysis",
        exam_header.get("course") or ", ".join(exams),
        exam_header.get("date", ""),
    )
    rows = [
        {
            "symbol": q.symbol,
            "id": q.id,
            "shares": [_percent(q.share(c)) for c in SHOWN],
        }
        for q in summary.quantities
    ]
    return {
        **header("summary", options, "", None),
        "students": summary.students,
        "absent": list(summary.absent),
        "mean": f"{summary.mean_percent:.1f}",
        "median": f"{summary.median_percent:.1f}",
        "columns": [LABELS[c] for c in SHOWN],
        "rows": rows,
        "misconceptions": [
            {
                "code": code,
                "students": students,
                "answers": answers,
                "explanation": (
                    CATALOGUE[code].explain(summary.delta_sign) if code in CATALOGUE else ""
                ),
            }
            for code, answers, students in summary.misconceptions
        ],
        "quantity_chart": quantity_chart(summary),
        "histogram_chart": histogram_chart(summary),
        "misconception_chart": misconception_chart(summary) if summary.misconceptions else "",
    }


def render_summary_html(
    summary: ClassSummary,
    exams: list[str],
    templates: Path | None = None,
    exam_header: dict[str, str] | None = None,
) -> str:
    context = summary_context(summary, exams, exam_header)
    return render_template("summary.html", context, templates)


def write_summary(
    report: Report,
    path: Path,
    templates: Path | None = None,
    keys: KeyIndex | None = None,
    replace: bool = False,
) -> None:
    """The class report as `path` (.html, or .pdf through WeasyPrint), written atomically; with
    the `keys` graded against, headed with the exam's own title, course and date. An earlier one
    is replaced only with `replace` (else OutputExists)."""
    refuse_existing([path], replace)
    exams = sorted({r.exam for r in report.results if r.exam})
    exam_header: dict[str, str] = {}
    if keys is not None and len(exams) == 1 and report.results:
        exam_header = dict(keys.find(report.results[0].variant).header)
    html = render_summary_html(class_summary(report), exams, templates, exam_header)
    if path.suffix.lower() == ".html":
        write_atomic(path, html, replace=replace)
        return
    from bpquiz.sheets.pdf import html_to_pdf

    data, _pages = html_to_pdf(html, template_roots(templates))
    write_atomic(path, data, replace=replace)
