"""The `bpquiz` command line: parse, call the library, print. Heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys
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
        int | None, typer.Option(help="Seed for the random draws (default: a fresh one, printed).")
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
) -> None:
    """Draw random exercises; write their answer key, answer templates and sheets.

    Example: bpquiz generate --seed 42 --preset xor --variants 30
    """
    from bpquiz import generate as gen
    from bpquiz.exam import ExamError, write_exam
    from bpquiz.roster import RosterError, load_roster
    from bpquiz.spec import SpecError

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
        students = load_roster(roster) if roster else None
    except (SpecError, RosterError) as exc:
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
    try:
        drawn, written = write_exam(
            settings,
            seed,
            variants,
            students,
            name,
            keys_dir,
            out_dir or Path("exams") / name,
            force,
        )
    except (SpecError, ExamError) as exc:
        raise fail(str(exc)) from None

    if fresh:
        out.print(f"Seed {seed} (drawn fresh; it is stored in the key).")
    count = len(drawn)
    codes = ", ".join(v.code for v in drawn[:5]) + (" …" if count > 5 else "")
    out.print(f"{count} variant{'s' * (count != 1)} of '{settings.preset}' ({codes})")
    out.print(f"Answer key:        {written.key}")
    out.print(f"Answer templates:  {written.answers[0].parent}/ ({len(written.answers)} files)")


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
            out.print(f"  {line} = [bold]{step['result']}[/bold]   [dim]({q.id})[/dim]")


@app.command()
def presets() -> None:
    """List the kinds of exercise `bpquiz generate --preset NAME` draws.

    Example: bpquiz presets
    """
    from bpquiz.generate import PRESETS

    width = max(map(len, PRESETS))
    for name, settings in PRESETS.items():
        out.print(f"{name:<{width}}  {settings.description}")


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
