"""The `bpquiz` command line: parse, call the library (bpquiz.api), print.

One cohesive module of option declarations, longer than the others for that reason.

Every error a user can fix is a BpquizError; `BpquizCommand` turns it into one `Error: …` line and
exit code 1 (an OptionError into a bad-parameter usage error, exit code 2), in one place. Heavy imports happen
inside commands, so `bpquiz --help` and `bpquiz grade` stay quick.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from bpquiz import __version__
from bpquiz.errors import BpquizError, BpquizWarning, OptionError
from bpquiz.exercises.key import DEFAULT_KEYS_DIR
from bpquiz.exercises.presets import DEFAULT_PRESET
from bpquiz.files import printable

# No emoji codes: a student's ":x:" is text, not a picture (students' text reaches both consoles).
# No markup either: texts hold paths and names ("[/x]" would be a markup error), styles are set
# with rich Text where wanted.
out = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)


UsageError: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
"""Click's usage error (typer.BadParameter's base), found through typer's public API: typer
0.12-0.25 use click, later ones a copy of it inside typer."""


class BpquizCommand(TyperCommand):
    """A command whose errors are one line on stderr and an exit code: BpquizErrors 1, wrong usage
    (an unknown option, a bad option value) 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _wrong_usage(exc)

    def invoke(self, ctx: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", BpquizWarning)
                warnings.showwarning = _one_line(warnings.showwarning)
                return super().invoke(ctx)
        except OptionError as exc:
            _wrong_usage(typer.BadParameter(str(exc), ctx=ctx))
        except UsageError as exc:
            _wrong_usage(exc)
        except BpquizError as exc:
            # A message may name a file a student named: no control character reaches the terminal.
            err.print(f"Error: {printable(str(exc))}", markup=False)
            raise typer.Exit(code=1) from None


class BpquizGroup(TyperGroup):
    """The command group: an unknown command is one line too."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            _wrong_usage(exc)


def _wrong_usage(exc: Any) -> NoReturn:
    """Click's usage error as one line naming where help is, instead of its usage block."""
    ctx = exc.ctx
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    err.print(f"Error: {printable(exc.format_message())}{where}", markup=False)
    raise typer.Exit(code=exc.exit_code)


def _one_line(show: Callable[..., None]) -> Callable[..., None]:
    """warnings.showwarning: a BpquizWarning as one line on stderr, any other as `show` does."""

    def shown(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, BpquizWarning):
            err.print(f"Warning: {printable(str(message))}", markup=False)
        else:
            show(message, category, *args, **kwargs)

    return shown


app = typer.Typer(
    cls=BpquizGroup,
    help="Backpropagation exercises with exact worked solutions, exam sheets and fair marking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
command = app.command


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


def _int_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise OptionError(
            f"{option}: expected comma-separated numbers like 2,3,2, got '{text}'"
        ) from None


def _word_list(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


ASK_HELP = (
    "Kinds asked on the sheet, e.g. z,a,loss,delta,w_new (default: all but grad_a and dact; asking "
    "for grad_a or dact computes each δ in steps: ∂L/∂a, f′(z), then δ)."
)
POINTS_HELP = "Points per kind where not 1, e.g. delta=2,w_new=0.5."


def _points(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    points: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, value = part.partition("=")
        if kind.strip() in points:
            raise OptionError(f"--points: {kind.strip()} is given twice: give each kind once")
        try:
            points[kind.strip()] = float(value)
        except ValueError:
            raise OptionError(
                f"--points: expected KIND=NUMBER like delta=2, got '{part}'"
            ) from None
    return points


Decimals = Annotated[
    int | None, typer.Option("--decimals", help="Round answers to N decimal places (default 4).")
]
Sigfigs = Annotated[
    int | None, typer.Option("--sigfigs", help="Round answers to N significant figures instead.")
]


@command(cls=BpquizCommand)
def generate(
    seed: Annotated[
        int | None,
        typer.Option(min=0, help="Seed for the random draws (default: a fresh one, printed)."),
    ] = None,
    preset: Annotated[
        str, typer.Option(help="Kind of exercise; see `bpquiz presets`.")
    ] = DEFAULT_PRESET,
    layers: Annotated[str | None, typer.Option(help="Neurons per layer, e.g. 2,3,2.")] = None,
    activation: Annotated[
        str | None, typer.Option(help="Activation for all layers, or one per layer: tanh,sigmoid.")
    ] = None,
    loss: Annotated[
        str | None, typer.Option(help="half_sse, sse, mse, bce or cross_entropy.")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: drawn).")] = None,
    batch: Annotated[int | None, typer.Option(help="Training examples per variant.")] = None,
    bias: Annotated[str | None, typer.Option(help="per_neuron, shared or none.")] = None,
    delta_sign: Annotated[
        str | None,
        typer.Option(
            help="gradient (δ = ∂L/∂z, the default) or error (δ = −∂L/∂z = (t − y)·f′(z), "
            "as in Mitchell and Han & Kamber)."
        ),
    ] = None,
    batch_reduction: Annotated[
        str | None,
        typer.Option(help="How a mini-batch combines: mean (the default) or sum."),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Set this typed-in problem (JSON, as for `bpquiz solve`) instead of drawing.",
        ),
    ] = None,
    decimals: Decimals = None,
    sigfigs: Sigfigs = None,
    ask: Annotated[str | None, typer.Option(help=ASK_HELP)] = None,
    points: Annotated[str | None, typer.Option(help=POINTS_HELP)] = None,
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
    keys_dir: Annotated[Path, typer.Option(help="Where the answer key goes.")] = DEFAULT_KEYS_DIR,
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
    title: Annotated[str | None, typer.Option(help="Title printed on every sheet.")] = None,
    course: Annotated[str, typer.Option(help="Course line under the title.")] = "",
    date: Annotated[str, typer.Option(help="Exam date as printed, e.g. '12 March 2026'.")] = "",
    fillable: Annotated[
        bool,
        typer.Option(help="Student sheets as PDF forms to type the answers into, then grade."),
    ] = False,
    practice: Annotated[
        bool,
        typer.Option(
            help="Also a practice page per variant (CODE-practice.html): a web page that marks "
            "the student's answers as `bpquiz grade` does, offline. It contains the answers: "
            "for practice only, never for assessment."
        ),
    ] = False,
) -> None:
    """Draw random exercises (or set a typed-in one, --spec); write their answer key, answer
    templates and sheets.

    Example: bpquiz generate --seed 42 --preset xor --variants 30 --course "COMP 442" --duplex
    """
    from bpquiz.api import generate_exam
    from bpquiz.exercises import draw
    from bpquiz.exercises.roster import load_roster
    from bpquiz.maths.rounding import rule
    from bpquiz.sheets.options import DEFAULT_TITLE, FORMATS, PAPERS, SheetOptions
    from bpquiz.sheets.render import SheetRequest

    if output_format not in FORMATS:
        raise typer.BadParameter(f"expected {' or '.join(FORMATS)}", param_hint="--format")
    if paper not in PAPERS:
        raise typer.BadParameter(f"expected {' or '.join(PAPERS)}", param_hint="--paper")
    if spec is not None:
        from bpquiz.maths.spec import load_problem

        drawing: dict[str, object] = {
            "--preset": None if preset == DEFAULT_PRESET else preset,
            "--layers": layers,
            "--activation": activation,
            "--loss": loss,
            "--lr": lr,
            "--batch": batch,
            "--bias": bias,
            "--delta-sign": delta_sign,
            "--batch-reduction": batch_reduction,
        }
        given = [option for option, value in drawing.items() if value is not None]
        if given:
            raise OptionError(f"{given[0]} does not go with --spec: the spec file sets it")
        settings = draw.typed_in(
            load_problem(spec),
            str(spec),
            rounding=rule(decimals, sigfigs),
            asked=_word_list(ask),
            points=_points(points),
        )
        name = name or spec.stem
    else:
        settings = draw.customise(
            preset,
            layers=_int_list(layers, "--layers"),
            activations=_word_list(activation),
            loss=loss,
            learning_rate=lr,
            batch=batch,
            bias=bias,
            rounding=rule(decimals, sigfigs),
            asked=_word_list(ask),
            delta_sign=delta_sign,
            batch_reduction=batch_reduction,
            points=_points(points),
        )
    if roster is not None and variants != 1:
        raise OptionError("give --variants or --roster (one variant per student), not both")
    students = load_roster(roster) if roster else None
    fresh = seed is None
    if seed is None:
        seed = draw.fresh_seed()
    if name is not None and not _safe_name(name):
        raise typer.BadParameter(
            "use letters, digits, '-', '_' and '.' only (it becomes a file name)",
            param_hint="--name",
        )
    options = SheetOptions(
        title or DEFAULT_TITLE, course, date, notation, paper, templates, fillable
    )
    count = len(students) if students else variants
    with _progress_bar(count > 1, "Rendering sheets") as progress:
        request = SheetRequest(options, output_format, duplex, jobs, progress, practice)
        exam = generate_exam(
            settings,
            seed,
            variants,
            students=students,
            name=name,
            keys_dir=keys_dir,
            out_dir=out_dir,
            force=force,
            sheets=request,
        )

    if fresh:
        out.print(f"Seed {seed} (drawn fresh; it is stored in the key).")
    count = len(exam.variants)
    codes = ", ".join(v.code for v in exam.variants[:5]) + (" …" if count > 5 else "")
    out.print(f"{count} variant{'s' * (count != 1)} of '{settings.preset}' ({codes})")
    out.print(f"Answer key:        {exam.key}")
    count = len(exam.answers)
    table = f" and {exam.table.name}" if exam.table else ""
    out.print(
        f"Answer templates:  {exam.answers[0].parent}/ ({count} file{'s' * (count != 1)}{table})"
    )
    sheets = exam.sheets
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
        if sheets.practice:
            count = len(sheets.practice)
            out.print(
                f"Practice pages:    {sheets.practice[0].parent}/ (CODE-practice.html, {count} "
                f"file{'s' * (count != 1)}; they contain the answers: never for assessment)"
            )
        for warning in sheets.warnings:  # may quote a roster name: never markup
            err.print(f"Warning: {printable(warning)}", markup=False)
    if exam.students:
        out.print(f"Students:          {exam.students} (id, name, variant and files)")


@contextmanager
def _progress_bar(show: bool, description: str) -> Iterator[Callable[[int, int], None] | None]:
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


@command(cls=BpquizCommand)
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
    from bpquiz.api import solve as solve_problem
    from bpquiz.exercises.key import dumps
    from bpquiz.maths.rounding import rule

    rounding = rule(decimals, sigfigs)
    solved = solve_problem(spec, rounding)
    sections = solved.sections(notation)
    if as_json:
        sys.stdout.write(dumps(solved.key_entry()))
        return
    problem = solved.solution.problem
    out.print(
        Text(str(spec), style="bold"),
        Text(
            f": layers {'-'.join(map(str, problem.layers))}, "
            f"{', '.join(problem.activations)}, loss {problem.loss}, "
            f"η = {problem.learning_rate:g}; answers to {rounding.describe()}"
        ),
        sep="",
    )
    for title, steps in sections:
        out.print()
        out.print(Text(title, style="bold underline"))
        for step in steps:
            note = f" {step.note}" if step.note else ""
            out.print(f"  {step.equation} {step.working}{note}   ({step.id})", markup=False)


@command(cls=BpquizCommand)
def presets() -> None:
    """List the kinds of exercise `bpquiz generate --preset NAME` draws.

    Example: bpquiz presets
    """
    from bpquiz.exercises.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, settings in PRESETS.items():
        out.print(f"{name:<{width}}  {settings.description}")


@command(name="templates", cls=BpquizCommand)
def copy_templates(
    folder: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write the copy into.")],
    force: Annotated[bool, typer.Option(help="Overwrite template files already there.")] = False,
) -> None:
    """Write a copy of the sheet templates (HTML + CSS) into FOLDER, to edit and use.

    Example: bpquiz templates my-sheets && bpquiz generate --seed 42 --templates my-sheets
    """
    from bpquiz.sheets.templates import copy_templates as copy

    try:
        written = copy(folder, force=force)
    except OSError as exc:
        raise BpquizError(f"cannot write into {folder}: {exc.strerror}") from None
    out.print(
        f"Wrote {len(written)} template files to {folder}/ ({', '.join(p.name for p in written)})."
    )
    out.print(f"Edit them, then: bpquiz generate … --templates {folder}")


@command(cls=BpquizCommand)
def export(
    key: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The answer key (JSON) to export.")
    ],
    moodle: Annotated[
        Path | None,
        typer.Option(help="Write Moodle XML: a Cloze question per variant, in one category."),
    ] = None,
    qti: Annotated[
        Path | None,
        typer.Option(help="Write an IMS QTI 2.1 content package (.zip): an item per variant."),
    ] = None,
    canvas: Annotated[
        Path | None,
        typer.Option(help="Write a Canvas Classic Quizzes package (.zip): a quiz per variant."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace files that already exist.")] = False,
) -> None:
    """Write the key's variants as question banks an LMS imports; any combination in one call.

    Each variant becomes one question: the problem sheet's text, the network as an image, the
    givens as tables, a box per asked quantity with the key's tolerance and points, and the worked
    solution as feedback. Regrade the LMS's responses with `bpquiz grade`.

    Example: bpquiz export answer_keys/midterm.json --moodle midterm.xml --qti midterm-qti.zip
    """
    from bpquiz.api import export as export_key

    exported = export_key(key, moodle=moodle, qti=qti, canvas=canvas, force=force)
    for written in exported.written:
        out.print(f"{written.path}: {written.summary}", markup=False)
    for note in exported.notes:
        err.print(f"Note: {note}", markup=False)


@command(cls=BpquizCommand)
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
    misconception_penalty: Annotated[
        str,
        typer.Option(
            "--misconception-penalty",
            help="once (default): a named misconception costs the points of the first item where "
            "it shows, later items it explains earn follow-through; each: every item.",
        ),
    ] = "once",
    points: Annotated[
        str | None, typer.Option(help="Points per kind instead of the key's, e.g. delta=2.")
    ] = None,
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
    roster: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Class roster CSV (id, name, optional email): the gradebook lists every student, "
            "the absent too (default: the key's roster, if it was generated with one).",
        ),
    ] = None,
    gradebook: Annotated[
        str,
        typer.Option(
            help="The --csv gradebook's layout: bpquiz, moodle or canvas (their imports)."
        ),
    ] = "bpquiz",
    force: Annotated[
        bool,
        typer.Option(help="Replace an existing gradebook, summary or feedback sheets."),
    ] = False,
) -> None:
    """Mark students' answers against the answer key, item by item.

    Each file's variant code picks its key variant from answer_keys/ (or --key / --keys).
    By default every quantity uses the key's own tolerance; --atol/--rtol, --sigfigs or
    --decimals replace it. Exit code 0 when every file was graded, 1 when any could not be.

    A step done right from the student's own wrong earlier answer earns follow-through
    credit (--follow-through); an answer matching a known mistake names it. A Moodle quiz's
    Responses report or a Canvas quiz's Student Analysis (CSV) is regraded the same way.

    Example: bpquiz grade submissions/ --csv grades.csv --feedback feedback/ --summary class.pdf
    """
    from bpquiz.api import grade as grade_answers
    from bpquiz.files import write_atomic
    from bpquiz.grading.compare import Comparison
    from bpquiz.grading.gradebook import STYLES, gradebook_csv
    from bpquiz.grading.outputs import Inputs, check_outputs
    from bpquiz.grading.report import note_lines, print_report, results_json

    if key is not None and keys_dir is not None:
        raise typer.BadParameter("give either --key or --keys, not both", param_hint="--key")
    if gradebook not in STYLES:
        raise typer.BadParameter(f"expected {', '.join(STYLES)}", param_hint="--gradebook")
    if gradebook != "bpquiz" and csv_path is None:
        raise typer.BadParameter(
            "give the gradebook's file with --csv FILE", param_hint="--gradebook"
        )
    comparison = Comparison.from_options(atol, rtol, sigfigs, decimals)
    if csv_path is not None and csv_path.suffix.lower() == ".json":
        raise typer.BadParameter(
            "the gradebook would be read as an answers file: give a .csv file name",
            param_hint="--csv",
        )
    if (
        summary_path is not None
        and str(summary_path) != "-"
        and summary_path.suffix.lower() not in (".pdf", ".html")
    ):
        raise typer.BadParameter(
            "give a .pdf or .html file name (or - for the terminal only)", param_hint="--summary"
        )
    inputs = Inputs.of(
        [*paths, *([roster] if roster else [])],
        key,
        keys_dir or (DEFAULT_KEYS_DIR if key is None else None),
    )
    summary_file = summary_path if summary_path is not None and str(summary_path) != "-" else None
    check_outputs(inputs, csv=csv_path, summary=summary_file, feedback=feedback_dir, force=force)

    report, keys = grade_answers(
        paths,
        key=key,
        keys_dir=keys_dir,
        comparison=comparison,
        follow_through=follow_through,
        misconception_penalty=misconception_penalty,
        points=_points(points),
        jobs=jobs,
        roster=roster,
    )
    for problem in report.errors:
        err.print(f"Error: {printable(problem.file)}: {printable(problem.error)}", markup=False)
    for line in note_lines(report.notes):
        err.print(f"Note: {printable(line)}", markup=False)
    if as_json:
        sys.stdout.write(results_json(report))
    else:
        print_report(report, out, details)
    if csv_path is not None:
        try:
            write_atomic(csv_path, gradebook_csv(report, gradebook), replace=force)
        except OSError as exc:
            raise BpquizError(f"cannot write {csv_path}: {exc.strerror or exc}") from None
        if not as_json:
            out.print(f"Gradebook: {csv_path}", markup=False)
    _class_outputs(report, keys, feedback_dir, summary_path, as_json, force, inputs)
    if not report.ok:
        raise typer.Exit(code=1)


def _class_outputs(
    report: Any,
    keys: Any,
    feedback_dir: Path | None,
    summary: Path | None,
    quiet: bool,
    force: bool,
    inputs: Any,
) -> None:
    """--feedback and --summary: sheets per student, the class analysis (stdout stays JSON-only
    with --json, so the analysis goes to stderr then)."""
    if feedback_dir is None and summary is None:
        return  # and nothing of the rendering code is imported
    try:
        if feedback_dir is not None:
            from bpquiz.grading.feedback import write_feedback

            written = write_feedback(report, keys, feedback_dir, replace=force, inputs=inputs)
            if not quiet:
                n = len(written)
                out.print(
                    f"Feedback sheets: {feedback_dir}/ ({n} file{'s' * (n != 1)})", markup=False
                )
        if summary is not None:
            from bpquiz.grading.summary import class_summary, print_summary, write_summary

            print_summary(class_summary(report), err if quiet else out)
            if str(summary) != "-":
                write_summary(report, summary, keys=keys, replace=force)
                if not quiet:
                    out.print(f"Class analysis: {summary}", markup=False)
    except OSError as exc:
        raise BpquizError(
            f"cannot write {exc.filename or 'the report'}: {exc.strerror or exc}"
        ) from None


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
            f"Error: internal error ({exc.__class__.__name__}: {printable(str(exc))}). "
            "Set BPQUIZ_DEBUG=1 to see the details, and please report it.",
            markup=False,
        )
        sys.exit(1)
