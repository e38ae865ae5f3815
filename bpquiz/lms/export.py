"""`bpquiz export`: a key's variants written for one or more LMSs, each file complete or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bpquiz.errors import OptionError
from bpquiz.exercises.key import load_key
from bpquiz.files import OutputExists, write_atomic
from bpquiz.lms.question import ExportError, questions

TARGETS = {"moodle": ".xml", "qti": ".zip", "canvas": ".zip"}
"""Each target and the file name ending it needs."""


@dataclass(frozen=True)
class Written:
    target: str
    path: Path
    summary: str
    """What the file holds, in a few words."""


@dataclass
class Exported:
    exam: str
    variants: int
    written: list[Written] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_outputs(key: Path, outputs: dict[str, Path], force: bool) -> None:
    """Raise OptionError or ExportError before anything is read or written."""
    if not outputs:
        raise OptionError(
            "give at least one of --moodle FILE.xml, --qti FILE.zip, --canvas FILE.zip"
        )
    for target, path in outputs.items():
        if path.suffix.lower() != TARGETS[target]:
            raise OptionError(f"--{target} writes a {TARGETS[target]} file, got {path}")
        if path.is_dir():
            raise OptionError(f"--{target} {path} is a folder: give a file name")
    resolved = [p.resolve() for p in outputs.values()]
    if len(set(resolved)) < len(resolved):
        raise OptionError("give each export its own file name")
    if key.resolve() in resolved:
        raise OptionError(f"an export would overwrite the key {key}")
    if not force:
        for path in outputs.values():
            if path.exists():
                raise ExportError(f"{path} already exists. Use --force to replace it.")


def export_key(key: Path, outputs: dict[str, Path], force: bool = False) -> Exported:
    """Write every output in `outputs` (target → path) for the key's variants. Everything is
    built before the first file is written, so a failure leaves no half of an export behind."""
    check_outputs(key, outputs, force)
    variants = load_key(key)
    if not variants:
        raise ExportError(f"{key}: the key has no variants")
    exams = {v.exam for v in variants}
    if len(exams) > 1:
        raise ExportError(f"{key}: variants of several exams ({', '.join(sorted(exams))})")
    made = questions(variants)
    exported = Exported(made[0].exam, len(made))
    contents: dict[str, bytes] = {}
    n = f"{len(made)} variant{'s' * (len(made) != 1)}"
    summaries = {}
    if "moodle" in outputs:
        from bpquiz.lms.moodle import category_path, moodle_xml

        xml, scale = moodle_xml(made)
        contents["moodle"] = xml.encode("utf-8")
        summaries["moodle"] = f"{n} as Cloze questions in category {category_path(made[0].exam)}"
        if scale != 1:
            exported.notes.append(
                f"Moodle: every gap's marks are the key's points ×{scale}, because a Cloze gap "
                "takes whole marks (the proportions are the same; bpquiz grade uses the key's)"
            )
    if "qti" in outputs:
        from bpquiz.lms.qti import qti_package

        contents["qti"] = qti_package(made)
        summaries["qti"] = f"{n} as QTI 2.1 items, and a test giving each candidate one of them"
    if "canvas" in outputs:
        from bpquiz.lms.canvas import canvas_package

        contents["canvas"] = canvas_package(made)
        summaries["canvas"] = f"{n} as Canvas quizzes, one per variant"
    for target, path in outputs.items():
        try:
            write_atomic(path, contents[target], replace=force)
        except OutputExists:
            raise ExportError(f"{path} already exists. Use --force to replace it.") from None
        except OSError as exc:
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
        exported.written.append(Written(target, path, summaries[target]))
    return exported
