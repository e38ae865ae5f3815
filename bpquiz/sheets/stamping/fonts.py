"""Fonts for the stamped texts: the very fonts (and subsets) WeasyPrint chose for each slot.

`font_pages_html` is a page per face with every character the stamped texts may use; WeasyPrint
writes those pages with the skeleton, and `read_glyphs` reads back each glyph's font, id and
width (with pypdf), so that a stamped text is set exactly as WeasyPrint would set it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Face:
    """A font as CSS names it; WeasyPrint picks the same file for the same face."""

    family: tuple[str, ...]
    weight: int
    style: str
    stretch: str

    def css(self) -> str:
        generic = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}
        names = ", ".join(
            f if f in generic else "'" + f.replace("'", "").replace('"', "") + "'"
            for f in self.family
        )
        return (
            f"font-family: {names}; font-weight: {self.weight}; font-style: {self.style}; "
            f"font-stretch: {self.stretch}"
        )


# --- fonts for the stamped text ---------------------------------------------------------


@dataclass(frozen=True)
class Glyphs:
    """One face's glyphs as WeasyPrint subset them: character → (font resource, glyph id, width)."""

    chars: Mapping[str, tuple[str, int, float]]


@dataclass
class Fonts:
    """Each face's glyphs, in fonts of the skeleton's own PDF (its font pages)."""

    faces: dict[Face, Glyphs]

    def width(self, face: Face, size: float, text: str) -> float | None:
        """The advance of `text` in px, or None when a character has no glyph."""
        glyphs = self.faces[face].chars
        total = 0.0
        for ch in text:
            if ch not in glyphs:
                return None
            total += glyphs[ch][2]
        return total * size / 1000


def font_pages_html(chars: Mapping[Face, set[str]]) -> tuple[str, list[Face]]:
    """A document of a page per face holding its characters, and the faces in page order. It is
    written together with the skeleton (bpquiz.sheets.stamping.layout), so that each font is
    embedded once, subset for the skeleton's text and the stamped texts alike."""
    faces = sorted(chars, key=repr)
    body = "".join(
        f'<p style="{face.css()}; font-size: 10px; white-space: pre; break-after: page; '
        'font-kerning: none; font-variant-ligatures: none">'
        f"{escape(''.join(sorted(chars[face] | {' '})), quote=False)}</p>"
        for face in faces
    )
    return f'<!DOCTYPE html><html lang="en"><body>{body}</body></html>', faces


def read_glyphs(pages: Sequence[Any], faces: Sequence[Face]) -> Fonts:
    """Each face's glyphs from its font page (pypdf pages): the fonts its text uses there."""
    found: dict[Face, Glyphs] = {}
    for face, page in zip(faces, pages, strict=True):
        table: dict[str, tuple[str, int, float]] = {}
        # The pages share one resource dictionary: a page's own fonts are those its text uses.
        used = sorted(set(re.findall(rb"/(\S+) [\d.]+ Tf", page.get_contents().get_data())))
        for name in (n.decode() for n in used):
            font = page["/Resources"]["/Font"][f"/{name}"].get_object()
            widths = _widths(font["/DescendantFonts"][0].get_object()["/W"])
            for cid, text in _to_unicode(font["/ToUnicode"].get_object().get_data()).items():
                if len(text) == 1 and text not in table:
                    table[text] = (name, cid, widths.get(cid, 0.0))
        found[face] = Glyphs(table)
    return Fonts(found)


def _widths(array: Sequence[Any]) -> dict[int, float]:
    widths: dict[int, float] = {}
    k = 0
    while k < len(array):
        first = int(array[k])
        if isinstance(array[k + 1], list):
            for offset, w in enumerate(array[k + 1]):
                widths[first + offset] = float(w)
            k += 2
        else:
            last, width = int(array[k + 1]), float(array[k + 2])
            widths.update(dict.fromkeys(range(first, last + 1), width))
            k += 3
    return widths


_HEX = r"<([0-9a-fA-F]+)>"


def _unicode(hexits: str) -> str:
    return bytes.fromhex(hexits).decode("utf-16-be", errors="replace")


def _to_unicode(cmap: bytes) -> dict[int, str]:
    text = cmap.decode("latin-1")
    mapping: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for cid, uni in re.findall(rf"{_HEX}\s*{_HEX}", block):
            mapping[int(cid, 16)] = _unicode(uni)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, uni in re.findall(rf"{_HEX}\s*{_HEX}\s*{_HEX}", block):
            start = int(uni, 16)
            for offset, cid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[cid] = chr(start + offset)
    return mapping
