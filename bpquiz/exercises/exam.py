"""An exam's files other than its sheets: the answer key and the students' answer templates.

`plan_exam` draws the variants and checks that nothing the user has would be lost; the templates
and the key are then written by `write_templates` and `write_key` (the key last: see
`bpquiz.api.generate_exam`, which renders the sheets in between).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bpquiz.errors import BpquizError
from bpquiz.exercises.draw import Variant, make_variants
from bpquiz.exercises.key import ANSWERS_FORMAT, MAX_KEY_BYTES, dumps, key_document
from bpquiz.exercises.presets import Settings
from bpquiz.files import OutputExists, Refused, read_limited, write_atomic
from bpquiz.maths.notation import make_notation


class ExamError(BpquizError):
    """Something about the exam's files the user can fix; the message says how."""


def asked_symbols(variant: Variant, asked: Sequence[str], notation: str) -> dict[str, str]:
    """Every asked quantity's id with the symbol the sheet prints for it, in teaching order."""
    p = variant.problem
    named = make_notation(notation, p.depth, p.examples)
    return {q.id: q.symbol(named).text() for q in variant.solution.computed() if q.kind in asked}


def answers_template(variant: Variant, asked: Sequence[str], notation: str = "layered") -> dict:
    """A blank answers file: the variant's code and every asked quantity id set to null, and the
    symbol the sheet prints for each id, so that nobody puts an answer in the wrong place."""
    student = variant.student["id"] if variant.student else ""
    symbols = asked_symbols(variant, asked, notation)
    return {
        "format": ANSWERS_FORMAT,
        "variant": variant.code,
        "student": student,
        "symbols": symbols,
        "answers": dict.fromkeys(symbols),
    }


def answers_table(variants: Sequence[Variant], asked: Sequence[str], notation: str) -> str:
    """A blank spreadsheet of answers for a class set: a row per variant (and its roster student),
    a column per asked id, headed "id (symbol)" as the sheet prints it."""
    symbols = asked_symbols(variants[0], asked, notation)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student", "variant", *(f"{qid} ({s})" for qid, s in symbols.items())])
    for v in variants:
        writer.writerow([v.student["id"] if v.student else "", v.code, *[""] * len(symbols)])
    return buffer.getvalue()


def variant_stem(variant: Variant) -> str:
    """File-name stem of one variant's outputs: the variant code (roster ids are user text)."""
    return variant.code


@dataclass(frozen=True)
class ExamPlan:
    """An exam drawn and checked, before anything is written."""

    name: str
    seed: int
    settings: Settings
    variants: list[Variant]
    key: Path
    templates: dict[Path, str]
    """Each variant's blank answers file, and the class's blank spreadsheet, by path."""
    table: Path
    """The blank spreadsheet's path."""
    force: bool
    header: dict[str, str]
    """The title, course and date the sheets print, kept in the key for feedback sheets."""


def _check_codes_are_new(variants: Sequence[Variant], keys_dir: Path, key_path: Path) -> None:
    """Grading finds a student's key by variant code alone, so no two keys may share one."""
    codes = {v.code for v in variants}
    for other in sorted(keys_dir.glob("*.json")) if keys_dir.is_dir() else []:
        if other.resolve() == key_path.resolve():
            continue
        try:
            text = read_limited(other, MAX_KEY_BYTES, "an answer key")  # a FIFO: no hang
            taken = {v.get("variant") for v in json.loads(text)["variants"]}
        except (Refused, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue  # not a key: grading reports it
        clash = sorted(codes & taken)
        if clash:
            raise ExamError(
                f"variant code {clash[0]} is already used by {other}: "
                "choose another --seed or --name, or move that key away"
            )


def _check_out_is_a_folder(out_dir: Path) -> None:
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ExamError(
                    f"{out_dir} cannot be the folder for the sheets and answer templates: "
                    f"{folder} is a file; choose another --out"
                )
            return


def _check_out_is_not_the_keys_folder(out_dir: Path, keys_dir: Path) -> None:
    """Grading reads every .json file of the keys folder as a key, so the answer templates must
    not go there, under any spelling of its name or through a link."""
    same = os.path.realpath(out_dir) == os.path.realpath(keys_dir)
    if not same and out_dir.is_dir() and keys_dir.is_dir():
        same = os.path.samefile(out_dir, keys_dir)  # e.g. another case on macOS
    if same:
        raise ExamError(
            f"--out {out_dir} and --keys-dir {keys_dir} are the same folder: the answer templates "
            "would lie among the keys, where grading reads every .json file as a key; give them "
            "different folders"
        )


def _check_nothing_filled_is_replaced(templates: dict[Path, str]) -> None:
    """A template already there and different may hold a student's answers: never overwrite it."""
    for path, text in templates.items():
        try:
            # Bounded and never blocking: a FIFO there must not hang the run.
            same = read_limited(path, 64 << 20, "a blank template") == text.encode("utf-8")
        except Refused as exc:
            if str(exc) == "no such file":
                continue
            same = False
        if not same:
            raise ExamError(
                f"{path} already exists and differs from its blank template (filled in?): "
                "move it away or choose another --out"
            )


def plan_exam(
    settings: Settings,
    seed: int,
    count: int,
    students: Sequence[dict[str, str]] | None,
    name: str,
    keys_dir: Path,
    out_dir: Path,
    force: bool = False,
    notation: str = "layered",
    header: dict[str, str] | None = None,
) -> ExamPlan:
    """Draw the variants and check that writing them loses nothing: no key is replaced without
    `force`, no variant code is another key's, no filled-in answers file is overwritten. The
    answer templates name each id with the symbol of the sheet's `notation`."""
    key_path = keys_dir / f"{name}.json"
    if key_path.exists() and not force:
        raise ExamError(
            f"{key_path} already exists; printed sheets may depend on it. "
            "Use --force to replace it, or --name to write a new exam."
        )
    _check_out_is_a_folder(out_dir)
    _check_out_is_not_the_keys_folder(out_dir, keys_dir)
    variants = make_variants(settings, seed, count, students, exam=name)
    _check_codes_are_new(variants, keys_dir, key_path)
    templates = {
        out_dir / f"{variant_stem(v)}-answers.json": json.dumps(
            answers_template(v, settings.asked, notation), indent=1, ensure_ascii=False
        )
        + "\n"
        for v in variants
    }
    table = out_dir / f"{name}-answers.csv"
    templates[table] = answers_table(variants, settings.asked, notation)
    _check_nothing_filled_is_replaced(templates)
    return ExamPlan(name, seed, settings, variants, key_path, templates, table, force, header or {})


def write_templates(plan: ExamPlan) -> list[Path]:
    """Write every variant's blank answers file (returned, in variant order) and the class's
    blank spreadsheet."""
    for path, text in plan.templates.items():
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise ExamError(f"cannot write into {path.parent}: {exc.strerror}") from None
    return [path for path in plan.templates if path != plan.table]


def write_key(plan: ExamPlan) -> Path:
    """Write the answer key (replacing one only when the plan was made with `force`)."""
    document = key_document(plan.name, plan.seed, plan.settings, plan.variants, plan.header)
    try:
        write_atomic(plan.key, dumps(document), replace=plan.force)
    except OutputExists:
        raise ExamError(f"{plan.key} already exists. Use --force to replace it.") from None
    except OSError as exc:
        raise ExamError(f"cannot write {plan.key}: {exc.strerror}") from None
    return plan.key
