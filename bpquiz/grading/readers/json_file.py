"""Students' answers files (JSON): the template `bpquiz generate` writes, filled in.

Its size, encoding, shape and every field are checked; a problem with the file as a whole is an
AnswersError whose message says what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeGuard

from bpquiz.exercises.key import ANSWERS_FORMAT, KEY_FORMAT
from bpquiz.grading.readers.numbers import JsonNumber, shown
from bpquiz.grading.readers.sheet import MAX_STUDENT, AnswersError, AnswerSheet, read_limited

MAX_BYTES = 1 << 20
"""A filled-in template is a few kB; anything over 1 MiB is not one (and is not read whole)."""
MAX_DEPTH = 32
"""A template is 2 levels deep; this is generous and still far from Python's recursion limit."""


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
        children: Iterable[Any]
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


def _is_text(value: Any) -> TypeGuard[str]:
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
        hint = ": this is an answer key, not a student's answers" if fmt == KEY_FORMAT else ""
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


def read_answers(path: Path) -> AnswerSheet:
    """Read and check one answers file; never reads more than MAX_BYTES + 1 bytes."""
    return parse_answers(read_limited(path, MAX_BYTES, "an answers file"), str(path))
