"""Where grading writes: never onto what it reads, and over an earlier output only when asked.

A gradebook, a summary or a feedback sheet must not replace a submission: not the same file
(directly or through a link), and not a file a folder being graded would hold, since grading reads
every answer file in it (a gradebook written into the submissions folder replaced a student's
spreadsheet there, and is read as one the next time). An existing output is replaced only with
`force`: the same rule as for answer keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bpquiz.errors import BpquizError, OptionError
from bpquiz.grading.batch import ANSWER_SUFFIXES

KEY_SUFFIXES = (".json",)


class OutputExists(BpquizError):
    """An output from an earlier run is there, and replacing it was not asked for."""


@dataclass(frozen=True)
class Inputs:
    """What a grading run reads: files, and folders with the suffixes it reads in them."""

    files: tuple[Path, ...]
    folders: tuple[tuple[Path, tuple[str, ...]], ...]

    @classmethod
    def of(
        cls, paths: Iterable[Path], key: Path | None = None, keys_dir: Path | None = None
    ) -> Inputs:
        files: list[Path] = []
        folders: list[tuple[Path, tuple[str, ...]]] = []
        for path in [*map(Path, paths), *([key] if key else [])]:
            if path.is_dir():
                folders.append((path.resolve(), ANSWER_SUFFIXES))
            else:
                files.append(path.resolve())
        if keys_dir is not None:
            folders.append((keys_dir.resolve(), KEY_SUFFIXES))
        return cls(tuple(files), tuple(folders))

    def reads(self, path: Path) -> tuple[Path, bool] | None:
        """What writing `path` would replace: (the input file, False), (the folder being graded
        that holds it, True), or None. A link is followed to where writing it would go."""
        target = path.resolve()
        for file in self.files:
            if target == file or _same_file(path, file):
                return file, False
        for folder, suffixes in self.folders:
            if target == folder or (target.parent == folder and target.suffix.lower() in suffixes):
                return folder, True
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # a hard link, or a path resolve() can't see through
    except OSError:
        return False


def check_output(path: Path, inputs: Inputs, option: str) -> None:
    """OptionError when writing `path` (given as `option`) would replace what is read."""
    found = inputs.reads(path)
    if found is None:
        return
    where, folder = found
    if folder:
        raise OptionError(
            f"{path} is in {where}/, which is being graded (it would replace a submission, or be "
            f"read as one next time): write {option} elsewhere"
        )
    raise OptionError(
        f"{path} is read by this run (an answers file, the key or the roster): {option} would "
        "replace it; give a new file name"
    )


def check_folder(folder: Path, inputs: Inputs, option: str) -> None:
    """OptionError when `folder` (given as `option`) is one being graded."""
    resolved = folder.resolve()
    if any(resolved == graded for graded, _ in inputs.folders):
        raise OptionError(
            f"{folder}/ is being graded: {option} would write among the submissions; "
            "give another folder"
        )


def check_outputs(
    inputs: Inputs,
    *,
    csv: Path | None = None,
    summary: Path | None = None,
    feedback: Path | None = None,
    force: bool = False,
) -> None:
    """Before grading: no output onto an input (OptionError), no earlier output replaced without
    `force` (OutputExists). Each feedback sheet is checked again once its name is known
    (bpquiz.grading.feedback.write_feedback)."""
    for path, option in ((csv, "--csv"), (summary, "--summary")):
        if path is not None:
            check_output(path, inputs, option)
            refuse_existing([path], force)
    if feedback is not None:
        check_folder(feedback, inputs, "--feedback")


def refuse_existing(paths: Sequence[Path], force: bool) -> None:
    """OutputExists for the first of `paths` already there, unless `force`."""
    if force:
        return
    for path in paths:
        if path.exists() or path.is_symlink():
            raise OutputExists(f"{path} already exists. Use --force to replace it.")
