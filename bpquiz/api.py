"""bpquiz as a library: generate an exam, solve a typed-in problem, grade students' answers.

These are the functions the command line calls (bpquiz.cli only parses and prints), and what a
Python user calls:

    from bpquiz.api import generate_exam, solve, grade
    from bpquiz.exercises.draw import customise

    exam = generate_exam(customise("xor"), seed=7, count=30, name="midterm")
    solved = solve(Path("textbook.json"))
    report = grade([Path("submissions")])
    export(Path("answer_keys/midterm.json"), moodle=Path("midterm.xml"))

Every error a user can fix is a `bpquiz.errors.BpquizError` whose message says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpquiz.exercises.key import CLASS_LIST_COLUMNS, DEFAULT_KEYS_DIR, KeyIndex, open_keys
from bpquiz.exercises.presets import checked_points
from bpquiz.maths.rounding import Rounding

if TYPE_CHECKING:
    # Type-only: drawing and solving need numpy, which `bpquiz grade` does without.
    from bpquiz.exercises.draw import Variant
    from bpquiz.exercises.presets import Settings
    from bpquiz.grading.compare import Comparison
    from bpquiz.grading.items import Report
    from bpquiz.lms.export import Exported
    from bpquiz.maths.solution import Solution
    from bpquiz.maths.step import Step
    from bpquiz.sheets.render import ExamFiles, SheetRequest


@dataclass
class GeneratedExam:
    """What `generate_exam` drew and where everything went."""

    variants: list[Variant]
    key: Path
    answers: list[Path] = field(default_factory=list)
    """Each variant's blank answers file."""
    table: Path | None = None
    """The class's blank answers spreadsheet."""
    students: Path | None = None
    """With a roster: students.csv, each student's id, name, variant and files."""
    sheets: ExamFiles | None = None
    """The rendered sheets, when they were asked for."""


def generate_exam(
    settings: Settings,
    seed: int,
    count: int = 1,
    *,
    students: Sequence[dict[str, str]] | None = None,
    name: str | None = None,
    keys_dir: Path = DEFAULT_KEYS_DIR,
    out_dir: Path | None = None,
    force: bool = False,
    sheets: SheetRequest | None = None,
) -> GeneratedExam:
    """Draw `count` variants (one per student of a roster), then write the answer templates, the
    sheets (with `sheets`) and the answer key, last: if anything before it fails, nothing stops a
    plain rerun, and an existing key is replaced only with `force`. The exam is called `name`
    (default PRESET-SEED) and its files go to `out_dir` (default exams/NAME).

    Nothing a student may have worked in is replaced, `force` or not: neither a filled-in answers
    file nor a sheet whose form fields hold answers. One run at a time writes an exam: another
    run of the same name and keys folder is refused while this one holds its lock, so a class
    file can't come from one run and the key from the other."""
    from bpquiz.exercises.exam import ExamError, plan_exam, write_key, write_templates
    from bpquiz.files import Locked, exclusive

    name = name or f"{settings.preset}-{seed}"
    out_dir = out_dir or Path("exams") / name
    if sheets is not None:
        from bpquiz.sheets.templates import RenderError

        try:
            # Checked before anything is drawn or written: a bad option must not leave a key behind.
            sheets.options.check(len(settings.layers) - 1)
        except RenderError as exc:
            raise ExamError(str(exc)) from None
    notation = sheets.options.notation if sheets is not None else "layered"
    header = (
        {
            "title": sheets.options.title,
            "course": sheets.options.course,
            "date": sheets.options.date,
        }
        if sheets is not None
        else {}
    )
    with ExitStack() as held:
        lock = keys_dir / f".{name}.lock"
        try:
            held.enter_context(exclusive(lock))
        except Locked:
            raise ExamError(
                f"another `bpquiz generate` is writing exam {name} into {keys_dir} right now "
                f"({lock} is locked): run again once it has finished"
            ) from None
        except OSError as exc:
            raise ExamError(f"cannot write into {keys_dir}: {exc.strerror or exc}") from None
        plan = plan_exam(
            settings, seed, count, students, name, keys_dir, out_dir, force, notation, header
        )
        if sheets is not None:
            _check_no_filled_sheet_is_replaced(plan.variants, sheets, out_dir, name)
        exam = GeneratedExam(plan.variants, plan.key, write_templates(plan), plan.table)
        if sheets is not None:
            from bpquiz.sheets.render import render_exam

            try:
                exam.sheets = render_exam(plan.variants, settings, sheets, out_dir, name)
            except OSError as exc:
                raise ExamError(f"cannot write the sheets into {out_dir}: {exc.strerror}") from None
        if students is not None:
            exam.students = _write_students(exam, out_dir, sheets.format if sheets else None)
        write_key(plan)
    return exam


def _check_no_filled_sheet_is_replaced(
    variants: Sequence[Variant], sheets: SheetRequest, out_dir: Path, name: str
) -> None:
    """ExamError when a PDF this run would write is there and holds answers in its form fields
    (a student's filled sheet, saved over the blank one), or can't be read to tell."""
    from bpquiz.exercises.exam import ExamError
    from bpquiz.sheets.render import exam_paths

    codes = [v.code for v in variants]
    for path in exam_paths(codes, sheets.format, out_dir, name):
        if path.suffix != ".pdf" or not (path.exists() or path.is_symlink()):
            continue
        # Imported only when there is a sheet to read (pypdf and the reader child: ~10 ms).
        from bpquiz.grading.readers.pdf_form import filled_fields
        from bpquiz.grading.readers.sheet import AnswersError

        try:
            filled = filled_fields(path)
        except AnswersError as exc:
            raise ExamError(
                f"{path} is there and cannot be read to tell whether it holds a student's answers "
                f"({exc}): move it away or choose another --out"
            ) from None
        if filled:
            raise ExamError(
                f"{path} holds a student's answers ({len(filled)} form field"
                f"{'s' * (len(filled) != 1)} filled in, e.g. {filled[0][:40]}): move it away or "
                "choose another --out"
            )


def _write_students(exam: GeneratedExam, out_dir: Path, fmt: str | None) -> Path:
    """students.csv: each roster student's id, name, variant code and files, so that a teacher
    can send every student their own sheet."""
    import csv
    import io

    from bpquiz.exercises.exam import ExamError
    from bpquiz.files import write_atomic
    from bpquiz.grading.report import neutralise

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CLASS_LIST_COLUMNS)
    for variant, answers in zip(exam.variants, exam.answers, strict=True):
        student = variant.student or {"id": "", "name": ""}
        sheet = f"{variant.code}-sheet.{fmt}" if fmt else ""
        solution = f"{variant.code}-solution.{fmt}" if fmt else ""
        cells = [student["id"], student["name"], variant.code, sheet, solution, answers.name]
        writer.writerow([neutralise(cell) for cell in cells])
    path = out_dir / "students.csv"
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        raise ExamError(f"cannot write {path}: {exc.strerror}") from None
    return path


@dataclass(frozen=True)
class Solved:
    """A typed-in problem worked out."""

    source: str
    solution: Solution
    rounding: Rounding

    def sections(self, notation: str = "layered") -> list[tuple[str, list[Step]]]:
        """Every step, under the headings a teacher uses, in teaching order."""
        from bpquiz.maths.notation import make_notation

        p = self.solution.problem
        chosen = make_notation(notation, p.depth, p.examples)
        return [
            (title, [self.solution.step(q.id, chosen, self.rounding) for q in quantities])
            for title, quantities in self.solution.sections()
        ]

    def key_entry(self) -> dict[str, Any]:
        """The problem as one variant of an answer key (every quantity asked)."""
        from bpquiz.exercises.key import problem_entry

        return problem_entry(self.solution, self.rounding)


def solve(spec: Path, rounding: Rounding | None = None) -> Solved:
    """Read a problem spec (JSON) and work it out; a SpecError names the file and the field."""
    from bpquiz.maths.solution import Solution
    from bpquiz.maths.spec import SpecError, load_problem

    problem = load_problem(spec)
    try:
        solution = Solution(problem)
    except SpecError as exc:
        raise SpecError(f"{spec}: {exc}") from None
    return Solved(str(spec), solution, rounding or Rounding())


def grade(
    paths: Iterable[Path],
    *,
    key: Path | None = None,
    keys_dir: Path | None = None,
    comparison: Comparison | None = None,
    follow_through: str = "full",
    misconception_penalty: str = "once",
    points: Mapping[str, float] | None = None,
    jobs: int | None = None,
    roster: Path | None = None,
) -> tuple[Report, KeyIndex]:
    """Grade answers files, filled sheets, spreadsheets, LMS response exports (Moodle, Canvas)
    and folders of them against the answer keys (one `key` file, or every key in `keys_dir`,
    default answer_keys/), with follow-through credit (full, half or off) and named
    misconceptions (each costing its points once, or at every item where it shows); `points`
    replaces the key's points of these kinds of quantity. With a `roster` CSV (or a key generated with one), the report lists the
    whole class, the absent too. Returns the report and the keys."""
    from bpquiz.grading.batch import grade_paths
    from bpquiz.grading.classlist import key_roster, roster_file, with_roster
    from bpquiz.grading.marking import markers

    chosen = markers(follow_through, misconception_penalty)
    keys = open_keys(key, keys_dir).with_points(checked_points(points or {}))
    report = grade_paths(paths, keys, comparison, chosen, jobs=jobs)
    enrolled = roster_file(roster) if roster else key_roster(keys, report, key is not None)
    if enrolled:
        report = with_roster(report, enrolled)
    return report, keys


def export(
    key: Path,
    *,
    moodle: Path | None = None,
    qti: Path | None = None,
    canvas: Path | None = None,
    force: bool = False,
) -> Exported:
    """Write a key's variants as question banks: Moodle XML (a Cloze question per variant in a
    category named after the exam), an IMS QTI 2.1 content package, a Canvas (Classic Quizzes)
    package of one quiz per variant. An existing file is replaced only with `force`."""
    from bpquiz.lms.export import export_key

    outputs = {"moodle": moodle, "qti": qti, "canvas": canvas}
    return export_key(key, {t: p for t, p in outputs.items() if p is not None}, force)
