"""A class set stamped: every variant's sheet and solution from skeletons laid out once.

`stamped_documents` is the speed path of `bpquiz.sheets.render.render_exam`, in three phases:

1. each variant's skeleton HTML and texts (`Slots`); variants with the same HTML share a skeleton
   (for one preset: one per document);
2. each skeleton: kept from an earlier run (bpquiz.sheets.stamping.cache) or laid out now in a
   worker process, and kept;
3. each variant's texts stamped into its skeleton, each file handed on as it comes, and the
   class files written as their copies come (bpquiz.sheets.stamping.classfile), so that memory
   does not grow with the class; a document that cannot be stamped exactly, for whatever reason,
   is rendered whole (bpquiz.sheets.documents), and the reason is counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.presets import Settings
from bpquiz.forms import VARIANT_INFO
from bpquiz.sheets.context import render_html
from bpquiz.sheets.documents import Rendered, WholeTask, render_document
from bpquiz.sheets.options import DOCUMENTS, SheetOptions
from bpquiz.sheets.stamping import cache
from bpquiz.sheets.stamping.assemble import Unstampable, assemble, page_stream
from bpquiz.sheets.stamping.classfile import ClassWriter, Copy, class_copy, copy_streams
from bpquiz.sheets.stamping.fonts import Fonts
from bpquiz.sheets.stamping.layout import Skeleton, SkeletonSpec, build_skeleton
from bpquiz.sheets.stamping.slots import Group, Slots, StampTexts, fill_reserves, fill_title
from bpquiz.sheets.stamping.stamp import page_ops
from bpquiz.sheets.templates import template_roots
from bpquiz.sheets.workers import chunks, default_jobs, in_workers

SMALL = 4
"""Up to this many variants, texts are stamped in this process: starting workers costs more."""
STAMP_CHUNK = 16
"""The most variants one stamping task takes: their files come back together, so this bounds
the memory of the results under way."""


def why(exc: Exception, doing: str) -> str:
    """One line saying why a document is rendered whole: Unstampable says it in its own words;
    any other failure (an edited template, a library that changed) is named as what it is."""
    if isinstance(exc, Unstampable):
        return str(exc)
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{doing} failed ({type(exc).__name__}{': ' + text if text else ''})"


# --- 1. skeleton HTML and texts -------------------------------------------------------------


@dataclass(frozen=True)
class HtmlTask:
    """Some variants whose skeleton HTML and texts to collect (both documents each)."""

    variants: Sequence[Variant] | range
    """The variants, or (forked workers) their places in _VARIANTS."""
    settings: Settings
    options: SheetOptions


_VARIANTS: Sequence[Variant] = ()
"""The class set's variants: forked workers find them here rather than have them sent. Sending
a Variant pickles it, and pickling gives each of its thousands of small objects a __dict__ of
its own (CPython 3.11+), which the main process then keeps: ~40 kB a variant."""


@dataclass
class HtmlMade:
    """What an HtmlTask gives back: per variant and document, the digest of its skeleton HTML and
    its texts (StampTexts, pickled: a fifth of the memory of the objects), or why it has none;
    and each digest's HTML and what its group needs (Group)."""

    documents: list[tuple[str, bytes] | str] = field(default_factory=list)
    htmls: dict[str, str] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)


def _skeleton_htmls(task: HtmlTask) -> HtmlMade:
    made = HtmlMade()
    variants = task.variants
    for variant in (_VARIANTS[i] for i in variants) if isinstance(variants, range) else variants:
        for document in DOCUMENTS:
            slots = Slots()
            try:
                html = render_html(document, variant, task.settings, task.options, slots)
            except Exception as exc:  # e.g. a template filter on a slot: `{{ code|lower }}`
                made.documents.append(why(exc, "the skeleton HTML"))
                continue
            digest = hashlib.sha256(html.encode()).hexdigest()
            made.htmls.setdefault(digest, html)
            made.groups.setdefault(digest, Group()).add(slots)
            made.documents.append((digest, pickle.dumps(slots.stamped(), protocol=5)))
    return made


# --- 2. skeletons ---------------------------------------------------------------------------


def _skeleton(spec: SkeletonSpec) -> tuple[Skeleton, Fonts] | str:
    """The skeleton, or why there is none. Any failure, not only Unstampable: laying it out reads
    WeasyPrint's and pypdf's internals, and the whole rendering is the safe way round."""
    try:
        return build_skeleton(spec)
    except Exception as exc:
        return why(exc, "laying out the skeleton")


# --- 3. stamping ----------------------------------------------------------------------------

_SKELETONS: dict[str, tuple[Skeleton, Fonts]] = {}
"""The skeleton being stamped, by name: forked workers find it here, so that a task carries the
skeleton's name, not its bytes (each task's arguments wait, pickled, until it runs)."""


class _Spill:
    """Each document's texts (pickled StampTexts), kept in a temporary file between the phases,
    not in memory: a class set keeps two numbers per document."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "texts"
        self.file = open(self.path, "wb")  # noqa: SIM115 (closed by `close`)
        self.size = 0

    def put(self, packed: bytes) -> tuple[int, int]:
        self.file.write(packed)
        self.size += len(packed)
        return self.size - len(packed), len(packed)

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class StampTask:
    """Some variants' texts to stamp into one skeleton: each its place in the class file, where
    its texts are in `texts` (offset, length: pickled StampTexts) and its code."""

    skeleton: str | tuple[Skeleton, Fonts]
    """Its name in _SKELETONS (forked workers), or itself."""
    texts: Path
    out: Path
    """Where the stamped files go (see `_stamp`)."""
    variants: Sequence[tuple[int, tuple[int, int], str]]
    class_copies: bool
    """Make each one's copy for the class file too."""
    duplex: bool


@dataclass(frozen=True)
class StampedOne:
    """A stamped document: where its PDF and its class-file copy's bytes are in the task's
    `out` file (offset, length), and the copy's object numbers (its `data` left empty)."""

    pdf: tuple[int, int]
    copy: tuple[Copy, tuple[int, int]] | None


def _stamp(task: StampTask) -> list[StampedOne | str]:
    """Each variant's document stamped into the skeleton, or why it cannot be (render it whole).

    The files go into `task.out`, not back through the pool: the main process then reads them a
    document at a time (big messages between processes grew its memory with the class)."""
    done: list[StampedOne | str] = []
    skeleton, fonts = _SKELETONS[task.skeleton] if isinstance(task.skeleton, str) else task.skeleton
    with task.texts.open("rb") as spilled, task.out.open("wb") as out:

        def put(data: bytes) -> tuple[int, int]:
            start = out.tell()
            out.write(data)
            return start, len(data)

        for index, (offset, length), code in task.variants:
            try:
                spilled.seek(offset)
                texts = pickle.loads(spilled.read(length))
                pdf, copy = _stamp_one(skeleton, fonts, index, texts, code, task)
                copied = (dataclasses.replace(copy, data=b""), put(copy.data)) if copy else None
                done.append(StampedOne(put(pdf), copied))
            except Exception as exc:
                done.append(why(exc, "stamping"))
    return done


def _stamp_one(
    skeleton: Skeleton, fonts: Fonts, index: int, texts: StampTexts, code: str, task: StampTask
) -> tuple[bytes, Copy | None]:
    inserts = page_ops(skeleton, fonts, texts.texts, texts.drawing)
    title = fill_title(skeleton.title, dict(enumerate(texts.texts)))
    template = skeleton.template
    streams = [page_stream(cut, inserts) for cut in template.pages]
    if skeleton.form:  # a form carries its code in a field and in the document information
        pdf = assemble(template, inserts, title, texts.alt, {VARIANT_INFO: code}, code, streams)
    else:
        pdf = assemble(template, inserts, title, texts.alt, streams=streams)
    copy = None
    if task.class_copies:
        # A form's class file copies its print copy, which has content streams of its own.
        own = copy_streams(skeleton.kit, inserts) if skeleton.form else streams
        copy = class_copy(skeleton.kit, index, own, texts.alt, task.duplex)
    return pdf, copy


@dataclass
class Stamped:
    """A class set's documents (in variant order, sheet then solution) and, where one skeleton
    served every variant of a document, that document's class file (its bytes; or b"" when it
    was written to its target as it was made)."""

    documents: list[Rendered]
    class_files: dict[str, bytes]
    whole: Counter[str] = field(default_factory=Counter)
    """Why documents were rendered whole, not stamped: each reason and how many documents."""
    notes: list[str] = field(default_factory=list)
    """Class files that were to be written as their copies came and are joined instead: why."""

    @property
    def rendered_whole(self) -> int:
        """Documents that could not be stamped and were rendered whole."""
        return sum(self.whole.values())


class _ClassTarget:
    """Where a class file is written as its copies come: a `.part` file beside its target,
    renamed at the end (or in memory, without a target)."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.partial = target.with_name(f".{target.name}.part") if target else None
        self.out: IO[bytes] = open(self.partial, "wb") if self.partial else io.BytesIO()  # noqa: SIM115

    def finish(self) -> bytes:
        """Its bytes (b"" once written to its target)."""
        if self.partial is None or self.target is None:
            return self.out.getvalue() if isinstance(self.out, io.BytesIO) else b""
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        os.replace(self.partial, self.target)
        return b""

    def drop(self) -> None:
        self.out.close()
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)


def stamped_documents(
    variants: Sequence[Variant],
    settings: Settings,
    options: SheetOptions,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    duplex: bool = False,
    write: Callable[[Rendered], None] | None = None,
    class_targets: Mapping[str, Path] | None = None,
) -> Stamped:
    """Every variant's sheet and solution as PDF, laid out once per structure.

    With `write`, each document is handed to it as it comes and not kept (its `data` is left
    empty); with `class_targets`, each class file is written to its path as its copies come."""
    global _VARIANTS
    with tempfile.TemporaryDirectory(prefix="bpquiz-") as work:
        try:
            return _stamped_documents(
                variants, settings, options, jobs, progress, duplex, write, class_targets,
                Path(work),
            )  # fmt: skip
        finally:
            _VARIANTS = ()


def _stamped_documents(
    variants: Sequence[Variant],
    settings: Settings,
    options: SheetOptions,
    jobs: int | None,
    progress: Callable[[int, int], None] | None,
    duplex: bool,
    write: Callable[[Rendered], None] | None,
    class_targets: Mapping[str, Path] | None,
    work: Path,
) -> Stamped:
    roots = tuple(template_roots(options.templates))
    jobs = max(1, min(jobs or default_jobs(), len(variants)))
    small = len(variants) <= SMALL

    # 1. Each variant's skeleton HTML and texts; variants with the same HTML share a skeleton.
    global _VARIANTS
    _VARIANTS = variants
    forked = sys.platform.startswith("linux")  # as bpquiz.sheets.workers starts its workers
    html_tasks = []
    start = 0
    for piece in chunks(variants, jobs, STAMP_CHUNK):
        chosen = range(start, start + len(piece)) if forked else piece
        html_tasks.append(HtmlTask(chosen, settings, options))
        start += len(piece)
    spill = _Spill(work)
    texts: dict[tuple[str, int], tuple[int, int]] = {}
    htmls: dict[str, str] = {}
    gathered: dict[str, Group] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    whole: list[tuple[str, int]] = []
    reasons: Counter[str] = Counter()
    k = 0
    for made in in_workers(_skeleton_htmls, html_tasks, 1 if small else jobs, False):
        for digest, html in made.htmls.items():
            htmls.setdefault(digest, html)
        for digest, group in made.groups.items():
            gathered.setdefault(digest, Group()).merge(group)
        for made_one in made.documents:
            index, which = divmod(k, len(DOCUMENTS))
            k += 1
            if isinstance(made_one, str):
                whole.append((DOCUMENTS[which], index))
                reasons[made_one] += 1
                continue
            digest, packed = made_one
            texts[DOCUMENTS[which], index] = spill.put(packed)
            groups.setdefault((DOCUMENTS[which], digest), []).append(index)

    spill.close()

    # 2. Each group's skeleton: kept from an earlier run, or laid out now (and kept).
    specs: list[tuple[str, SkeletonSpec]] = []
    for (document, digest), _members in groups.items():
        group = gathered[digest]
        spec = SkeletonSpec(
            html=fill_reserves(htmls[digest], group.reserves()),
            roots=roots,
            extra=group.extra(),
            forms=options.fillable and document == "sheet",
            open_slots=frozenset(k for k, kind in enumerate(group.kinds) if kind == "open"),
        )
        specs.append((cache.key(spec), spec))
    del htmls, gathered
    built: dict[str, tuple[Skeleton, Fonts] | str | None] = {
        name: cache.load(name, spec) for name, spec in specs
    }
    missing = [(name, spec) for name, spec in specs if built[name] is None]
    for (name, _), made_skeleton in zip(
        missing, in_workers(_skeleton, [spec for _, spec in missing], jobs), strict=True
    ):
        built[name] = made_skeleton
        if not isinstance(made_skeleton, str):
            cache.store(name, *made_skeleton)

    # 3. Each variant stamped into its skeleton, the class files written as the copies come.
    done: dict[tuple[str, int], Rendered] = {}
    class_files: dict[str, bytes] = {}
    notes: list[str] = []
    stamped = 0
    for ((document, _), members), (name, _) in zip(groups.items(), specs, strict=True):
        result = built[name]
        if result is None or isinstance(result, str):
            whole.extend((document, i) for i in members)
            reasons[result or "no skeleton"] += len(members)
            continue
        skeleton = result[0]
        whole_class = len(members) == len(variants) > 1
        target = _ClassTarget((class_targets or {}).get(document)) if whole_class else None
        writer = ClassWriter(skeleton.kit, target.out) if target else None
        _SKELETONS.clear()
        _SKELETONS[name] = result
        # Forked workers (Linux: bpquiz.sheets.workers) find it in _SKELETONS; others are sent it.
        shared: str | tuple[Skeleton, Fonts] = name if sys.platform.startswith("linux") else result
        parts = chunks(list(enumerate(members)), jobs, STAMP_CHUNK)
        tasks = [
            StampTask(
                shared,
                spill.path,
                work / f"stamped-{document}-{n}",
                [(k, texts[document, i], variants[i].code) for k, i in part],
                writer is not None,
                duplex,
            )
            for n, part in enumerate(parts)
        ]
        results = in_workers(_stamp, tasks, 1 if small else jobs, False)
        for task, part, part_results in zip(tasks, parts, results, strict=True):
            stamped_files = task.out.open("rb")
            for (_, i), stamped_one in zip(part, part_results, strict=True):
                if isinstance(stamped_one, str):
                    whole.append((document, i))
                    reasons[stamped_one] += 1
                    writer = None  # the class file will be joined from the students' files
                    continue
                if writer is not None and stamped_one.copy is not None:
                    copy, (start, length) = stamped_one.copy
                    try:
                        stamped_files.seek(start)
                        writer.add(dataclasses.replace(copy, data=stamped_files.read(length)))
                    except Exception as exc:
                        notes.append(f"the {document}s' class file: {why(exc, 'writing it')}")
                        writer = None
                start, length = stamped_one.pdf
                stamped_files.seek(start)
                pdf = stamped_files.read(length)
                rendered = Rendered(variants[i].code, document, pdf, skeleton.pages)
                if write is not None:
                    write(rendered)
                    rendered = dataclasses.replace(rendered, data=b"")
                done[document, i] = rendered
                stamped += 1
                if progress:
                    progress(stamped // len(DOCUMENTS), len(variants))
            stamped_files.close()
            task.out.unlink()
        _SKELETONS.clear()
        if target is not None:
            if writer is None:
                target.drop()
            else:
                try:
                    writer.close(fill_title(skeleton.title, {}))
                    class_files[document] = target.finish()
                except Exception as exc:  # joined from the students' files instead (render_exam)
                    target.drop()
                    notes.append(f"the {document}s' class file: {why(exc, 'writing it')}")

    whole_tasks = [WholeTask(d, variants[i], settings, options, "pdf") for d, i in sorted(whole)]
    for (d, i), rendered in zip(
        sorted(whole), in_workers(render_document, whole_tasks, jobs), strict=True
    ):
        if write is not None:
            write(rendered)
            rendered = dataclasses.replace(rendered, data=b"")
        done[d, i] = rendered
    documents = [done[d, i] for i in range(len(variants)) for d in DOCUMENTS]
    return Stamped(documents, class_files, reasons, notes)
