"""The sheets' templates: where they are found, the Jinja environment, and the stylesheet's numbers.

A teacher's template folder (`--templates DIR`) comes first and the shipped templates fill in what
it lacks. The stylesheet is the one home of the layout's numbers: Python reads those it needs
(`layout`) from its CSS variables, so an edited stylesheet changes both sides alike.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

import bpquiz
from bpquiz.errors import BpquizError

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


def check_templates(custom: Path | None) -> None:
    """Raise RenderError for a template folder that can't be used."""
    if custom is None:
        return
    if not custom.is_dir():
        raise RenderError(f"{custom} is not a folder; write one with `bpquiz templates DIR`")
    for name in TEMPLATE_FILES:
        path = custom / name
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RenderError(f"{path} is not UTF-8 text: save it as UTF-8") from None
        except OSError:
            continue  # a template the folder does not have comes from the defaults


def copy_templates(destination: Path, force: bool = False) -> list[Path]:
    """Write a copy of the default templates into `destination` for a teacher to edit."""
    source = default_templates()
    targets = [destination / name for name in TEMPLATE_FILES]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise RenderError(
            f"{existing[0]} already exists. Use --force to overwrite, or choose another folder."
        )
    destination.mkdir(parents=True, exist_ok=True)
    for name, target in zip(TEMPLATE_FILES, targets, strict=True):
        shutil.copyfile(source / name, target)
    return targets


@cache
def environment(
    custom: Path | None, compiled: jinja2.BytecodeCache | None = None
) -> jinja2.Environment:
    """The Jinja environment of these templates; `compiled` may keep compiled templates."""
    # Autoescaping for every template: titles and roster names are user text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(root) for root in template_roots(custom)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=compiled,
    )


def render_template(
    name: str, context: dict, custom: Path | None, compiled: jinja2.BytecodeCache | None = None
) -> str:
    """A template rendered with `context` (RenderError, naming the file, when it fails)."""
    try:
        return environment(custom, compiled).get_template(name).render(context)
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
_LENGTH = re.compile(r"([\d.]+)\s*(px|pt|mm|cm|in)?")
_PX = {"px": 1.0, "pt": 4 / 3, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0, None: 1.0}


def _variables(stylesheet: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in _ROOT.findall(stylesheet):
        found.update((name, value.strip()) for name, value in _VARIABLE.findall(block))
    return found


def _length(value: str) -> tuple[float, str | None]:
    match = _LENGTH.fullmatch(value.strip())
    if not match:
        raise RenderError(f"{STYLESHEET}: expected a length like 9.5pt, got {value[:30]!r}")
    return float(match[1]), match[2]


def _px(value: str) -> float:
    number, unit = _length(value)
    return number * _PX[unit]


def _ratio(small: str, large: str) -> float:
    (a, unit_a), (b, unit_b) = _length(small), _length(large)
    return a / b if unit_a == unit_b else a * _PX[unit_a] / (b * _PX[unit_b])


@cache
def layout(custom: Path | None) -> Layout:
    """The layout's numbers: the defaults' stylesheet, overridden by an edited one's variables."""
    variables: dict[str, str] = {}
    for root in reversed(template_roots(custom)):
        path = root / STYLESHEET
        if path.is_file():
            variables.update(_variables(path.read_text(encoding="utf-8")))
    try:
        return Layout(
            cells_per_row=max(1, int(variables["--cells-per-row"])),
            drawing_width=_px(variables["--drawing-width"]),
            note_size=_ratio(variables["--small-size"], variables["--body-size"]),
        )
    except (KeyError, ValueError) as exc:
        raise RenderError(f"{STYLESHEET}: the variable {exc} is missing or not a number") from None
