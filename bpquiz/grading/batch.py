"""Grading a batch: files and folders of answers, and whole spreadsheets, against the keys.

A batch never stops at a broken file: each file (or spreadsheet row) is graded or becomes one entry
in the report's errors. Large classes are graded over worker processes.
"""

from __future__ import annotations

import errno
import gc
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bpquiz.exercises.key import KeyIndex
from bpquiz.grading.compare import Comparison
from bpquiz.grading.items import (
    GradingError,
    GradingNote,
    Item,
    Marker,
    Outcome,
    Report,
    Result,
    SheetError,
    grade_sheet,
)
from bpquiz.grading.lms import grade_lms_export, read_lms_export
from bpquiz.grading.readers.json_file import read_answers
from bpquiz.grading.readers.numbers import shown
from bpquiz.grading.readers.sheet import AnswersError, AnswerSheet, NotHandedIn, read_limited
from bpquiz.grading.readers.spreadsheet import MAX_CSV_BYTES, BadRow, parse_table

PARALLEL_FROM = 400
"""Below this many files a worker pool costs more to start than it saves."""


def grade_file(
    path: Path,
    keys: KeyIndex,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
) -> Result:
    """Read, look up and mark one file (raises AnswersError or SheetError)."""
    pdf = path.suffix.lower() == ".pdf"
    if pdf:
        from bpquiz.grading.readers.pdf_form import read_pdf_answers  # pypdf only for a PDF

        sheet = read_pdf_answers(path)
    else:
        sheet = read_answers(path)
    try:
        variant = keys.find(sheet.variant)
    except LookupError as exc:
        raise SheetError(str(exc)) from None
    if pdf:
        from bpquiz.grading.readers.pdf_form import check_fields

        check_fields(sheet, [q.id for q in variant.asked])
    return grade_sheet(sheet, variant, comparison, markers)


# --- a batch -------------------------------------------------------------------------------


ANSWER_SUFFIXES = (".json", ".pdf", ".csv")
"""What a folder's answer files end with: answers files, filled fillable sheets, spreadsheets."""


def answer_files(paths: Iterable[Path]) -> tuple[list[Path], list[GradingError]]:
    """The files to grade: files as given, folders' answer files (sorted); problems as errors.

    Nothing is read here. In a folder, an entry named like an answer file that is not a regular
    file (a folder, a FIFO, a device, a dangling or looping link) is one error, never a hang or a
    crash, and a link is followed only to a file in the same folder: a link to /etc/shadow or to
    another class's folder is an error, and nothing of its target is read. A link is given to the
    readers as the file it leads to (they never follow one: what was checked is what is read)."""
    files: list[Path] = []
    errors: list[GradingError] = []
    seen: set[Path] = set()

    def add(path: Path, resolved: Path) -> None:
        if resolved not in seen:
            seen.add(resolved)
            files.append(path)

    for path in map(Path, paths):
        if path.is_dir():
            # One resolve() per folder, not per file: a class folder may hold thousands.
            folder = path.resolve()
            with os.scandir(path) as entries:
                found = sorted(
                    (e.name, e)
                    for e in entries
                    if e.name.lower().endswith(ANSWER_SUFFIXES) and not e.name.startswith(".")
                )
            if not found:
                errors.append(
                    GradingError(str(path), "no answer files (*.json, *.pdf, *.csv) in this folder")
                )
            for name, entry in found:
                problem, resolved = _folder_entry(entry, folder)
                if problem:
                    errors.append(GradingError(str(path / name), problem))
                else:
                    add(path / resolved.name, resolved)
        elif path.is_symlink():
            # Named by the teacher: followed wherever it leads, and read as its target.
            problem, resolved = _followed(path)
            if problem:
                errors.append(GradingError(str(path), problem))
            else:
                add(resolved, resolved)
        elif path.exists():
            add(path, path.resolve())
        else:
            errors.append(GradingError(str(path), "no such file or folder"))
    return files, errors


def _followed(link: Path) -> tuple[str, Path]:
    """(why a link can't be followed, or ""; where it leads)."""
    try:
        return "", Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return "a link to a file that does not exist", link
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link that leads back to itself (a loop of links)", link
        return f"a link that cannot be followed ({exc.strerror or exc})", link


def _folder_entry(entry: os.DirEntry[str], folder: Path) -> tuple[str, Path]:
    """(why it can't be graded, or ""; its path) for a folder's entry, without reading it and
    without following a link that leaves the folder."""
    resolved = folder / entry.name
    try:
        if entry.is_file(follow_symlinks=False):
            return "", resolved  # the common case, known from the listing: no system call
        if entry.is_symlink():
            problem, resolved = _followed(resolved)
            if problem:
                return problem, resolved
            if resolved.parent != folder:
                return "a link to a file outside this folder: not followed", resolved
        mode = os.stat(resolved, follow_symlinks=False).st_mode
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})", resolved
    if stat.S_ISDIR(mode):
        return "a folder, not an answer file", resolved
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe or a device): not an answer file", resolved
    return "", resolved


def _grade_one(
    path: Path, keys: KeyIndex, comparison: Comparison, markers: Sequence[Marker]
) -> Outcome:
    try:
        return grade_file(path, keys, comparison, markers)
    except NotHandedIn as exc:
        return GradingNote(str(path), str(exc))
    except (AnswersError, SheetError) as exc:
        return GradingError(str(path), str(exc))


# Worker state, set once per process by the pool initializer so keys aren't pickled per file.
_worker: tuple[KeyIndex, Comparison, Sequence[Marker]] | None = None

Packed = (
    tuple[str, str, str, tuple[tuple[Any, ...], ...], tuple[str, ...]] | GradingError | GradingNote
)
"""A result as sent back from a worker: (student, variant, file, item rows without the parts the
parent already has in its key, problems). Rebuilding is ~4× cheaper than unpickling Results."""


def _init_worker(keys: KeyIndex, comparison: Comparison, markers: Sequence[Marker]) -> None:
    global _worker
    _worker = (keys, comparison, markers)
    gc.disable()  # as in the parent; a worker lives for one batch


def _grade_chunk(paths: list[Path]) -> list[Packed]:
    assert _worker is not None, "called outside a worker"
    packed: list[Packed] = []
    for path in paths:
        outcome = _grade_one(path, *_worker)
        if not isinstance(outcome, Result):
            packed.append(outcome)
        else:
            rows = tuple(item[1:-1] for item in outcome.items)  # all but id and symbol
            packed.append((outcome.student, outcome.variant, outcome.file, rows, outcome.problems))
    return packed


def _unpack(packed: Packed, keys: KeyIndex, comparison: Comparison) -> Outcome:
    if isinstance(packed, GradingError | GradingNote):
        return packed
    student, code, file, rows, problems = packed
    variant = keys.find(code)
    items = tuple(
        Item._make((q.id, *row, q.symbol)) for q, row in zip(variant.asked, rows, strict=True)
    )
    rule = comparison.rule(variant.rounding)
    return Result(student, code, items, variant.exam, file, rule, variant.delta_sign, problems)


def grade_paths(
    paths: Iterable[Path],
    keys: KeyIndex,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
    jobs: int | None = None,
) -> Report:
    """Grade files and folders; results and errors in input order. `jobs` defaults to the CPUs."""
    comparison = comparison or Comparison()
    files, errors = answer_files(paths)
    errors = [GradingError(f, f"answer key: {e}") for f, e in keys.errors] + errors
    jobs = jobs or _cpus()
    # A spreadsheet holds a whole class: graded here, row by row (bpquiz.csv_answers).
    tables = [p for p in files if p.suffix.lower() == ".csv"]
    outcomes: list[Outcome]
    singles = [p for p in files if p.suffix.lower() != ".csv"] if tables else files
    with _cyclic_gc_paused():
        if jobs > 1 and len(singles) >= PARALLEL_FROM:
            outcomes = _in_parallel(singles, keys, comparison, markers, jobs)
        else:
            outcomes = [_grade_one(p, keys, comparison, markers) for p in singles]
        if tables:
            graded = {p: grade_table(p, keys, comparison, markers) for p in tables}
            single = iter(outcomes)
            # Back into input order: each table's rows where the table was named.
            outcomes = [o for p in files for o in (graded[p] if p in graded else [next(single)])]
    results = [o for o in outcomes if isinstance(o, Result)]
    errors += [o for o in outcomes if isinstance(o, GradingError)]
    # A file graded although something in it was wrong (an unknown answer id) still reports it.
    errors += [GradingError(r.file, p) for r in results for p in r.problems]
    notes = [o for o in outcomes if isinstance(o, GradingNote)]
    results, twice, blanks = _once_per_student(results)
    return Report(tuple(results), tuple(errors + twice), tuple(notes + blanks))


BLANK_COPY = "no answer filled in, and its student is graded from another file: not graded"


def _once_per_student(
    results: list[Result],
) -> tuple[list[Result], list[GradingError], list[GradingNote]]:
    """A student graded from several files. Those holding no answer at all beside one that does
    (or, all blank, all but the first) are the blank templates `generate --roster` wrote for them
    (answers file, fillable sheet, spreadsheet row): left out, a note each. Several that hold
    answers each get a gradebook row: an error says so, so that a teacher keeps the one that
    counts instead of an LMS silently taking either."""
    by_student: dict[str, list[Result]] = {}
    for result in results:
        by_student.setdefault(result.student, []).append(result)
    blank: set[int] = set()
    errors = []
    for student, theirs in by_student.items():
        if len(theirs) < 2:
            continue
        filled = [r for r in theirs if any(item.given is not None for item in r.items)]
        kept = filled or theirs[:1]
        blank.update(id(r) for r in theirs if not any(r is k for k in kept))
        if len(kept) > 1:
            named = [r.file for r in kept]
            errors.append(
                GradingError(
                    named[-1],
                    f'student "{student}" is also graded from {", ".join(named[:-1])}: both are '
                    "in the report; remove the file that does not count",
                )
            )
    return (
        [r for r in results if id(r) not in blank],
        errors,
        [GradingNote(r.file, BLANK_COPY) for r in results if id(r) in blank],
    )


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Grading builds ~50 objects per file and no reference cycles; left on, the cycle collector
    rescans the growing results over and over (a quarter of the time for a class of 10,000).
    Afterwards what was made goes to the oldest generation unscanned (freeze, unfreeze), as a
    collection that found nothing to free would put it: else the first one after grading scanned
    the whole report in vain."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _cpus() -> int:
    """The CPUs this process may use and that are not busy already: a pool on CPUs other work
    keeps busy was slower than none (a class of 10,000: 9.1 s with two processes, 5.0 s with
    one, on a 2-core machine with a load of 4). Busy means the load average over the last minute."""
    # What this process may use, not the machine's total.
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        return cpus
    return max(1, min(cpus, cpus + 1 - math.ceil(load)))


OWN_SHARE = 0.85
"""The share of a worker's files this process grades itself when it works beside the pool: a
little less, as it also rebuilds the workers' results (about a tenth of grading them)."""
WARM_UP = 100
"""Files graded here before the workers are forked: the imports and each variant's maths made
once, here, then shared with every worker by fork (else each worker made them again: a second of
CPU for a class of 10,000)."""


def _in_parallel(
    files: list[Path],
    keys: KeyIndex,
    comparison: Comparison,
    markers: Sequence[Marker],
    jobs: int,
) -> list[Outcome]:
    """`files` graded by `jobs` processes: jobs − 1 workers, and this one, which would otherwise
    only wait for them (with two CPUs a pool of two left one of them to this waiting process).
    This one grades the first few alone, so the workers it then forks start warm."""
    import multiprocessing

    warm = [_grade_one(p, keys, comparison, markers) for p in files[:WARM_UP]]
    files = files[WARM_UP:]
    own = int(len(files) / jobs * OWN_SHARE)
    theirs, mine = files[: len(files) - own], files[len(files) - own :]
    workers = jobs - 1
    size = max(50, len(theirs) // (workers * 4))
    chunks = [theirs[i : i + size] for i in range(0, len(theirs), size)]
    # fork shares the loaded keys with the workers for free; elsewhere they are sent once each.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    with context.Pool(workers, _init_worker, (keys, comparison, markers)) as pool:
        pending = pool.map_async(_grade_chunk, chunks, chunksize=1)
        graded_here = [_grade_one(p, keys, comparison, markers) for p in mine]
        graded_there = [
            _unpack(packed, keys, comparison) for chunk in pending.get() for packed in chunk
        ]
    outcomes: list[Outcome] = [*warm, *graded_there, *graded_here]
    return outcomes


def grade_table(
    path: Path,
    keys: KeyIndex,
    comparison: Comparison | None = None,
    markers: Sequence[Marker] = (),
) -> list[Outcome]:
    """Every row graded as its own answers file; bad rows and unknown columns as errors. An LMS's
    response export (Moodle, Canvas) is recognised by its header and regraded (bpquiz.grading.lms)."""
    source = str(path)
    comparison = comparison or Comparison()
    try:
        data = read_limited(path, MAX_CSV_BYTES, "a spreadsheet of answers")
        lms = read_lms_export(data, source, keys)
        if lms is not None:
            return grade_lms_export(lms, source, keys, comparison, markers)
        table = parse_table(data, source)
    except NotHandedIn as exc:
        return [GradingNote(source, str(exc))]
    except AnswersError as exc:
        return [GradingError(source, str(exc))]

    found = []
    outcomes: list[tuple[int, Outcome]] = []  # by row number, to sort at the end

    def bad(number: int, error: str) -> None:
        outcomes.append((number, GradingError(source, f"row {number}: {error}")))

    for row in table.rows:
        if isinstance(row, BadRow):
            bad(row.number, row.error)
            continue
        try:
            found.append((row, keys.find(row.variant)))
        except LookupError as exc:
            bad(row.number, str(exc))
    known = frozenset().union(*(variant.asked_ids for _, variant in found))
    quantities = frozenset(q.id for _, variant in found for q in variant.quantities)
    unknown = [
        (name, f'"{shown(name)[1:-1]}" ({letter})' if name else f"column {letter} (no name)")
        for name, letter in zip(table.columns, table.letters, strict=True)
        if name not in known and (name or letter in table.filled)
    ]
    if unknown and found:
        # Not an id of any variant here. One that looks like an id (a misspelt one, or one the
        # variants don't ask) loses answers: an error. Any other (an LMS's Email, Timestamp) is
        # harmless: a note. Either way the rows are graded without it, and it is never ignored.
        suspect = [
            shown for name, shown in unknown if name in quantities or LOOKS_LIKE_AN_ID.match(name)
        ]
        harmless = [shown for name, shown in unknown if shown not in suspect]
        if suspect:
            outcomes.append((1, GradingError(source, _columns_not_graded(suspect))))
        if harmless:
            outcomes.append((1, GradingNote(source, _columns_not_graded(harmless))))
    blank = []
    for row, variant in found:
        if not row.student and variant.student is None:
            if any(row.answers.values()):
                bad(row.number, "no student id")
            else:
                blank.append(row.number)  # a row of the blank template `generate` wrote
            continue
        answers = {k: v for k, v in row.answers.items() if k in known}
        sheet = AnswerSheet(source, row.variant, row.student, answers)
        try:
            result = grade_sheet(sheet, variant, comparison, markers)
        except SheetError as exc:
            bad(row.number, str(exc))
            continue
        for problem in result.problems:
            bad(row.number, problem)
        outcomes.append((row.number, replace(result, problems=())))
    if blank:
        rows = (
            f"row {blank[0]}" if len(blank) == 1 else f"{len(blank)} rows ({blank[0]}–{blank[-1]})"
        )
        note = f"{rows} with no student id and no answer, as in the blank template: not graded"
        outcomes.append((blank[0], GradingNote(source, note)))
    outcomes.sort(key=lambda numbered: numbered[0])
    return [outcome for _, outcome in outcomes]


LOOKS_LIKE_AN_ID = re.compile(r"[a-z_]+\d")
"""A column name that could be a quantity id typed wrong (z1-1, a1_9, grad_w2_1): every id but
the loss has its layer's digit after its letters."""


def _columns_not_graded(listed: list[str]) -> str:
    many = len(listed) > 1
    names = ", ".join(listed[:10]) + (" …" if len(listed) > 10 else "")
    return (
        f"column{'s' * many} not graded, no variant in this file asks for "
        f"{'them' if many else 'it'}: {names}"
    )
