"""Students' answer files: read them safely, and read numbers the way people type them.

Nothing in an answers file is trusted: its size, encoding, shape and every field are checked, and a
problem with the file as a whole is an AnswersError whose message says what to fix. A problem with
one answer only makes that answer invalid (NotANumber carries the reason); the rest is graded.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz.rounding import Mode

ANSWERS_FORMAT = "bpquiz-answers/1"
"""Same value as bpquiz.exam.ANSWERS_FORMAT; not imported from there because exam imports numpy."""
MAX_BYTES = 1 << 20
"""A filled-in template is a few kB; anything over 1 MiB is not one (and is not read whole)."""
MAX_DEPTH = 32
"""A template is 2 levels deep; this is generous and still far from Python's recursion limit."""
MAX_NUMBER_TEXT = 64
MAX_STUDENT = 200
MINUS_SIGNS = "\u2212\u2012\u2013\ufe63\uff0d"
"""Copying from a PDF or a word processor turns '-' into one of these (U+2212 most often)."""
_AS_ASCII_MINUS = str.maketrans(dict.fromkeys(MINUS_SIGNS, "-"))
_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
# [0-9], not \d: \d also matches digits of other scripts, which float() would silently accept.


class AnswersError(ValueError):
    """An answers file that can't be graded at all; the message says what to fix."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "text": self.text,
            "decimals": self.decimals,
            "sigfigs": self.sigfigs,
        }


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


@dataclass(frozen=True)
class AnswerSheet:
    """One student's answers file, checked for shape; the answers are still as typed."""

    source: str
    variant: str
    student: str
    """As written in the file (may be empty: templates without a roster leave it blank)."""
    answers: dict[str, Any]
    """Quantity id → the raw value: None, a JsonNumber, a str, or anything else JSON allows."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ANSWERS_FORMAT,
            "variant": self.variant,
            "student": self.student,
            "answers": {
                k: (v if not isinstance(v, JsonNumber) else str(v)) for k, v in self.answers.items()
            },
        }


class _Duplicate(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: json would silently keep the last of two equal keys; we refuse both."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return result


def _too_deep(document: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _kind(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, JsonNumber)


def parse_answers(data: bytes, source: str) -> AnswerSheet:
    """Check an answers file's bytes and return its sheet, or raise AnswersError."""
    if not data.strip():
        raise AnswersError("empty file: start from the answers template")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise AnswersError("saved as UTF-16: save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")  # a BOM (Windows Notepad) is harmless
    except UnicodeDecodeError as exc:
        raise AnswersError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): save it as UTF-8"
        ) from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=JsonNumber,
        )
    except _Duplicate as exc:
        raise AnswersError(
            f'the key "{shown(exc.args[0])[1:-1]}" appears twice: keep one'
        ) from None
    except json.JSONDecodeError as exc:
        raise AnswersError(f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise AnswersError(
            f"nested more than {MAX_DEPTH} levels deep: not an answers file"
        ) from None
    # Counting brackets is cheap; walking the document only happens when it might be deep.
    if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(document):
        raise AnswersError(f"nested more than {MAX_DEPTH} levels deep: not an answers file")
    if not isinstance(document, dict):
        raise AnswersError(f"expected a JSON object {{…}}, got {_kind(document)}")

    fmt = document.get("format")
    if fmt is None:
        raise AnswersError(
            f'no "format" field: start from the answers template (format "{ANSWERS_FORMAT}")'
        )
    if fmt != ANSWERS_FORMAT:
        hint = ": this is an answer key, not a student's answers" if fmt == "bpquiz-key/1" else ""
        raise AnswersError(f'format is {shown(fmt)}, expected "{ANSWERS_FORMAT}"{hint}')

    variant = document.get("variant")
    if not _is_text(variant) or not variant.strip():
        raise AnswersError(
            f'"variant" must be the code printed on the sheet, like "K7Q2M" (got {shown(variant)})'
        )
    student = document.get("student", "")
    if student is None:
        student = ""
    if not _is_text(student):
        raise AnswersError(
            f'"student" must be a string, e.g. "s1234" in quotes (got {_kind(student)})'
        )
    if len(student) > MAX_STUDENT or not student.isprintable():
        raise AnswersError(f'"student" must be printable text of at most {MAX_STUDENT} characters')

    if "answers" not in document:
        raise AnswersError('no "answers" object: start from the answers template')
    answers = document["answers"]
    if not isinstance(answers, dict):
        raise AnswersError(f'"answers" must be an object {{"id": number, …}}, got {_kind(answers)}')
    return AnswerSheet(source, variant, student.strip(), answers)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """A regular file's bytes, refusing (AnswersError) folders, FIFOs and files over `limit` bytes;
    never reads more than `limit` + 1 bytes. `what` names the kind of file in the size message."""
    try:
        # O_NONBLOCK: opening a FIFO someone left in the folder must not hang the whole batch.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise AnswersError("no such file") from None
    except IsADirectoryError:
        raise AnswersError("is a folder") from None
    except PermissionError:
        raise AnswersError("cannot read it (permission denied)") from None
    except OSError as exc:
        raise AnswersError(f"cannot read it ({exc.strerror or exc})") from None
    size = f"{limit >> 20} MiB"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AnswersError("is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise AnswersError("not a regular file")
        if info.st_size > limit:
            raise AnswersError(f"larger than {size} ({info.st_size} bytes): not {what}")
        data = os.read(fd, limit + 1)
    except OSError as exc:
        raise AnswersError(f"cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise AnswersError(f"larger than {size}: not {what}")  # it grew while we looked
    return data


def read_answers(path: Path) -> AnswerSheet:
    """Read and check one answers file; never reads more than MAX_BYTES + 1 bytes."""
    return parse_answers(read_limited(path, MAX_BYTES, "an answers file"), str(path))
