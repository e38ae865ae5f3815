"""Hostile files made on the fly (nothing big is kept in the repository), and a way to run bpquiz
on them in a subprocess whose time and memory are measured.

The PDFs are written by a tiny writer of numbered objects, object streams and a cross-reference
stream, enough to build the files that once made pypdf work for minutes: object streams inflating
to whitespace, deep and wide field trees, rebuilt cross-references.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20


# --- running bpquiz, measured --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    status: int | str
    """The exit code, or "timeout"."""
    seconds: float
    cpu: float
    mb: float
    """Peak resident memory of the run, its reader child included (Linux: wait4 counts the
    children a process waited for)."""
    stdout: str
    stderr: str


_LAUNCH = """
import json, os, resource, sys
cap, report = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "bpquiz", *sys.argv[3:]])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    json.dump([usage.ru_utime + usage.ru_stime, usage.ru_maxrss], f)
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""
"""Sets the memory cap, then runs bpquiz and reports its CPU time and peak memory. Linux keeps a
process's peak across fork and exec, so bpquiz is forked from this small process: a fork of the
test process would start with the test process's whole size as its peak."""


def run_bpquiz(
    args: list[str], timeout: float = 60, cap: int = 3 << 30, env: dict[str, str] | None = None
) -> Run:
    """`python -m bpquiz ARGS` in a new session under RLIMIT_AS `cap` (a runaway case fails, it
    does not take the machine), killed at `timeout`."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "usage.json"
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(cap), str(report), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        try:
            code: int | str = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = "timeout"
        seconds = time.monotonic() - start
        cpu, peak = json.loads(report.read_text()) if report.exists() else (0.0, 0)
        out.seek(0)
        err.seek(0)
        return Run(
            code,
            seconds,
            cpu,
            peak / 1024,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


# --- a tiny PDF writer ---------------------------------------------------------------------------


class Pdf:
    """Objects by number, some in object streams; written with a cross-reference stream."""

    def __init__(self) -> None:
        self.plain: dict[int, bytes] = {}
        self.in_stream: dict[int, tuple[int, int]] = {}
        self.next = 1

    def new(self) -> int:
        self.next += 1
        return self.next - 1

    def put(self, n: int, body: bytes) -> None:
        self.plain[n] = body

    def objstm(self, n: int, members: list[tuple[int, bytes]], pad: int = 0) -> None:
        """An object stream holding `members`, after `pad` bytes of whitespace."""
        offsets, at = [], 0
        for num, body in members:
            offsets.append(b"%d %d" % (num, at))
            at += len(body) + 1
        header = b" ".join(offsets) + b" "
        body = b"\n".join(body for _, body in members) + b"\n"
        data = deflate_padded(header, pad, body)
        self.plain[n] = (
            b"<</Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d>>\nstream\n"
            % (len(members), len(header) + pad, len(data))
            + data
            + b"\nendstream"
        )
        for i, (num, _) in enumerate(members):
            self.in_stream[num] = (n, i)

    def write(self, root: int, info: int | None = None) -> bytes:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets: dict[int, int] = {}
        for n in sorted(self.plain):
            offsets[n] = len(out)
            out += b"%d 0 obj\n" % n + self.plain[n] + b"\nendobj\n"
        xref = self.next
        rows = bytearray()
        for n in range(xref + 1):
            if n in offsets:
                rows += b"\x01" + offsets[n].to_bytes(4, "big") + b"\0\0"
            elif n in self.in_stream:
                stream, index = self.in_stream[n]
                rows += b"\x02" + stream.to_bytes(4, "big") + index.to_bytes(2, "big")
            elif n == xref:
                rows += b"\x01" + len(out).to_bytes(4, "big") + b"\0\0"
            else:
                rows += b"\0\0\0\0\0\xff\xff"
        packed = zlib.compress(bytes(rows), 9)
        at = len(out)
        trailer = b"/Type /XRef /Size %d /W [1 4 2] /Root %d 0 R" % (xref + 1, root)
        if info:
            trailer += b" /Info %d 0 R" % info
        out += b"%d 0 obj\n<<" % xref + trailer
        out += b" /Filter /FlateDecode /Length %d>>\nstream\n" % len(packed) + packed
        out += b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
        return bytes(out)


_PADDING: dict[int, bytes] = {}


def deflate_padded(header: bytes, pad: int, body: bytes) -> bytes:
    """zlib(header + `pad` spaces + body), the padding compressed once and reused: deflate blocks
    after a full flush stand alone, and the Adler-32 of the whole is cheap to compute."""
    raw = -zlib.MAX_WBITS
    c = zlib.compressobj(9, zlib.DEFLATED, raw)
    out = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    if pad:
        if pad not in _PADDING:
            p = zlib.compressobj(9, zlib.DEFLATED, raw)
            _PADDING[pad] = p.compress(b" " * pad) + p.flush(zlib.Z_FULL_FLUSH)
        out += _PADDING[pad]
    c = zlib.compressobj(9, zlib.DEFLATED, raw)
    out += c.compress(body) + c.flush(zlib.Z_FINISH)
    check = zlib.adler32(body, zlib.adler32(b" " * pad, zlib.adler32(header)))
    return b"\x78\xda" + out + check.to_bytes(4, "big")


def _field(name: str, value: str = "1") -> bytes:
    return b"<</FT /Tx /T (%s) /V (%s)>>" % (name.encode(), value.encode())


def _catalog(pdf: Pdf, fields: bytes) -> int:
    root, pages, form = pdf.new(), pdf.new(), pdf.new()
    pdf.put(root, b"<</Type /Catalog /Pages %d 0 R /AcroForm %d 0 R>>" % (pages, form))
    pdf.put(pages, b"<</Type /Pages /Kids [] /Count 0>>")
    pdf.put(form, b"<</Fields " + fields + b">>")
    return root


def objstm_bomb(streams: int, pad: int) -> bytes:
    """`streams` object streams, each one field after `pad` bytes of whitespace: ~2 kB of file
    per 2 MiB of padding (700 × 2 MiB: the review's 1.4 MB, 114 s and 1.5 GB)."""
    pdf = Pdf()
    fields = pdf.new()
    root = _catalog(pdf, b"%d 0 R" % fields)
    refs = []
    for i in range(streams):
        stream, field = pdf.new(), pdf.new()
        pdf.objstm(stream, [(field, _field(f"f{i}"))], pad=pad)
        refs.append(b"%d 0 R" % field)
    pdf.put(fields, b"[" + b" ".join(refs) + b"]")
    return pdf.write(root)


def flate_bomb_info(mb: int) -> bytes:
    """The document information in one object stream inflating to `mb` MiB of whitespace."""
    pdf = Pdf()
    root = _catalog(pdf, b"[]")
    stream, info = pdf.new(), pdf.new()
    pdf.objstm(stream, [(info, b"<</BpquizVariant (VYKAQ)>>")], pad=mb * MiB)
    return pdf.write(root, info=info)


def kids_deep(depth: int) -> bytes:
    """A form field whose /Kids nest `depth` deep."""
    pdf = Pdf()
    top = pdf.new()
    root = _catalog(pdf, b"[%d 0 R]" % top)
    nums = [top] + [pdf.new() for _ in range(depth)]
    for k, n in enumerate(nums):
        parent = b" /Parent %d 0 R" % nums[k - 1] if k else b""
        kid = b" /Kids [%d 0 R]" % nums[k + 1] if k + 1 < len(nums) else b" /FT /Tx /V (1)"
        pdf.put(n, b"<</T (k%d)" % k + parent + kid + b">>")
    return pdf.write(root)


def many_tiny_fields(count: int) -> bytes:
    """`count` tiny fields in object streams of 10,000, all in /Fields."""
    pdf = Pdf()
    fields = pdf.new()
    root = _catalog(pdf, b"%d 0 R" % fields)
    members = [(pdf.new(), b"<</FT /Tx /T (%d)>>" % i) for i in range(count)]
    for i in range(0, count, 10_000):
        pdf.objstm(pdf.new(), members[i : i + 10_000])
    pdf.put(fields, b"[" + b" ".join(b"%d 0 R" % n for n, _ in members) + b"]")
    return pdf.write(root)


def xref_broken_many(size: int) -> bytes:
    """`size` bytes of tiny objects and a startxref pointing nowhere: pypdf rebuilds the
    cross-reference by scanning every object."""
    out = bytearray(b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R /AcroForm 3 0 R>> endobj\n")
    out += (
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n3 0 obj <</Fields [4 0 R]>> endobj\n"
    )
    n = 4
    while len(out) < size:
        out += b"".join(b"%d 0 obj null endobj\n" % k for k in range(n, n + 1000))
        n += 1000
    out += b"trailer <</Root 1 0 R /Size %d>>\nstartxref\n999999999\n%%%%EOF\n" % n
    return bytes(out)


def deep_arrays(depth: int) -> bytes:
    """A field value of [[[[…]]]] nested `depth` deep."""
    pdf = Pdf()
    field = pdf.new()
    root = _catalog(pdf, b"[%d 0 R]" % field)
    pdf.put(field, b"<</FT /Tx /T (z1_1) /V " + b"[" * depth + b"]" * depth + b">>")
    return pdf.write(root)


def long_string(size: int) -> bytes:
    """A field value `size` characters long."""
    pdf = Pdf()
    field = pdf.new()
    root = _catalog(pdf, b"[%d 0 R]" % field)
    pdf.put(field, b"<</FT /Tx /T (z1_1) /V (" + b"9" * size + b")>>")
    return pdf.write(root)
