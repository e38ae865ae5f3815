"""Skeletons kept between runs: a preset's layout is made once per machine.

A skeleton (bpquiz.sheets.stamping.layout) does not depend on the seed: its slots reserve the widest form of their
texts. So `bpquiz generate` lays out each preset's sheet and solution once, keeps them here, and
later runs only stamp numbers into them, without loading WeasyPrint at all.

An entry is found by a key over everything that shapes the layout: the skeleton HTML (templates,
texts and options included), the template folders' files, the characters to stamp, the versions of
bpquiz and WeasyPrint, and the machine's font configuration. The folder is `$BPQUIZ_CACHE`, else
`$XDG_CACHE_HOME/bpquiz`, else `~/.cache/bpquiz`; `BPQUIZ_CACHE=off` turns the cache off. A cached
skeleton gives byte for byte the files a fresh one would.

What is kept steers every sheet made from it, so it is trusted as ssh and pip trust their files:

- the folder is used only when it is the user's own and no one else can write to it, nor to a
  folder above it (but for sticky ones like /tmp); each entry and each of its files is checked
  the same way, and opened without following links. Else the cache is not used, and a warning
  says why;
- an entry is used only when it is whole (a digest over its description and its files) and every
  one of its numbers is one a laid-out skeleton can have (pages, slots, fonts, places on the page,
  the template's objects); else it is made again. A damaged entry never crashes a run and never
  changes a sheet;
- an entry is a folder named by its 32-hex-digit key and marked by a MARK file: pruning removes
  only such folders, never anything else in the cache folder.

Nothing here is unpickled: an entry is JSON and PDF bytes. (Jinja's compiled templates were kept
here too, as pickles; they saved ~15 ms a run and are no longer kept.)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import warnings
from collections.abc import Sequence
from contextlib import suppress
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bpquiz
from bpquiz.errors import BpquizWarning
from bpquiz.files import Refused, read_limited
from bpquiz.sheets.stamping.assemble import ALT_MARK, DRAWING, FIELD_MARK, PageCut, Template
from bpquiz.sheets.stamping.classfile import ClassKit
from bpquiz.sheets.stamping.fonts import Face, Fonts, Glyphs
from bpquiz.sheets.stamping.layout import DRAWING_FACES, Drawing, Place, Skeleton, SkeletonSpec
from bpquiz.sheets.templates import MAX_FILE_BYTES, folder_files

FORMAT = 10
"""Bump when the entry format or the way skeletons are made changes."""
MARK = "bpquiz-skeleton"
"""The file that marks a folder as an entry of this cache (pruning removes nothing else)."""
_ENTRY = re.compile(r"[0-9a-f]{32}")
MAX_FILE = 64 << 20
"""The largest file of an entry read back (a skeleton is ~100 kB, its fonts ~1 MB)."""
MAX_PAGES = 100
MAX_PX = 20_000.0
"""The largest coordinate on a page, in CSS px (A4 is 794 × 1123)."""

KEEP = 64
"""Entries kept; the least recently used beyond that are removed."""
FONT_CACHES = (Path("/var/cache/fontconfig"), Path.home() / ".cache" / "fontconfig")
"""fontconfig rewrites these when fonts are installed or removed with fc-cache."""
FONT_FOLDERS = (
    Path("/etc/fonts"),
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".fonts",
    Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fonts",
)
"""Where fonts and their configuration live: a font copied in changes its folder's time, before
fontconfig has noticed it."""


def folder() -> Path | None:
    """Where skeletons are kept, or None when the cache is off."""
    chosen = os.environ.get("BPQUIZ_CACHE", "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bpquiz"


class UntrustedCache(BpquizWarning):
    """The cache folder is not used: others could change what it holds."""


def trusted_folder() -> Path | None:
    """The cache folder (made private, 0700, when missing) if it can be trusted, else None. A
    folder that cannot be made is no error, only slower; one that cannot be trusted is said."""
    where = folder()
    if where is None:
        return None
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        real = Path(os.path.realpath(where))
        problem = _untrusted(real, os.stat(real)) or next(
            (p for p in map(_untrusted_above, real.parents) if p), None
        )
    except OSError:
        return None  # e.g. a read-only place: skeletons are made each run, as with the cache off
    if problem:
        warnings.warn(
            f"not using the skeleton cache {where}: {problem}; make it yours and not writable by "
            "others (chmod go-w), or set BPQUIZ_CACHE to a private folder",
            UntrustedCache,
            stacklevel=2,
        )
        return None
    return real


def _uid() -> int:
    """The user whose files are trusted; where there are no Unix owners (Windows: ACLs, which
    this does not read), every file counts as the user's and only the mode bits are checked."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid else 0


def _untrusted(path: Path, info: os.stat_result) -> str | None:
    """Why a folder or file of the cache can't be trusted, or None."""
    if info.st_uid != _uid():
        return f"{path} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by others"
    return None


def _untrusted_above(parent: Path) -> str | None:
    """Why a folder above the cache can't be trusted (someone else could swap the cache for
    theirs), or None: it is root's or ours, and writable by no one else unless sticky (/tmp)."""
    info = os.stat(parent)
    if info.st_uid not in (0, _uid()):
        return f"{parent} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        return f"{parent} is writable by others"
    return None


def _own_file(path: Path) -> bytes:
    """A file of an entry: a regular file, ours, writable by no one else, not a link, at most
    MAX_FILE bytes (ValueError otherwise)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise ValueError(f"{path.name}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        problem = _untrusted(path, info)
        if problem or not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            raise ValueError(problem or f"{path.name} is not a small regular file")
        return handle.read(MAX_FILE + 1)


def _entry_folder(where: Path, name: str) -> Path | None:
    """An entry's folder if it is one of ours: named by a key, not a link, ours, writable by no
    one else, marked."""
    if not _ENTRY.fullmatch(name):
        return None
    entry = where / name
    try:
        info = os.lstat(entry)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or _untrusted(entry, info):
        return None
    return entry if (entry / MARK).is_file() else None


def entries(where: Path) -> list[Path]:
    """The cache's entries; nothing else in the folder."""
    return [where / p.name for p in where.iterdir() if _entry_folder(where, p.name)]


def _files_digest(roots: Sequence[Path]) -> list[tuple[str, str]]:
    """Each template folder's files and their digests. The files are checked first (no link out
    of the folder, no FIFO, none over templates.MAX_FILE_BYTES: a 1.5 GB file there was read
    whole), then read within that bound."""
    out = []
    for root in roots:
        for path in folder_files(root):
            try:
                data = read_limited(path, MAX_FILE_BYTES, "a template folder's file")
            except Refused:
                data = b""  # changed since it was checked: rendering will say what is wrong
            out.append((str(path), hashlib.sha256(data).hexdigest()))
    return out


def _fonts_state() -> list[tuple[str, int, int]]:
    state = []
    for fontconfig in FONT_CACHES:
        if fontconfig.is_dir():
            for path in sorted(fontconfig.iterdir()):
                info = path.stat()
                state.append((str(path), info.st_size, info.st_mtime_ns))
    for top in FONT_FOLDERS:
        for folder, _, _ in sorted(os.walk(top)):
            state.append((folder, 0, os.stat(folder).st_mtime_ns))
    return state


def key(spec: SkeletonSpec) -> str:
    """The name of the skeleton built from `spec` (bpquiz.sheets.stamping.layout.build_skeleton)."""
    parts = [
        FORMAT,
        bpquiz.__version__,
        version("weasyprint"),
        version("pydyf"),  # WeasyPrint writes the skeleton with it
        version("pypdf"),
        spec.html,
        _files_digest(spec.roots),
        spec.extra,
        spec.forms,
        sorted(spec.open_slots),
        _fonts_state(),
    ]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]


def load(name: str, spec: SkeletonSpec | None = None) -> tuple[Skeleton, Fonts] | None:
    """The skeleton and fonts kept under `name` (made from `spec`, which they are checked
    against when given), or None: not there, or not whole, or not what a laid-out skeleton can
    be (then it is removed, to be made again)."""
    where = trusted_folder()
    entry = _entry_folder(where, name) if where is not None else None
    if entry is None:
        return None
    try:
        meta = json.loads(_own_file(entry / "meta.json"))
        if not isinstance(meta, dict) or meta.get("key") != name:
            raise ValueError("the entry was made for another key")
        if meta.get("digest") != _digest(meta):
            raise ValueError("meta.json was changed")
        files = {file: _own_file(entry / file) for file in meta["sha256"]}
        for file, data in files.items():
            if hashlib.sha256(data).hexdigest() != meta["sha256"][file]:
                raise ValueError(f"{file} was changed")
        skeleton = Skeleton(
            form=meta["form"],
            template=Template(**_from_json(meta["template"], files)),
            kit=ClassKit(**_from_json(meta["kit"], files)),
            places=tuple(_place(p) for p in meta["places"]),
            drawing=Drawing(*meta["drawing"]) if meta["drawing"] else None,
            pages=meta["pages"],
            title=meta["title"],
            open=frozenset(meta["open"]),
        )
        fonts = Fonts(
            faces={
                _face(face): Glyphs({ch: (n, cid, w) for ch, (n, cid, w) in glyphs.items()})
                for face, glyphs in meta["faces"]
            },
        )
        check_entry(skeleton, fonts, spec)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        shutil.rmtree(entry, ignore_errors=True)  # a damaged entry is made again
        return None
    with suppress(OSError):  # another run may have just pruned it: no matter
        os.utime(entry)
    return skeleton, fonts


def _digest(meta: dict[str, Any]) -> str:
    """The digest of an entry's description (its files' digests included), but for itself."""
    rest = {k: v for k, v in meta.items() if k != "digest"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _number(value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a number: {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}…{high}")
    return float(value)


def _index(value: object, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise ValueError(f"{value!r} is not an index below {size}")
    return value


_PDF_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,127}")
"""A font resource's name, as written into every stamped page's operators."""


_FRAME = re.compile(r"(-?\d+(\.\d+)? ){5}-?\d+(\.\d+)?")
"""A `cm` operator's operands, as a page cut's frames are written into every stamped page."""


def _objects_where_said(head: bytes, xref: bytes, size: int) -> None:
    """Every object the cross-reference entries place in `head` starts there."""
    if len(xref) != 7 * size:
        raise ValueError("the cross-reference entries are not one per object")
    for n in range(size):
        kind, offset = xref[7 * n], int.from_bytes(xref[7 * n + 1 : 7 * n + 5], "big")
        if kind == 1 and not head.startswith(b"%d 0 obj" % n, offset):
            raise ValueError(f"object {n} is not where the template says")
        if kind not in (0, 1, 2):
            raise ValueError(f"object {n}'s cross-reference entry")


def _check_cut(cut: PageCut, size: int, slots: int) -> None:
    _index(cut.number, size)
    if len(cut.bounds) != len(cut.keys) + 2 or len(cut.frames) != len(cut.keys):
        raise ValueError("a page cut's pieces, inserts and frames")
    if cut.bounds[0] != 0 or cut.bounds[-1] != len(cut.data):
        raise ValueError("a page cut's bounds")
    for low, high in zip(cut.bounds, cut.bounds[1:], strict=False):
        _index(low, high + 1)
    for key in cut.keys:
        if key != DRAWING:
            _index(key, slots)
    for frame in cut.frames:
        if not (isinstance(frame, str) and _FRAME.fullmatch(frame)):
            raise ValueError(f"a page cut's frame {frame!r}")


def check_entry(skeleton: Skeleton, fonts: Fonts, spec: SkeletonSpec | None = None) -> None:
    """ValueError unless every field of an entry is one a laid-out skeleton can have: whatever
    stamping indexes is in range (pages, slots, faces, glyphs, the template's and the class
    kit's objects, their page cuts), every object is where the template says, every place lies
    on a page, every name and number written into a PDF is a plain one, and, given the spec it
    was made from, its slots and form are the spec's."""
    pages = _index(skeleton.pages, MAX_PAGES + 1)
    template, kit = skeleton.template, skeleton.kit
    if pages < 1 or not isinstance(skeleton.title, str):
        raise ValueError("pages or title")
    if len(template.pages) != pages or len(kit.pages_cut) != pages:
        raise ValueError("the template's pages are not the skeleton's")
    places = len(skeleton.places)
    size = _index(template.size, 1_000_000)
    for n in (template.root, template.info):
        _index(n, size)
    _objects_where_said(template.head, template.xref, size)
    for cut in template.pages:
        _check_cut(cut, size, places)
    for pair in template.info_base:
        if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ValueError("the document information")
    if template.metadata is not None:
        _index(template.metadata[0], size)
    if template.field is not None:
        _index(template.field[0], size)
        if FIELD_MARK not in template.field[1]:
            raise ValueError("the form field has no place for the code")
    if template.figure is not None:
        _index(template.figure[0], size)
        if ALT_MARK.encode() not in template.figure[1]:
            raise ValueError("the drawing has no place for its words")
    kit_size = _index(kit.size, 1_000_000)
    _objects_where_said(kit.head, kit.xref, kit_size)
    for n in (kit.pages, kit.parent_tree, kit.document, kit.info, kit.root, kit.struct_root):
        _index(n, kit_size)
    locals_ = kit.holder
    for n in (kit.part, *kit.page_objects, *kit.arrays):
        _index(n, locals_)
    if len(kit.page_objects) != pages or len(kit.arrays) != pages:
        raise ValueError("the class kit's pages are not the skeleton's")
    for position, offset in enumerate(kit.offsets):
        _index(offset, len(kit.block) * 2 + 1)
        if position and offset <= kit.offsets[position - 1]:
            raise ValueError("the class kit's packed objects")
    for local, cut in kit.pages_cut:
        _index(local, locals_)
        _check_cut(cut, 1_000_000, places)
    if kit.figure is not None:
        _index(kit.figure[0], locals_)
    if spec is not None:
        if spec.forms != skeleton.form or skeleton.open != spec.open_slots:
            raise ValueError("not the spec's form or open slots")
        slots = {int(n) for n in re.findall(r'data-slot="(\d+)"', spec.html)}
    faces = set(fonts.faces)
    for place in skeleton.places:
        _index(place.page, pages)
        if spec is not None and place.slot not in slots:
            raise ValueError(f"slot {place.slot} is not in the skeleton")
        _index(place.slot, 100_000)
        for value in (place.left, place.limit):
            _number(value, -MAX_PX, MAX_PX)
        _number(place.width, 0, MAX_PX)
        _number(place.baseline, 0, MAX_PX)
        _number(place.size, 0.1, 1000)
        if place.align not in ("left", "right", "center") or place.face not in faces:
            raise ValueError("a place's alignment or face")
        if len(place.color) != 3:
            raise ValueError("a place's colour")
        for channel in place.color:
            _number(channel, 0, 1)
    if skeleton.drawing is not None:
        drawing = skeleton.drawing
        _index(drawing.page, pages)
        _number(drawing.left, -MAX_PX, MAX_PX)
        _number(drawing.top, 0, MAX_PX)
        _number(drawing.scale, 1e-3, 1e3)
        if not set(DRAWING_FACES) <= faces:
            raise ValueError("the drawing's faces")
    for glyphs in fonts.faces.values():
        for ch, (resource, cid, width) in glyphs.chars.items():
            if len(ch) != 1 or not _PDF_NAME.fullmatch(resource):
                raise ValueError(f"glyph {ch!r}")
            _index(cid, 0x10000)
            _number(width, -10_000, 10_000)


def store(name: str, skeleton: Skeleton, fonts: Fonts) -> None:
    """Keep a skeleton under `name` (written whole or not at all, private to the user); a cache
    that cannot be written is no error, only slower next time."""
    where = trusted_folder()
    if where is None or not _ENTRY.fullmatch(name):
        return
    files: dict[str, bytes] = {}
    meta: dict[str, Any] = {
        "key": name,
        "form": skeleton.form,
        "template": _to_json(vars(skeleton.template), "template", files),
        "kit": _to_json(vars(skeleton.kit), "kit", files),
        "places": [_place_json(p) for p in skeleton.places],
        "drawing": list(vars(skeleton.drawing).values()) if skeleton.drawing else None,
        "pages": skeleton.pages,
        "title": skeleton.title,
        "open": sorted(skeleton.open),
        "faces": [
            [_face_json(face), {ch: list(g) for ch, g in glyphs.chars.items()}]
            for face, glyphs in sorted(fonts.faces.items(), key=lambda item: repr(item[0]))
        ],
    }
    # Each file's digest, and the digest of the whole: an entry changed in any way is made again.
    meta["sha256"] = {file: hashlib.sha256(data).hexdigest() for file, data in files.items()}
    meta["digest"] = _digest(meta)
    work = None
    try:
        work = Path(tempfile.mkdtemp(dir=where, prefix=".new-"))  # 0700
        _write_private(work / MARK, b"a bpquiz skeleton, kept between runs\n")
        for file, data in files.items():
            _write_private(work / file, data)
        _write_private(work / "meta.json", json.dumps(meta, ensure_ascii=False).encode())
        work.rename(where / name)
        _prune(where)
    except OSError:  # a full disk, a read-only folder, or another run kept it meanwhile
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _write_private(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
        handle.write(data)


def _prune(where: Path) -> None:
    """Remove the least recently used entries beyond KEEP; nothing that is not an entry."""
    by_age = sorted(entries(where), key=lambda p: p.stat().st_mtime_ns)
    for old in by_age[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def _to_json(value: Any, path: str, files: dict[str, bytes]) -> Any:
    """A template's or class kit's fields as JSON: bytes go to a file of their own (named by
    `path`), page cuts are marked as such."""
    if isinstance(value, bytes):
        files[path] = value
        return {"file": path}
    if isinstance(value, PageCut):
        return {"cut": {k: _to_json(v, f"{path}.{k}", files) for k, v in vars(value).items()}}
    if isinstance(value, dict):
        return {k: _to_json(v, f"{path}.{k}", files) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_to_json(v, f"{path}.{k}", files) for k, v in enumerate(value)]
    return value


def _json_value(value: Any, files: dict[str, bytes]) -> Any:
    if isinstance(value, dict) and set(value) == {"file"}:
        return files[value["file"]]
    if isinstance(value, dict) and set(value) == {"cut"}:
        return PageCut(**{k: _json_value(v, files) for k, v in value["cut"].items()})
    if isinstance(value, list):
        return tuple(_json_value(v, files) for v in value)
    if isinstance(value, dict):
        raise ValueError("an unknown value in the template")
    return value


def _from_json(data: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    return {k: _json_value(v, files) for k, v in data.items()}


def _face_json(face: Face) -> list[object]:
    return [list(face.family), face.weight, face.style, face.stretch]


def _face(data: list) -> Face:
    return Face(tuple(data[0]), int(data[1]), str(data[2]), str(data[3]))


def _place_json(place: Place) -> dict[str, object]:
    fields = dict(vars(place))
    fields["face"] = _face_json(place.face)
    fields["color"] = list(place.color)
    return fields


def _place(data: dict) -> Place:
    return Place(**{**data, "face": _face(data["face"]), "color": tuple(data["color"])})
