"""Writing an exam's sheets: every variant's problem sheet and worked solution, class files, and
practice pages when asked for.

PDF sheets are laid out once per preset and stamped (bpquiz.sheets.stamping); HTML sheets, and
any document that cannot be stamped exactly, are rendered whole (bpquiz.sheets.documents).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.presets import Settings
from bpquiz.files import write_atomic
from bpquiz.sheets.documents import Rendered, WholeTask, render_document
from bpquiz.sheets.options import DOCUMENTS, FORMATS, SheetOptions
from bpquiz.sheets.templates import RenderError


@dataclass(frozen=True)
class SheetRequest:
    """Which sheets to render and how."""

    options: SheetOptions = field(default_factory=SheetOptions)
    format: str = "pdf"
    duplex: bool = False
    """Pad each student's document to an even page count in the class files."""
    jobs: int | None = None
    progress: Callable[[int, int], None] | None = None
    """Called with (variants done, variants) as the sheets are made."""
    practice: bool = False
    """Also a practice page per variant (bpquiz.sheets.practice), whatever the format."""


@dataclass
class ExamFiles:
    """Where the sheets went."""

    sheets: list[Path] = field(default_factory=list)
    solutions: list[Path] = field(default_factory=list)
    class_sheets: Path | None = None
    class_solutions: Path | None = None
    pages: int = 0
    practice: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the teacher should know about the files: documents rendered whole (not stamped), and
    why; characters no installed font has."""


def document_path(out_dir: Path, code: str, document: str, fmt: str) -> Path:
    """Where one variant's sheet or solution goes."""
    return out_dir / f"{code}-{document}.{fmt}"


def class_path(out_dir: Path, name: str, document: str) -> Path:
    """Where a class set's combined sheets or solutions go."""
    return out_dir / f"{name}-{document}s.pdf"


def exam_paths(codes: Sequence[str], fmt: str, out_dir: Path, name: str) -> list[Path]:
    """Every file `render_exam` writes for these variants."""
    paths = [document_path(out_dir, code, d, fmt) for code in codes for d in DOCUMENTS]
    if fmt == "pdf" and len(codes) > 1:
        paths += [class_path(out_dir, name, d) for d in DOCUMENTS]
    return paths


def render_exam(
    variants: Sequence[Variant],
    settings: Settings,
    request: SheetRequest,
    out_dir: Path,
    name: str,
) -> ExamFiles:
    """Write each variant's sheet and solution; for a class set also the two combined PDFs."""
    fmt, options = request.format, request.options
    if fmt not in FORMATS:
        raise RenderError(f"unknown format '{fmt}': expected {' or '.join(FORMATS)}")
    options.check(variants[0].problem.depth)
    files = ExamFiles()
    out_dir.mkdir(parents=True, exist_ok=True)

    def write(rendered: Rendered) -> None:
        path = document_path(out_dir, rendered.code, rendered.document, fmt)
        write_atomic(path, rendered.data)
        (files.sheets if rendered.document == "sheet" else files.solutions).append(path)
        files.pages += rendered.pages

    class_paths = {d: class_path(out_dir, name, d) for d in DOCUMENTS}
    class_files: dict[str, bytes] = {}
    if fmt == "pdf":
        from bpquiz.sheets.glyphs import font_warnings
        from bpquiz.sheets.stamping.batch import stamped_documents

        headers = {"title": options.title, "course": options.course, "date": options.date}
        files.warnings.extend(font_warnings((v.student for v in variants), headers))

        stamped = stamped_documents(
            variants,
            settings,
            options,
            request.jobs,
            request.progress,
            request.duplex,
            write,
            class_paths if len(variants) > 1 else None,
        )
        class_files = stamped.class_files
        for reason, count in sorted(stamped.whole.items()):
            files.warnings.append(
                f"{count} document{'s' * (count != 1)} rendered whole, not stamped: {reason}"
            )
        files.warnings.extend(f"{note}; joined from the students' files" for note in stamped.notes)
    else:  # HTML takes milliseconds a document, here in this process
        ignored = [
            o
            for o, given in (("--fillable", options.fillable), ("--duplex", request.duplex))
            if given
        ]
        if ignored:
            files.warnings.append(
                f"{' and '.join(ignored)} shape{'s' * (len(ignored) == 1)} PDF sheets only: not "
                "used for HTML (its answer boxes are fields already, and it has no class files)"
            )
        for variant in variants:
            for document in DOCUMENTS:
                write(render_document(WholeTask(document, variant, settings, options, fmt)))
    files.sheets.sort(key=_order(variants))
    files.solutions.sort(key=_order(variants))

    if fmt == "pdf" and len(variants) > 1:
        from bpquiz.sheets.pdf import join_pdfs

        for document, attr in (("sheet", "class_sheets"), ("solution", "class_solutions")):
            path = class_paths[document]
            if document not in class_files:  # one or more students' documents rendered whole
                own = files.sheets if document == "sheet" else files.solutions
                write_atomic(path, join_pdfs(own, duplex=request.duplex))
            elif class_files[document]:
                write_atomic(path, class_files[document])
            setattr(files, attr, path)
    if request.practice:
        from bpquiz.sheets.practice import render_practice

        for v in variants:
            path = out_dir / f"{v.code}-practice.html"
            write_atomic(path, render_practice(v, settings, options))
            files.practice.append(path)
    return files


def _order(variants: Sequence[Variant]) -> Callable[[Path], int]:
    """Files in the variants' order (documents rendered whole come after the stamped ones)."""
    place = {variant.code: k for k, variant in enumerate(variants)}
    return lambda path: place[path.name.rsplit("-", 1)[0]]
