"""A class set stamped: every variant's sheet and solution from skeletons laid out once.

`stamped_documents` is the speed path of `bpquiz.sheets.render.render_exam`, in three phases:

1. each variant's skeleton HTML and texts (`Slots`); variants with the same HTML share a skeleton
   (for one preset: one per document);
2. each skeleton: kept from an earlier run (bpquiz.sheets.stamping.cache) or laid out now in a
   worker process, and kept;
3. each variant's texts stamped into its skeleton, and the class files written; a variant that
   cannot be stamped exactly is rendered whole (bpquiz.sheets.documents).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bpquiz.exercises.draw import Variant
from bpquiz.exercises.presets import Settings
from bpquiz.forms import VARIANT_INFO
from bpquiz.sheets.context import render_html
from bpquiz.sheets.documents import Rendered, WholeTask, render_document
from bpquiz.sheets.options import DOCUMENTS, SheetOptions
from bpquiz.sheets.stamping import cache
from bpquiz.sheets.stamping.assemble import assemble, class_file
from bpquiz.sheets.stamping.fonts import Fonts
from bpquiz.sheets.stamping.layout import Skeleton, SkeletonSpec, Unstampable, build_skeleton
from bpquiz.sheets.stamping.slots import (
    Slots,
    extra_chars,
    fill_reserves,
    fill_title,
    reserves_for,
)
from bpquiz.sheets.stamping.stamp import page_ops
from bpquiz.sheets.templates import template_roots
from bpquiz.sheets.variable import SvgText
from bpquiz.sheets.workers import chunks, default_jobs, in_workers

SMALL = 4
"""Up to this many variants, texts are stamped in this process: starting workers costs more."""


@dataclass(frozen=True)
class HtmlTask:
    """Some variants whose skeleton HTML and texts to collect (both documents each)."""

    variants: Sequence[Variant]
    settings: Settings
    options: SheetOptions


@dataclass(frozen=True)
class VariantTexts:
    """What one variant stamps into a skeleton."""

    texts: list[str]
    drawing: list[SvgText]
    code: str


@dataclass(frozen=True)
class StampTask:
    """Some variants' texts to stamp into one skeleton."""

    skeleton: Skeleton
    fonts: Fonts
    variants: Sequence[VariantTexts]


Stamp = tuple[list[list[str]], bytes]
"""A stamped variant: its page operators (for the class file) and its PDF."""


def _skeleton_htmls(task: HtmlTask) -> list[tuple[str, Slots]]:
    out = []
    for variant in task.variants:
        for document in DOCUMENTS:
            slots = Slots()
            html = render_html(document, variant, task.settings, task.options, slots)
            out.append((html, slots))
    return out


def _skeleton(spec: SkeletonSpec) -> tuple[Skeleton, Fonts] | None:
    try:
        return build_skeleton(spec)
    except Unstampable:
        return None


def _stamp(task: StampTask) -> list[Stamp | None]:
    """Each variant's document stamped into the skeleton (None: it cannot be, render it whole)."""
    skeleton = task.skeleton
    out: list[Stamp | None] = []
    for variant in task.variants:
        try:
            ops = page_ops(skeleton, task.fonts, variant.texts, variant.drawing)
        except Unstampable:
            out.append(None)
            continue
        title = fill_title(skeleton.title, dict(enumerate(variant.texts)))
        if skeleton.printed is None:
            out.append((ops, assemble(skeleton.template, ops, title)))
        else:  # a form carries its code in a field and in the document information
            info = {VARIANT_INFO: variant.code}
            out.append((ops, assemble(skeleton.template, ops, title, info, variant.code)))
    return out


@dataclass
class Stamped:
    """A class set's documents (in variant order, sheet then solution) and, where one skeleton
    served every variant of a document, that document's class file."""

    documents: list[Rendered]
    class_files: dict[str, bytes]
    rendered_whole: int = 0
    """Documents that could not be stamped and were rendered whole."""


def stamped_documents(
    variants: Sequence[Variant],
    settings: Settings,
    options: SheetOptions,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    duplex: bool = False,
) -> Stamped:
    """Every variant's sheet and solution as PDF, laid out once per structure."""
    roots = tuple(template_roots(options.templates))
    jobs = max(1, min(jobs or default_jobs(), len(variants)))
    small = len(variants) <= SMALL

    # 1. Each variant's skeleton HTML and texts; variants with the same HTML share a skeleton.
    html_tasks = [HtmlTask(part, settings, options) for part in chunks(variants, jobs)]
    made = [
        r
        for part in in_workers(_skeleton_htmls, html_tasks, 1 if small else jobs, False)
        for r in part
    ]
    slots: dict[tuple[str, int], Slots] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (html, variant_slots) in enumerate(made):
        index, which = divmod(k, len(DOCUMENTS))
        slots[DOCUMENTS[which], index] = variant_slots
        groups.setdefault((DOCUMENTS[which], html), []).append(index)

    # 2. Each group's skeleton: kept from an earlier run, or laid out now (and kept).
    specs: list[tuple[str, SkeletonSpec]] = []
    for (document, html), members in groups.items():
        group = [slots[document, i] for i in members]
        reserves = reserves_for(group)
        every = [t for g in group for t in g.texts] + reserves
        every += [item.text for g in group for item in g.drawing]
        spec = SkeletonSpec(
            html=fill_reserves(html, reserves),
            roots=roots,
            extra=extra_chars(every),
            forms=options.fillable and document == "sheet",
            open_slots=frozenset(k for k, kind in enumerate(group[0].kinds) if kind == "open"),
        )
        specs.append((cache.key(spec), spec))
    built: dict[str, tuple[Skeleton, Fonts] | None] = {
        name: cache.load(name, spec) for name, spec in specs
    }
    missing = [(name, spec) for name, spec in specs if built[name] is None]
    for (name, _), result in zip(
        missing, in_workers(_skeleton, [spec for _, spec in missing], jobs), strict=True
    ):
        built[name] = result
        if result is not None:
            cache.store(name, *result)

    # 3. Each variant stamped into its skeleton, the class files written; the rest rendered whole.
    done: dict[tuple[str, int], Rendered] = {}
    whole: list[tuple[str, int]] = []
    class_files: dict[str, bytes] = {}
    stamped = 0
    for ((document, _), members), (name, _) in zip(groups.items(), specs, strict=True):
        result = built[name]
        if result is None:
            whole.extend((document, i) for i in members)
            continue
        skeleton, fonts = result
        parts = chunks(members, jobs)
        stamp_tasks = [
            StampTask(
                skeleton,
                fonts,
                [
                    VariantTexts(
                        slots[document, i].texts, slots[document, i].drawing, variants[i].code
                    )
                    for i in part
                ],
            )
            for part in parts
        ]
        copies: list[list[list[str]]] = []
        results = in_workers(_stamp, stamp_tasks, 1 if small else jobs, False)
        for part, part_results in zip(parts, results, strict=True):
            for i, stamped_one in zip(part, part_results, strict=True):
                if stamped_one is None:
                    whole.append((document, i))
                    continue
                ops, pdf = stamped_one
                copies.append(ops)
                done[document, i] = Rendered(variants[i].code, document, pdf, skeleton.pages)
                stamped += 1
                if progress:
                    progress(stamped // len(DOCUMENTS), len(variants))
        if len(variants) == 1:
            continue
        if len(members) == len(variants) and len(copies) == len(variants):
            title = fill_title(skeleton.title, {})
            class_files[document] = class_file(skeleton.print_copy, fonts, copies, title, duplex)
        elif skeleton.printed is not None:
            # The class file will be joined from each student's print copy.
            for i in members:
                if (document, i) in done:
                    title = fill_title(skeleton.title, dict(enumerate(slots[document, i].texts)))
                    printed = class_file(skeleton.print_copy, fonts, [copies.pop(0)], title)
                    done[document, i] = dataclasses.replace(done[document, i], printed=printed)
    whole_tasks = [
        WholeTask(d, variants[i], settings, options, "pdf", True) for d, i in sorted(whole)
    ]
    for (d, i), rendered in zip(
        sorted(whole), in_workers(render_document, whole_tasks, jobs), strict=True
    ):
        done[d, i] = rendered
    documents = [done[d, i] for i in range(len(variants)) for d in DOCUMENTS]
    return Stamped(documents, class_files, len(whole))
