"""Characters that no installed font has: printed, they would be empty boxes.

WeasyPrint falls back through every installed font for a character its font lacks (fontconfig
chooses), and draws a box where none has it, without a word. So before a class set is printed,
the texts a teacher brings (roster names, the title, course and date) are checked against the
characters the installed fonts cover, as fontconfig lists them (`fc-list`), and each missing one
is named, with the student whose name has it.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache

CJK_FONTS = "fonts-noto-cjk or fonts-wqy-microhei"
"""Debian's packages of fonts for Chinese, Japanese and Korean names."""


@cache
def covered() -> tuple[tuple[int, int], ...] | None:
    """The code point ranges the installed fonts cover, merged (None: fontconfig's fc-list is not
    there to ask, and nothing is checked)."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listed = subprocess.run(
            ["fc-list", "--format", "%{charset}\n"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    ranges: list[tuple[int, int]] = []
    for token in listed.split():
        first, _, last = token.partition("-")
        try:
            ranges.append((int(first, 16), int(last or first, 16)))
        except ValueError:
            continue
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _has(ranges: Sequence[tuple[int, int]], point: int) -> bool:
    low, high = 0, len(ranges)
    while low < high:
        middle = (low + high) // 2
        if ranges[middle][1] < point:
            low = middle + 1
        else:
            high = middle
    return low < len(ranges) and ranges[low][0] <= point


def missing(text: str) -> list[str]:
    """The characters of `text` that no installed font has, each once, in order (marks, format
    and space characters are not drawn on their own and are left out)."""
    ranges = covered()
    if ranges is None:
        return []
    out: list[str] = []
    for ch in text:
        if ch in out or ch.isspace() or unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc"):
            continue
        if not _has(ranges, ord(ch)):
            out.append(ch)
    return out


def _named(chars: Iterable[str]) -> str:
    return ", ".join(f"'{ch}' (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')})" for ch in chars)


def font_warnings(students: Iterable[dict[str, str] | None], headers: dict[str, str]) -> list[str]:
    """One warning per student whose name, and per header text (title, course, date) that, has a
    character no installed font has."""
    students = list(students)
    texts = [*headers.values(), *(s.get("name", "") for s in students if s)]
    if all(text.isascii() for text in texts):
        return []  # no need to ask fontconfig (a subprocess) about what every font has
    warnings = []
    advice = f"install a font that has it (for Chinese, Japanese and Korean: {CJK_FONTS})"
    for what, text in headers.items():
        if chars := missing(text):
            warnings.append(f"no installed font has {_named(chars)} in the {what}: {advice}")
    for student in students:
        if student and (chars := missing(student.get("name", ""))):
            warnings.append(
                f"no installed font has {_named(chars)} in the name of student "
                f"{student.get('id', '')} ({student['name']}): it prints as a box; {advice}"
            )
    return warnings
