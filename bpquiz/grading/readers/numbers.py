"""Numbers the way people type them: `0.7514`, `.75`, `7.514e-1`, `0,7514`, `−0.25`, and why not.

A problem with one answer only makes that answer invalid (NotANumber carries the reason, shown to
the student); the rest of the sheet is still graded.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bpquiz.maths.rounding import Mode

MAX_NUMBER_TEXT = 64
MINUS_SIGNS = "\u2212\u2012\u2013\ufe63\uff0d"
"""Copying from a PDF or a word processor turns '-' into one of these (U+2212 most often)."""
_AS_ASCII_MINUS = str.maketrans(dict.fromkeys(MINUS_SIGNS, "-"))
_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
# [0-9], not \d: \d also matches digits of other scripts, which float() would silently accept.


class NotANumber(ValueError):
    """One answer that isn't a usable number; the message is the reason shown to the student."""


class JsonNumber(str):
    """A number literal exactly as written in the JSON file, so '0.5930' keeps its four decimals."""

    __slots__ = ()


@dataclass(frozen=True)
class Number:
    """A parsed answer: its value and how many digits the student wrote."""

    value: float
    text: str
    """The normalised text (ASCII minus, decimal point)."""
    decimals: int
    """Digits after the decimal point, counting the exponent: '7.514e-1' has 4."""
    sigfigs: int

    def digits(self, mode: Mode) -> int:
        """Digits written, counted the way a rounding rule of this mode counts them."""
        return self.sigfigs if mode is Mode.SIGFIGS else self.decimals


def shown(raw: Any, limit: int = 40) -> str:
    """A short, safe rendering of whatever a student typed, for messages."""
    if isinstance(raw, JsonNumber):
        text = str(raw)
    elif isinstance(raw, str):
        text = json.dumps(raw, ensure_ascii=False)
    else:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_number(raw: Any) -> Number:
    """A JSON number or a typed string as a Number, or NotANumber with the reason."""
    if not isinstance(raw, str):
        if raw is True or raw is False:
            raise NotANumber(f"{str(raw).lower()} is not a number")
        if isinstance(raw, list):
            raise NotANumber("a list is not a number: give one number")
        if isinstance(raw, dict):
            raise NotANumber("an object is not a number: give one number")
        raise NotANumber(f"{shown(raw)} is not a number")
    if len(raw) > MAX_NUMBER_TEXT:
        raise NotANumber(f"too long to be a number ({len(raw)} characters)")
    text = raw.strip().translate(_AS_ASCII_MINUS)
    match = _NUMBER.fullmatch(text)
    if not match or not (match[2] or match[3]):
        # The common cases ("0.7514", JSON numbers) never get here.
        text, match = _retry(raw, text)
    value = float(text)
    if not math.isfinite(value):
        raise NotANumber(f"{shown(raw)} is too large to be an answer")
    whole, fraction, exponent = match[2], match[3] or "", int(match[4] or 0)
    significant = (whole + fraction).lstrip("0")
    return Number(
        value=value,
        text=text,
        decimals=len(fraction) - exponent,
        sigfigs=len(significant) if significant else max(len(fraction), 1),
    )


def _retry(raw: str, text: str) -> tuple[str, re.Match[str]]:
    """The less common spellings (a decimal comma, a space after the sign), or the reason why not."""
    if not text:
        raise NotANumber("empty answer")
    if text[0] in "+-":
        text = text[0] + text[1:].lstrip()  # "− 0.25": a space after the sign is harmless
    if "," in text:
        if "." in text:
            raise NotANumber(f"{shown(raw)}: use either a decimal point or a decimal comma")
        if text.count(",") == 1:
            text = text.replace(",", ".")
    match = _NUMBER.fullmatch(text)
    if match and (match[2] or match[3]):
        return text, match
    words = text.lstrip("+-").lower()
    if words in ("nan", "nan(ind)"):
        raise NotANumber("NaN is not a number")
    if words in ("inf", "infinity", "∞"):
        raise NotANumber("infinity is not an answer")
    if "/" in text:
        raise NotANumber(f"{shown(raw)}: write the fraction as a decimal number")
    raise NotANumber(f"{shown(raw)} is not a number")
