"""The sheets' templates: where they are found, the Jinja environment, and the stylesheet's numbers.

A teacher's template folder (`--templates DIR`) comes first and the shipped templates fill in what
it lacks. The stylesheet is the one home of the layout's numbers: Python reads those it needs
(`layout`) from its CSS variables, so an edited stylesheet changes both sides alike.

An edited template is the teacher's, but it may come from anywhere (a colleague, a forum): it runs
in Jinja's sandbox, so it can reach no Python object's insides, and its includes are read only
from the template folders, without following a link out of them. With the asset fetcher of
bpquiz.sheets.pdf, rendering reads no file other than the templates' own.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

import bpquiz
from bpquiz.errors import BpquizError
from bpquiz.files import Refused, read_limited, write_atomic

STYLESHEET = "bpquiz.css"
TEMPLATE_FILES = (
    "base.html",
    "macros.html",
    "instructions.html",
    "sheet.html",
    "solution.html",
    "feedback.html",
    "summary.html",
    "practice.html",
    STYLESHEET,
)
MAX_TEMPLATE_BYTES = 1 << 20
"""A template or the stylesheet: the shipped ones are a few kB each."""
MAX_FILE_BYTES = 16 << 20
"""Any file of a template folder (an image or a font a stylesheet uses)."""
MAX_FILES = 200
"""Files in a template folder, subfolders included: it is hashed for the skeleton cache's key."""


class RenderError(BpquizError):
    """A problem with the sheets' options or templates that the user can fix."""


def default_templates() -> Path:
    """The templates shipped in the wheel (bpquiz/templates), or the repository's in a checkout."""
    packaged = Path(bpquiz.__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(bpquiz.__file__).parent.parent / "templates"


def template_roots(custom: Path | None) -> list[Path]:
    """Where templates are looked up: the teacher's folder first, then the defaults."""
    # Absolute, because WeasyPrint's base URL must be a file URI (a relative --templates was not).
    return ([custom.resolve()] if custom is not None else []) + [default_templates()]


def folder_files(root: Path) -> list[Path]:
    """Every file of a template folder, sorted, each checked without being read: a regular file
    of at most MAX_FILE_BYTES, inside the folder once links are followed; at most MAX_FILES.
    RenderError (naming the file) otherwise: a link out of the folder, a FIFO, a 1.5 GB file."""
    real_root = Path(os.path.realpath(root))
    found: list[Path] = []
    seen: set[Path] = set()

    def visit(folder: Path) -> None:
        real = Path(os.path.realpath(folder))
        if real in seen:
            return  # a link to a folder already visited
        seen.add(real)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path = Path(entry.path)
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(real_root):
                raise RenderError(
                    f"{path} is a link out of the template folder {root}: templates are read "
                    "only from their folder; copy the file in"
                )
            try:
                info = os.stat(target)
            except OSError as exc:
                raise RenderError(f"{path}: cannot read it ({exc.strerror or exc})") from None
            if stat.S_ISDIR(info.st_mode):
                visit(path)
            elif not stat.S_ISREG(info.st_mode):
                raise RenderError(f"{path} is not a regular file (a pipe or a device)")
            elif info.st_size > MAX_FILE_BYTES:
                raise RenderError(
                    f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB: not a template or an asset "
                    "of one; keep only the templates and what they use in the folder"
                )
            else:
                found.append(path)
                if len(found) > MAX_FILES:
                    raise RenderError(
                        f"{root} holds more than {MAX_FILES} files: keep only the templates and "
                        "what they use in the folder"
                    )

    try:
        visit(root)
    except OSError as exc:
        raise RenderError(f"{root}: cannot read the folder ({exc.strerror or exc})") from None
    return found


def check_templates(custom: Path | None) -> None:
    """Raise RenderError for a template folder that can't be used."""
    if custom is None:
        return
    if not custom.is_dir():
        raise RenderError(f"{custom} is not a folder; write one with `bpquiz templates DIR`")
    folder_files(custom)
    for name in TEMPLATE_FILES:
        if (custom / name).exists():
            _read_template(custom / name)  # a template the folder lacks comes from the defaults
    layout(custom)  # the stylesheet's numbers Python reads


def _read_template(path: Path) -> str:
    try:
        return read_limited(path, MAX_TEMPLATE_BYTES, "a template").decode("utf-8")
    except Refused as exc:
        raise RenderError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise RenderError(f"{path} is not UTF-8 text: save it as UTF-8") from None


def copy_templates(destination: Path, force: bool = False) -> list[Path]:
    """Write a copy of the default templates into `destination` for a teacher to edit."""
    source = default_templates()
    targets = [destination / name for name in TEMPLATE_FILES]
    existing = [t for t in targets if t.exists() or t.is_symlink()]
    if existing and not force:
        raise RenderError(
            f"{existing[0]} already exists. Use --force to overwrite, or choose another folder."
        )
    for name, target in zip(TEMPLATE_FILES, targets, strict=True):
        # Atomically, as a new file: a link there is replaced, never written through.
        write_atomic(target, (source / name).read_bytes())
    return targets


class FolderLoader(jinja2.BaseLoader):
    """Templates from the template folders only: a name is looked up in each folder in turn, and
    read only when it is a regular file of at most MAX_TEMPLATE_BYTES inside that folder once
    links are followed ('..' never gets out: Jinja refuses it in a name)."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(os.path.realpath(root)) for root in roots]

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = jinja2.loaders.split_template_path(template)
        for root in self.roots:
            path = root.joinpath(*pieces)
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(root):
                raise RenderError(f"{path} is a link out of the template folder {root}: not read")
            if not (real.exists() or real.is_symlink()):
                continue
            source = _read_template(real)
            return source, str(real), partial(_unchanged, real, os.stat(real).st_mtime_ns)
        raise jinja2.TemplateNotFound(template)


def _unchanged(path: Path, mtime: int) -> bool:
    try:
        return os.stat(path).st_mtime_ns == mtime
    except OSError:
        return False


@cache
def environment(custom: Path | None) -> jinja2.Environment:
    """The Jinja environment of these templates: sandboxed, reading only the template folders."""
    # Autoescaping for every template: titles and roster names are user text.
    return SandboxedEnvironment(
        loader=FolderLoader(template_roots(custom)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, context: dict, custom: Path | None) -> str:
    """A template rendered with `context` (RenderError, naming the file, when it fails)."""
    try:
        return environment(custom).get_template(name).render(context)
    except jinja2.sandbox.SecurityError as exc:
        raise RenderError(
            f"the {name.removesuffix('.html')} template tried something a template may not "
            f"({exc}): templates only show the data they are given"
        ) from None
    except jinja2.TemplateError as exc:
        where = (
            f" ({exc.filename}:{exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
        )
        raise RenderError(
            f"the {name.removesuffix('.html')} template failed{where}: {exc}"
        ) from None


# --- the layout's numbers, from the stylesheet --------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The numbers of the stylesheet that Python needs to lay out its own parts."""

    cells_per_row: int
    """Answer boxes side by side on the problem sheet."""
    drawing_width: float
    """The widest a network drawing may be, in CSS px."""
    note_size: float
    """A note's font size relative to the body text's (a worked step's note)."""


_ROOT = re.compile(r":root\s*\{([^}]*)\}")
_VARIABLE = re.compile(r"(--[\w-]+)\s*:\s*([^;]+);")
_LENGTH = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(px|pt|mm|cm|in)?")
_PX = {"px": 1.0, "pt": 4 / 3, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0, None: 1.0}


def _variables(stylesheet: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in _ROOT.findall(stylesheet):
        found.update((name, value.strip()) for name, value in _VARIABLE.findall(block))
    return found


class _Variables:
    """The stylesheet's variables that Python reads, each checked (RenderError naming the file
    and the variable): present, of the right type, and positive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values = _variables(_read_template(path))

    def _value(self, name: str) -> str:
        if name not in self.values:
            raise RenderError(
                f"{self.path}: {name} is missing from :root (bpquiz reads it to lay out the "
                "sheets); compare the file with `bpquiz templates`"
            )
        return self.values[name]

    def whole(self, name: str) -> int:
        value = self._value(name)
        if not (value.isascii() and value.isdigit() and int(value) > 0):
            raise RenderError(
                f'{self.path}: {name} must be a positive whole number, got "{value[:30]}"'
            )
        return int(value)

    def length(self, name: str) -> tuple[float, str | None]:
        """A length as its number and unit."""
        value = self._value(name)
        match = _LENGTH.fullmatch(value)
        if not match or float(match[1]) <= 0:
            raise RenderError(
                f"{self.path}: {name} must be a positive length like 9.5pt (px, pt, mm, cm or "
                f'in), got "{value[:30]}"'
            )
        return float(match[1]), match[2]

    def px(self, name: str) -> float:
        number, unit = self.length(name)
        return number * _PX[unit]

    def ratio(self, small: str, large: str) -> float:
        (a, unit_a), (b, unit_b) = self.length(small), self.length(large)
        return a / b if unit_a == unit_b else a * _PX[unit_a] / (b * _PX[unit_b])


@cache
def layout(custom: Path | None) -> Layout:
    """The layout's numbers, from the stylesheet the sheets use: an edited one (which replaces
    the defaults' whole) or the defaults'."""
    edited = custom / STYLESHEET if custom is not None else None
    css = _Variables(
        edited if edited is not None and edited.exists() else default_templates() / STYLESHEET
    )
    return Layout(
        cells_per_row=css.whole("--cells-per-row"),
        drawing_width=css.px("--drawing-width"),
        note_size=css.ratio("--small-size", "--body-size"),
    )
