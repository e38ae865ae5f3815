"""Worker processes for rendering: a pool that imports WeasyPrint once per worker.

Work handed to a pool is a typed task (a frozen dataclass), so that a reader can follow it from
the caller into the worker.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

Task = TypeVar("Task")
Out = TypeVar("Out")
Run = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[Any]]


def default_jobs() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _warm_up() -> None:
    # Each worker pays WeasyPrint's import once, before its first document.
    import bpquiz.sheets.pdf  # noqa: F401


@contextmanager
def worker_pool(jobs: int, weasyprint: bool = True) -> Iterator[Run]:
    """A `map` over `jobs` worker processes that import WeasyPrint once each (or over this
    process, for one job), to run several rounds of tasks without starting workers again."""
    if jobs <= 1:
        yield lambda task, items: map(task, items)
        return
    # fork shares the parent's imports; elsewhere spawn is the safe choice.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_warm_up if weasyprint else None,
    ) as pool:

        def run(task: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
            # A few tasks under way at a time: each one's arguments and results wait in memory.
            pending: deque[Any] = deque()
            for item in items:
                pending.append(pool.submit(task, item))
                if len(pending) > 2 * jobs:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        yield run


def in_workers(
    task: Callable[[Task], Out], items: Sequence[Task], jobs: int | None, weasyprint: bool = True
) -> Iterator[Out]:
    """`task` over `items`, in order, in worker processes that import WeasyPrint once each
    (unless `weasyprint` is false), or in this process when one job is enough."""
    with worker_pool(max(1, min(jobs or default_jobs(), len(items))), weasyprint) as run:
        yield from run(task, items)


def chunks(items: Sequence[Task], jobs: int, most: int | None = None) -> list[Sequence[Task]]:
    """`items` in a few pieces per worker: small enough to balance, big enough to be worth sending
    (and no bigger than `most`)."""
    size = max(1, math.ceil(len(items) / (4 * jobs)))
    size = min(size, most) if most else size
    return [items[k : k + size] for k in range(0, len(items), size)]


@dataclass(frozen=True)
class PdfTask:
    """A ready-made HTML document to turn into a PDF."""

    html: str
    roots: tuple[Path, ...]


def _pdf(task: PdfTask) -> tuple[bytes, int]:
    from bpquiz.sheets.pdf import html_to_pdf

    return html_to_pdf(task.html, list(task.roots))


def pdfs_in_parallel(
    htmls: Sequence[str], roots: Sequence[Path], jobs: int | None = None
) -> list[tuple[bytes, int]]:
    """PDF bytes and page counts of ready-made HTML documents, in order, over worker processes."""
    return list(in_workers(_pdf, [PdfTask(html, tuple(roots)) for html in htmls], jobs))
