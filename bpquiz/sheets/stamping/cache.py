"""Skeletons kept between runs: a preset's layout is made once per machine.

A skeleton (bpquiz.sheets.stamping.layout) does not depend on the seed: its slots reserve the widest form of their
texts. So `bpquiz generate` lays out each preset's sheet and solution once, keeps them here, and
later runs only stamp numbers into them, without loading WeasyPrint at all.

An entry is found by a key over everything that shapes the layout: the skeleton HTML (templates,
texts and options included), the template folders' files, the characters to stamp, the versions of
bpquiz and WeasyPrint, and the machine's font configuration. The folder is `$BPQUIZ_CACHE`, else
`$XDG_CACHE_HOME/bpquiz`, else `~/.cache/bpquiz`; `BPQUIZ_CACHE=off` turns the cache off. A cached
skeleton gives byte for byte the files a fresh one would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket

import bpquiz
from bpquiz.sheets.stamping.assemble import PageCut, Template
from bpquiz.sheets.stamping.classfile import ClassKit
from bpquiz.sheets.stamping.fonts import Face, Fonts, Glyphs
from bpquiz.sheets.stamping.layout import Drawing, Place, Skeleton, SkeletonSpec

FORMAT = 9
"""Bump when the entry format or the way skeletons are made changes."""
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


def _files_digest(roots: Sequence[Path]) -> list[tuple[str, str]]:
    out = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            out.append((str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return out


def _fonts_state() -> list[tuple[str, int, int]]:
    state = []
    for fontconfig in FONT_CACHES:
        if fontconfig.is_dir():
            for path in sorted(fontconfig.iterdir()):
                stat = path.stat()
                state.append((str(path), stat.st_size, stat.st_mtime_ns))
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


def load(name: str) -> tuple[Skeleton, Fonts] | None:
    """The skeleton and fonts kept under `name`, or None."""
    where = folder()
    entry = where / name if where else None
    if entry is None or not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        if meta["key"] != name:
            raise ValueError("the entry was made for another key")
        for file, digest in meta["sha256"].items():
            if hashlib.sha256((entry / file).read_bytes()).hexdigest() != digest:
                raise ValueError(f"{file} was changed")
        files = {file: (entry / file).read_bytes() for file in meta["sha256"]}
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
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(entry, ignore_errors=True)  # a damaged entry is made again
        return None
    with suppress(OSError):  # another run may have just pruned it: no matter
        os.utime(entry)
    return skeleton, fonts


def store(name: str, skeleton: Skeleton, fonts: Fonts) -> None:
    """Keep a skeleton under `name` (written whole or not at all); a cache that cannot be written
    is no error, only slower next time."""
    where = folder()
    if where is None:
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
    # Each file's digest: an entry whose files were changed or mixed up is made again.
    meta["sha256"] = {file: hashlib.sha256(data).hexdigest() for file, data in files.items()}
    work = None
    try:
        where.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=where, prefix=".new-"))
        for file, data in files.items():
            (work / file).write_bytes(data)
        (work / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        work.rename(where / name)
        _prune(where)
    except OSError:  # a full disk, a read-only folder, or another run kept it meanwhile
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _prune(where: Path) -> None:
    entries = sorted(
        (
            p
            for p in where.iterdir()
            if p.is_dir() and p.name not in ("jinja",) and p.name[0] != "."
        ),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in entries[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def _to_json(value: Any, path: str, files: dict[str, bytes]) -> Any:
    """A template's or kit's fields as JSON: bytes go to a file of their own (named by `path`),
    page cuts are marked as such."""
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


# --- compiled templates -------------------------------------------------------------------------


def compiled_templates() -> jinja2.BytecodeCache | None:
    """Compiled templates kept beside the skeletons: compiling them is a tenth of a second of every
    run. Jinja checks each against its template's source."""
    where = folder()
    return None if where is None else _kept_templates(where / "jinja")


@cache
def _kept_templates(where: Path) -> jinja2.BytecodeCache | None:
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _KeptTemplates(str(where))


class _KeptTemplates(jinja2.FileSystemBytecodeCache):
    """A folder of compiled templates that is never an error: unreadable or unwritable, the
    templates are compiled again."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with suppress(OSError):
            super().dump_bytecode(bucket)
