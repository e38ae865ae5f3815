"""A whole exam: draw the variants, then write the key, the answer templates (and the sheets)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bpquiz.files import OutputExists, write_atomic
from bpquiz.generate import Settings, Variant, make_variants
from bpquiz.key import dumps, key_document

if TYPE_CHECKING:
    from bpquiz.render import ExamFiles, SheetOptions

ANSWERS_FORMAT = "bpquiz-answers/1"


class ExamError(Exception):
    """Something about the exam's files the user can fix; the message says how."""


@dataclass
class Written:
    """Where everything went, for the one-line-per-kind summary."""

    key: Path
    answers: list[Path] = field(default_factory=list)
    files: dict[str, list[Path]] = field(default_factory=dict)
    sheets: ExamFiles | None = None
    """The rendered sheets, when they were asked for."""


@dataclass(frozen=True)
class SheetRequest:
    """Which sheets to render and how (see bpquiz.render)."""

    options: SheetOptions
    format: str = "pdf"
    duplex: bool = False
    jobs: int | None = None
    progress: Callable[[int, int], None] | None = None


def answers_template(variant: Variant, asked: Sequence[str]) -> dict:
    """A blank answers file: the variant's code and every asked quantity id set to null."""
    student = variant.student["id"] if variant.student else ""
    ids = [q.id for q in variant.solution.computed() if q.kind in asked]
    return {
        "format": ANSWERS_FORMAT,
        "variant": variant.code,
        "student": student,
        "answers": dict.fromkeys(ids),
    }


def variant_stem(variant: Variant) -> str:
    """File-name stem of one variant's outputs: the variant code (roster ids are user text)."""
    return variant.code


def _check_codes_are_new(variants: Sequence[Variant], keys_dir: Path, key_path: Path) -> None:
    """Grading finds a student's key by variant code alone, so no two keys may share one."""
    codes = {v.code for v in variants}
    for other in sorted(keys_dir.glob("*.json")) if keys_dir.is_dir() else []:
        if other.resolve() == key_path.resolve():
            continue
        try:
            taken = {v.get("variant") for v in json.loads(other.read_text("utf-8"))["variants"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a key: grading reports it
        clash = sorted(codes & taken)
        if clash:
            raise ExamError(
                f"variant code {clash[0]} is already used by {other}: "
                "choose another --seed or --name, or move that key away"
            )


def _check_nothing_filled_is_replaced(templates: dict[Path, str]) -> None:
    """A template already there and different may hold a student's answers: never overwrite it."""
    for path, text in templates.items():
        try:
            same = path.read_text("utf-8") == text
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise ExamError(
                f"{path} already exists and differs from its blank template (filled in?): "
                "move it away or choose another --out"
            )


def write_exam(
    settings: Settings,
    seed: int,
    count: int,
    students: Sequence[dict[str, str]] | None,
    name: str,
    keys_dir: Path,
    out_dir: Path,
    force: bool = False,
    sheets: SheetRequest | None = None,
) -> tuple[list[Variant], Written]:
    """Draw the variants and write the key (never silently replacing one), the answer templates
    and, with `sheets`, every variant's problem sheet and worked solution."""
    key_path = keys_dir / f"{name}.json"
    if sheets is not None:
        from bpquiz.render import RenderError

        try:
            # Checked before anything is drawn or written: a bad option must not leave a key behind.
            sheets.options.check(len(settings.layers) - 1)
        except RenderError as exc:
            raise ExamError(str(exc)) from None
    if key_path.exists() and not force:
        raise ExamError(
            f"{key_path} already exists; printed sheets may depend on it. "
            "Use --force to replace it, or --name to write a new exam."
        )
    variants = make_variants(settings, seed, count, students, exam=name)
    _check_codes_are_new(variants, keys_dir, key_path)
    templates = {
        out_dir / f"{variant_stem(v)}-answers.json": json.dumps(
            answers_template(v, settings.asked), indent=1, ensure_ascii=False
        )
        + "\n"
        for v in variants
    }
    _check_nothing_filled_is_replaced(templates)

    # The key goes last: if anything before it fails, nothing stops a plain rerun.
    written = Written(key=key_path)
    try:
        for path, text in templates.items():
            write_atomic(path, text)
            written.answers.append(path)
    except OSError as exc:
        raise ExamError(f"cannot write into {out_dir}: {exc.strerror}") from None
    if sheets is not None:
        from bpquiz.render import RenderError, render_exam

        try:
            written.sheets = render_exam(
                variants,
                settings,
                sheets.options,
                out_dir,
                name,
                fmt=sheets.format,
                duplex=sheets.duplex,
                jobs=sheets.jobs,
                progress=sheets.progress,
            )
        except RenderError as exc:
            raise ExamError(str(exc)) from None
        except OSError as exc:
            raise ExamError(f"cannot write the sheets into {out_dir}: {exc.strerror}") from None
    try:
        write_atomic(key_path, dumps(key_document(name, seed, settings, variants)), replace=force)
    except OutputExists:
        raise ExamError(f"{key_path} already exists. Use --force to replace it.") from None
    except OSError as exc:
        raise ExamError(f"cannot write {key_path}: {exc.strerror}") from None
    return variants, written
