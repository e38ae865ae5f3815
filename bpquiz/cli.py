"""The `bpquiz` command line: parse, call the library, print. Heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bpquiz import __version__

app = typer.Typer(
    help="Backpropagation exercises with exact worked solutions, exam sheets and fair marking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """Anything the user can fix: shown as one 'Error: …' line, exit code 1."""


def fail(message: str) -> typer.Exit:
    err.print(f"Error: {message}", markup=False)
    return typer.Exit(code=1)


def _version(value: bool) -> None:
    if value:
        out.print(f"bpquiz {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Backpropagation exercises with exact worked solutions, exam sheets and fair marking."""


def _rounding(decimals: int | None, sigfigs: int | None):
    from bpquiz.rounding import Mode, Rounding

    if decimals is not None and sigfigs is not None:
        raise typer.BadParameter("give either --decimals or --sigfigs, not both")
    try:
        if sigfigs is not None:
            return Rounding(Mode.SIGFIGS, sigfigs)
        return Rounding(Mode.DECIMALS, 4 if decimals is None else decimals)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _int_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated numbers like 2,3,2, got '{text}'"
        ) from None


def _word_list(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


Decimals = Annotated[
    int | None, typer.Option("--decimals", help="Round answers to N decimal places (default 4).")
]
Sigfigs = Annotated[
    int | None, typer.Option("--sigfigs", help="Round answers to N significant figures instead.")
]


@app.command()
def generate(
    seed: Annotated[
        int | None,
        typer.Option(min=0, help="Seed for the random draws (default: a fresh one, printed)."),
    ] = None,
    preset: Annotated[
        str, typer.Option(help="Kind of exercise; see `bpquiz presets`.")
    ] = "classic",
    layers: Annotated[str | None, typer.Option(help="Neurons per layer, e.g. 2,3,2.")] = None,
    activation: Annotated[
        str | None, typer.Option(help="Activation for all layers, or one per layer: tanh,sigmoid.")
    ] = None,
    loss: Annotated[str | None, typer.Option(help="half_sse, mse, bce or cross_entropy.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: drawn).")] = None,
    batch: Annotated[int | None, typer.Option(help="Training examples per variant.")] = None,
    bias: Annotated[str | None, typer.Option(help="per_neuron, shared or none.")] = None,
    decimals: Decimals = None,
    sigfigs: Sigfigs = None,
    ask: Annotated[
        str | None,
        typer.Option(help="Kinds asked on the sheet, e.g. z,a,loss,delta,w_new (default: all)."),
    ] = None,
    variants: Annotated[int, typer.Option(min=1, max=2000, help="Number of variants.")] = 1,
    roster: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="CSV with columns id,name: one variant each."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Exam name, used for file names (default: PRESET-SEED).")
    ] = None,
    keys_dir: Annotated[Path, typer.Option(help="Where the answer key goes.")] = Path(
        "answer_keys"
    ),
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the sheets and answer templates (default: exams/NAME)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing answer key.")] = False,
    output_format: Annotated[
        str, typer.Option("--format", help="Sheets as pdf, or html for a browser or an LMS.")
    ] = "pdf",
    notation: Annotated[
        str, typer.Option(help="layered (any depth) or textbook (x → h → y, one hidden layer).")
    ] = "layered",
    paper: Annotated[str, typer.Option(help="a4 or letter.")] = "a4",
    duplex: Annotated[
        bool, typer.Option(help="Pad each student to an even page count for two-sided printing.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Worker processes for rendering (default: all cores).")
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="Folder of edited templates (see `bpquiz templates`).",
        ),
    ] = None,
    title: Annotated[
        str, typer.Option(help="Title printed on every sheet.")
    ] = "Backpropagation exercise",
    course: Annotated[str, typer.Option(help="Course line under the title.")] = "",
    date: Annotated[str, typer.Option(help="Exam date as printed, e.g. '12 March 2026'.")] = "",
    fillable: Annotated[
        bool,
        typer.Option(help="Student sheets as PDF forms to type the answers into, then grade."),
    ] = False,
) -> None:
    """Draw random exercises; write their answer key, answer templates and sheets.

    Example: bpquiz generate --seed 42 --preset xor --variants 30 --course "COMP 442" --duplex
    """
    from bpquiz import generate as gen
    from bpquiz.exam import ExamError, SheetRequest, write_exam
    from bpquiz.render import FORMATS, PAPERS, SheetOptions
    from bpquiz.roster import RosterError, load_roster
    from bpquiz.spec import SpecError

    if output_format not in FORMATS:
        raise typer.BadParameter(f"expected {' or '.join(FORMATS)}", param_hint="--format")
    if paper not in PAPERS:
        raise typer.BadParameter(f"expected {' or '.join(PAPERS)}", param_hint="--paper")
    rounding = _rounding(decimals, sigfigs)
    try:
        settings = gen.customise(
            preset,
            layers=_int_list(layers, "--layers"),
            activations=_word_list(activation),
            loss=loss,
            learning_rate=lr,
            batch=batch,
            bias=bias,
            rounding=rounding,
            asked=_word_list(ask),
        )
    except SpecError as exc:
        raise typer.BadParameter(str(exc)) from None
    if roster is not None and variants != 1:
        raise typer.BadParameter("give --variants or --roster (one variant per student), not both")
    try:
        students = load_roster(roster) if roster else None
    except RosterError as exc:
        raise fail(str(exc)) from None

    fresh = seed is None
    if seed is None:
        seed = gen.fresh_seed()
    name = name or f"{settings.preset}-{seed}"
    if not _safe_name(name):
        raise typer.BadParameter(
            "use letters, digits, '-', '_' and '.' only (it becomes a file name)",
            param_hint="--name",
        )
    request = SheetRequest(
        SheetOptions(title, course, date, notation, paper, templates, fillable),
        output_format,
        duplex,
        jobs,
    )
    count = len(students) if students else variants
    try:
        with _progress_bar(count > 1, "Rendering sheets") as progress:
            request = replace(request, progress=progress)
            drawn, written = write_exam(
                settings,
                seed,
                variants,
                students,
                name,
                keys_dir,
                out_dir or Path("exams") / name,
                force,
                request,
            )
    except (SpecError, ExamError) as exc:
        raise fail(str(exc)) from None

    if fresh:
        out.print(f"Seed {seed} (drawn fresh; it is stored in the key).")
    count = len(drawn)
    codes = ", ".join(v.code for v in drawn[:5]) + (" …" if count > 5 else "")
    out.print(f"{count} variant{'s' * (count != 1)} of '{settings.preset}' ({codes})")
    out.print(f"Answer key:        {written.key}")
    count = len(written.answers)
    out.print(f"Answer templates:  {written.answers[0].parent}/ ({count} file{'s' * (count != 1)})")
    sheets = written.sheets
    if sheets is not None:
        kind = output_format.upper()
        out.print(
            f"{f'Sheets ({kind}):':<19}{sheets.sheets[0].parent}/ "
            f"(CODE-sheet.{output_format} and CODE-solution.{output_format}, "
            f"{len(sheets.sheets) + len(sheets.solutions)} files"
            + (f", {sheets.pages} pages)" if sheets.pages else ")")
        )
        if sheets.class_sheets and sheets.class_solutions:
            out.print(f"Class files:       {sheets.class_sheets}, {sheets.class_solutions.name}")


@contextmanager
def _progress_bar(show: bool, description: str):
    """A progress callback (done, total) drawing a bar on stderr, or None when not worth one."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _safe_name(name: str) -> bool:
    return bool(name) and name[0] not in ".-" and all(c.isalnum() or c in "-_." for c in name)


@app.command()
def solve(
    spec: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Problem spec (JSON).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answer-key JSON of this problem instead.")
    ] = False,
    decimals: Decimals = None,
    sigfigs: Sigfigs = None,
    notation: Annotated[str, typer.Option(help="layered or textbook.")] = "layered",
) -> None:
    """Work one problem out step by step: forward pass, loss, deltas, gradients, update.

    Example: bpquiz solve textbook-example.json --decimals 3
    """
    from bpquiz.generate import Settings
    from bpquiz.key import dumps, problem_entry
    from bpquiz.notation import make_notation
    from bpquiz.solution import Solution
    from bpquiz.spec import SpecError, load_problem

    rounding = _rounding(decimals, sigfigs)
    try:
        problem = load_problem(spec)
        solution = Solution(problem)
    except SpecError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:
        raise fail(f"{spec}: {exc}") from None
    try:
        chosen = make_notation(notation, problem.depth, problem.examples)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--notation") from None

    if as_json:
        settings = Settings(
            "spec", str(spec), problem.layers, problem.activations, rounding=rounding
        )
        sys.stdout.write(dumps(problem_entry(solution, settings)))
        return
    out.print(
        f"[bold]{spec}[/bold]: layers {'-'.join(map(str, problem.layers))}, "
        f"{', '.join(problem.activations)}, loss {problem.loss}, η = {problem.learning_rate:g}; "
        f"answers to {rounding.describe()}"
    )
    for title, quantities in solution.sections():
        out.print(f"\n[bold underline]{title}[/bold underline]")
        for q in quantities:
            step = solution.step(q.id, chosen, rounding)
            line = f"{step['symbol']} = {step['formula']}"
            if step["substituted"] != step["result"]:
                line += f" = {step['substituted']}"
            note = f" {step['result_note']}" if step["result_note"] else ""
            out.print(f"  {line} = [bold]{step['result']}[/bold]{note}   [dim]({q.id})[/dim]")


@app.command()
def presets() -> None:
    """List the kinds of exercise `bpquiz generate --preset NAME` draws.

    Example: bpquiz presets
    """
    from bpquiz.generate import PRESETS

    width = max(map(len, PRESETS))
    for name, settings in PRESETS.items():
        out.print(f"{name:<{width}}  {settings.description}")


@app.command(name="templates")
def copy_templates(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write the copy into.")],
    force: Annotated[bool, typer.Option(help="Overwrite template files already there.")] = False,
) -> None:
    """Write a copy of the sheet templates (HTML + CSS) into FOLDER, to edit and use.

    Example: bpquiz templates my-sheets && bpquiz generate --seed 42 --templates my-sheets
    """
    from bpquiz.render import RenderError
    from bpquiz.render import copy_templates as copy

    try:
        written = copy(folder, force=force)
    except RenderError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write into {folder}: {exc.strerror}") from None
    out.print(
        f"Wrote {len(written)} template files to {folder}/ ({', '.join(p.name for p in written)})."
    )
    out.print(f"Edit them, then: bpquiz generate … --templates {folder}")


@app.command()
def grade(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Answers files (.json), filled fillable sheets (.pdf), spreadsheets (.csv, a row "
            "per student), or folders of them."
        ),
    ],
    key: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Grade against this answer key only."),
    ] = None,
    keys_dir: Annotated[
        Path | None,
        typer.Option(
            "--keys", file_okay=False, help="Folder of answer keys (default: answer_keys/)."
        ),
    ] = None,
    atol: Annotated[
        float | None,
        typer.Option(min=0, help="Accept |given − expected| ≤ ATOL (+ RTOL·|expected|)."),
    ] = None,
    rtol: Annotated[
        float | None, typer.Option(min=0, help="Accept a relative error up to RTOL, e.g. 0.01.")
    ] = None,
    sigfigs: Annotated[
        int | None,
        typer.Option(min=1, max=10, help="Accept answers right to N significant figures."),
    ] = None,
    decimals: Annotated[
        int | None, typer.Option(min=1, max=10, help="Accept answers right to N decimal places.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON document instead.")
    ] = False,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", dir_okay=False, help="Also write a gradebook CSV for an LMS."),
    ] = None,
    details: Annotated[
        bool | None,
        typer.Option(
            "--details/--brief",
            help="A table per student (default for one file) or one line each (default for more).",
        ),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (default: the CPUs).")
    ] = None,
    follow_through: Annotated[
        str,
        typer.Option(
            "--follow-through",
            help="Credit for a step done right from the student's own wrong earlier answers: "
            "full, half or off.",
        ),
    ] = "full",
    feedback_dir: Annotated[
        Path | None,
        typer.Option(
            "--feedback",
            file_okay=False,
            help="Write a feedback sheet (PDF) per student into this folder.",
        ),
    ] = None,
    summary_path: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            dir_okay=False,
            help="Print a class analysis, and write it as a report: FILE.pdf or FILE.html "
            "(- for the terminal only).",
        ),
    ] = None,
) -> None:
    """Mark students' answers against the answer key, item by item.

    Each file's variant code picks its key variant from answer_keys/ (or --key / --keys).
    By default every quantity uses the key's own tolerance; --atol/--rtol, --sigfigs or
    --decimals replace it. Exit code 0 when every file was graded, 1 when any could not be.

    A step done right from the student's own wrong earlier answer earns follow-through
    credit (--follow-through); an answer matching a known mistake names it.

    Example: bpquiz grade submissions/ --csv grades.csv --feedback feedback/ --summary class.pdf
    """
    from bpquiz.compare import Comparison, Model
    from bpquiz.files import write_atomic
    from bpquiz.grade import grade_paths
    from bpquiz.grade_report import gradebook_csv, print_report, results_json
    from bpquiz.key import KeyFileError, open_keys
    from bpquiz.marking import FollowThrough, markers

    try:
        credit = FollowThrough(follow_through)
    except ValueError:
        raise typer.BadParameter(
            "expected full, half or off", param_hint="--follow-through"
        ) from None
    if key is not None and keys_dir is not None:
        raise typer.BadParameter("give either --key or --keys, not both", param_hint="--key")
    chosen = [
        o
        for o, v in [
            ("--atol/--rtol", atol if atol is not None else rtol),
            ("--sigfigs", sigfigs),
            ("--decimals", decimals),
        ]
        if v is not None
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one way to compare: {' or '.join(chosen)}")
    try:
        if sigfigs is not None:
            comparison = Comparison(Model.SIGFIGS, digits=sigfigs)
        elif decimals is not None:
            comparison = Comparison(Model.DECIMALS, digits=decimals)
        elif atol is not None or rtol is not None:
            comparison = Comparison(Model.TOLERANCE, atol=atol or 0.0, rtol=rtol or 0.0)
        else:
            comparison = Comparison()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if csv_path is not None and (
        csv_path.suffix.lower() == ".json"
        or any(
            p.is_file() and p.resolve() == csv_path.resolve() for p in [*paths, *[key] * bool(key)]
        )
    ):
        raise typer.BadParameter(
            "the gradebook would overwrite an input: give a new .csv file name", param_hint="--csv"
        )
    if (
        summary_path is not None
        and str(summary_path) != "-"
        and summary_path.suffix.lower() not in (".pdf", ".html")
    ):
        raise typer.BadParameter(
            "give a .pdf or .html file name (or - for the terminal only)", param_hint="--summary"
        )

    try:
        keys = open_keys(key, keys_dir)
    except KeyFileError as exc:
        raise fail(str(exc)) from None
    report = grade_paths(paths, keys, comparison, markers(credit), jobs=jobs)

    for problem in report.errors:
        err.print(f"Error: {problem.file}: {problem.error}", markup=False)
    if as_json:
        sys.stdout.write(results_json(report))
    else:
        print_report(report, out, details)
    if csv_path is not None:
        try:
            write_atomic(csv_path, gradebook_csv(report))
        except OSError as exc:
            raise fail(f"cannot write {csv_path}: {exc.strerror or exc}") from None
        if not as_json:
            out.print(f"Gradebook: {csv_path}", markup=False)
    _class_outputs(report, keys, feedback_dir, summary_path, as_json)
    if not report.ok:
        raise typer.Exit(code=1)


def _class_outputs(report, keys, feedback_dir: Path | None, summary: Path | None, quiet: bool):
    """--feedback and --summary: sheets per student, the class analysis (stdout stays JSON-only
    with --json, so the analysis goes to stderr then)."""
    if feedback_dir is None and summary is None:
        return  # and nothing of the rendering code is imported
    from bpquiz.render import RenderError

    try:
        if feedback_dir is not None:
            from bpquiz.feedback import write_feedback

            written = write_feedback(report, keys, feedback_dir)
            if not quiet:
                n = len(written)
                out.print(
                    f"Feedback sheets: {feedback_dir}/ ({n} file{'s' * (n != 1)})", markup=False
                )
        if summary is not None:
            from bpquiz.summary import class_summary, print_summary, write_summary

            print_summary(class_summary(report), err if quiet else out)
            if str(summary) != "-":
                write_summary(report, summary)
                if not quiet:
                    out.print(f"Class analysis: {summary}", markup=False)
    except RenderError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {exc.filename or 'the report'}: {exc.strerror or exc}") from None


def main() -> None:
    """Entry point: user errors are one line; an unexpected failure is reported, not dumped."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("BPQUIZ_DEBUG"):
            raise
        err.print(
            f"Error: internal error ({exc.__class__.__name__}: {exc}). "
            "Set BPQUIZ_DEBUG=1 to see the details, and please report it.",
            markup=False,
        )
        sys.exit(1)
