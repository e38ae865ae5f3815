"""The texts that vary between the variants of a preset, as the content side hands them over.

The context builders (`bpquiz.sheets.context`) and the drawing (`bpquiz.sheets.diagram`) pass every
such text (a given number, a worked line, a code, a student's name, a label in the drawing) through
a `Texts`: the plain one writes each text as itself; the stamping layer's (`bpquiz.sheets.stamping
.slots.Slots`) writes an empty slot instead and keeps the text, to stamp it into a layout made
once. This module is all the content side knows of that: it never imports the stamping package.

`room_for` says how much room a text needs in every variant of a preset (its widest form), so that
content laid out once fits them all; content sizes by it too, so both ways give one layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SvgText:
    """A variable text in the drawing, in SVG units: anchor point on the baseline."""

    x: float
    y: float
    text: str
    anchor: str
    size: float
    fill: str
    bold: bool


class Texts:
    """Variable texts written as themselves (a document rendered whole)."""

    laid_out_once = False
    """Whether the texts are left out of the layout, to be written into it afterwards."""

    def __call__(self, text: str, kind: str = "number", like: str | None = None) -> str:
        """The text as the template gets it. `kind` says what it may hold (see `room_for`);
        `like` what to reserve room for when that is not the text itself (one that may be empty)."""
        return text

    def draw(self, item: SvgText) -> None:
        """Take a text of the drawing, which left it out (only when `laid_out_once`)."""
        raise NotImplementedError("texts written as themselves are drawn by the drawing")

    def describe(self, text: str) -> str:
        """The drawing's alternative text (the network in words, numbers included) as the SVG's
        `aria-label` gets it: as itself, or, laid out once, a stand-in for each variant's own."""
        return text


PLAIN = Texts()


_NUMBER = re.compile(r"−?\d+(?:\.(\d+))?")
_TERM = re.compile(r"\(−\d+(?:\.(\d+))?\)|−?\d+(?:\.(\d+))?")
"""A number in a worked line: a negative one is bracketed."""


def _widest_number(match: re.Match[str], brackets: bool) -> str:
    digits = max(len(match.group(0).strip("()−").split(".")[0]), 1)
    decimals = max(len(match.group(match.lastindex or 0) or "") if match.lastindex else 0, 2)
    number = "−" + "0" * digits + "." + "0" * decimals
    return f"({number})" if brackets else number


def room_for(text: str, kind: str) -> str:
    """A text at least as wide as any variant's text of this kind that looks like `text`, and the
    same for every variant of a preset, so that a layout made once does not depend on the seed:

    - "number": each number with a sign, one digit before the point and two after at least;
    - "working": the same, each number bracketed (a worked line brackets negative numbers);
    - "code": as many W as characters (a code is set in a monospaced font: all are as wide);
    - "name": the text itself (the class's widest is reserved);
    - "open": nothing: the slot ends its line and may run to the line's end (a note).
    """
    if kind == "number":
        return _NUMBER.sub(lambda m: _widest_number(m, False), text)
    if kind == "working":
        widest = _TERM.sub(lambda m: _widest_number(m, True), text)
        # σ(−0.39) reads as a bracketed number, σ(0.33) does not: the same once widest.
        return re.sub(r"\(\((−0+\.0+)\)\)", r"(\1)", widest)
    if kind == "code":
        return "W" * len(text)
    if kind == "open":
        return ""
    return text


_NARROW = set(" .,:;·'|!()[]ijl1/\u2009")
_WIDE = set("−+=×<>~mwMW@%—…")


def estimated_width(text: str) -> float:
    """A rough width, in digit widths, only to pick the widest of several texts or to decide a
    line break; exact widths are measured after layout."""
    return sum(0.5 if ch in _NARROW else 1.3 if ch in _WIDE else 1.0 for ch in text)
