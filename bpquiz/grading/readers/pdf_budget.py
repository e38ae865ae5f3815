"""A budget for reading one PDF's form: decompressed bytes, objects and seconds, counted while
pypdf reads.

pypdf limits each structure on its own (one stream's output, one array's length: its
`Configuration`) but not a file's total, so a file of many small object streams, each inflating
to megabytes of whitespace, passes every limit: 1.4 MB of PDF took 114 s and 1.5 GB. The budget
here is the file's total, counted through three hooks while pypdf reads:

- every decompression (`pypdf.filters.decode_stream_data`, which pypdf looks up at each call),
  run with pypdf's output limits lowered to what is left of the budget, so a stream stops
  inflating where the budget ends, not after;
- every object parsed or looked up (a PdfReader subclass);
- a deadline, checked at each of those.

Running out raises OverBudget, a BaseException: pypdf's many `except Exception` repairs must not
swallow it and carry on. This relies on pypdf's internals (the name looked up, the methods
overridden): pyproject.toml pins the versions it is tested with, and a test counts the
decompressions to notice a pypdf that would go around the hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

DECODED_BYTES = 16 << 20
"""Decompressed bytes per file, all streams together. Reading a sheet's form needs none to a few
hundred kB (object streams, as Acrobat saves); the object-stream bombs need gigabytes."""
OBJECTS = 20_000
"""Objects parsed per file. Reading a sheet's form parses ~60; a damaged file pypdf rebuilds, a
few hundred."""
SECONDS = 5.0
"""The deadline inside the reader: a clean refusal well before the reading process is killed
(bpquiz.grading.readers.isolate). A sheet's form is read in ~15 ms."""
LIMITS = {
    # pypdf's own per-structure limits (pypdf.Configuration), tightened to what a sheet needs.
    "form_fields_maximum_entries": 5_000,
    "form_fields_maximum_depth": 32,
    "page_tree_maximum_entries": 10_000,
    "page_tree_maximum_depth": 32,
    "array_maximum_element_count": 20_000,
    "dictionary_maximum_element_count": 5_000,
    "stream_filters_maximum_length": 4,
    "outline_maximum_entries": 10_000,
    "named_destinations_maximum_entries": 10_000,
}
READER_OPTIONS = {"root_object_recovery_limit": OBJECTS, "xref_stream_maximum_entries": 200_000}
"""PdfReader's own arguments: how far it searches a damaged file, how long an xref stream."""
_OUTPUT_LIMITS = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "array_based_stream_maximum_output_length",
)


class OverBudget(BaseException):
    """The file needs more than its budget; the message says which part of it."""


class Budget:
    __slots__ = ("deadline", "decoded", "objects")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + SECONDS
        self.decoded = DECODED_BYTES
        self.objects = OBJECTS

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise OverBudget(f"more than {SECONDS:g} s")

    def count(self) -> None:
        self.objects -= 1
        if self.objects < 0:
            raise OverBudget(f"more than {OBJECTS} objects")
        self.check()

    def decode(self, decode: Callable[[Any], bytes], stream: Any) -> bytes:
        """One stream decompressed within what is left of the budget."""
        from pypdf import apply_configuration
        from pypdf.errors import LimitReachedError

        self.count()
        room = self.decoded
        if room <= 0:  # (a limit of 0 would mean "no limit" to pypdf)
            raise OverBudget(f"more than {DECODED_BYTES >> 20} MiB once decompressed")
        limits = dict.fromkeys(_OUTPUT_LIMITS, room)
        try:
            with apply_configuration(None, stream_decoding_work_maximum_length=4 * room, **limits):
                data = decode(stream)
        except LimitReachedError:
            raise OverBudget(f"more than {DECODED_BYTES >> 20} MiB once decompressed") from None
        self.decoded -= len(data)
        if self.decoded < 0:
            raise OverBudget(f"more than {DECODED_BYTES >> 20} MiB once decompressed")
        return data


_current: ContextVar[Budget | None] = ContextVar("bpquiz_pdf_budget", default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """A fresh budget for the reading inside this block, with pypdf's limits tightened."""
    from pypdf import apply_configuration

    _install_decode_hook()
    fresh = Budget()
    token = _current.set(fresh)
    try:
        with apply_configuration(None, **LIMITS):
            yield fresh
    finally:
        _current.reset(token)


_hook: Callable[[Any], bytes] | None = None


def _install_decode_hook() -> None:
    """Route pypdf's decompressions through the current budget (none: pypdf's own way)."""
    global _hook
    import pypdf.filters

    if _hook is not None and pypdf.filters.decode_stream_data is _hook:
        return
    decode = pypdf.filters.decode_stream_data

    def decode_within_budget(stream: Any) -> bytes:
        current = _current.get()
        return decode(stream) if current is None else current.decode(decode, stream)

    _hook = decode_within_budget
    pypdf.filters.decode_stream_data = decode_within_budget


@cache
def reader_class() -> type:
    """PdfReader, counting what it parses against the current budget."""
    from pypdf import PdfReader

    class BudgetedReader(PdfReader):
        def get_object(self, indirect_reference: Any) -> Any:
            current = _current.get()
            if current is not None:
                current.check()
            return super().get_object(indirect_reference)

        def cache_indirect_object(self, generation: int, idnum: int, obj: Any) -> Any:
            current = _current.get()
            if current is not None:
                current.count()
            return super().cache_indirect_object(generation, idnum, obj)

        def read_object_header(self, stream: Any) -> tuple[int, int]:
            current = _current.get()
            if current is not None:
                current.count()
            return super().read_object_header(stream)

    return BudgetedReader
