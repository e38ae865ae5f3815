"""Filled fillable sheets (PDF forms): their fields read back as an AnswerSheet.

`bpquiz generate --fillable` renders each answer box as a PDF text field named by its quantity id,
and the variant code as a hidden field and in the document information (bpquiz.forms). This reads
a filled sheet back into the same AnswerSheet a JSON answers file gives, so grading doesn't care
where the answers came from. pypdf is imported only here, so grading JSON files never loads it.

A submitted PDF is hostile until read: it is parsed within a budget (bpquiz.grading.readers.
pdf_budget), in a reader child process capped in time and memory (bpquiz.grading.readers.isolate),
and only plain text leaves the parse.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bpquiz.forms import CREATOR, NAME_FIELD, STUDENT_FIELD, VARIANT_FIELD, VARIANT_INFO
from bpquiz.grading.readers import isolate, pdf_budget
from bpquiz.grading.readers.numbers import shown
from bpquiz.grading.readers.sheet import (
    MAX_STUDENT,
    AnswersError,
    AnswerSheet,
    NotHandedIn,
    read_limited,
)

MAX_PDF_BYTES = 10 << 20
"""A filled two-page sheet is ~100 kB; a phone scan saved as PDF can reach a few MB. Anything over
10 MiB is not one of our sheets, and pypdf would spend long on it."""
MAX_FIELD = 4_096
"""Characters in one field's value: an answer is at most 64, a student id 200."""
SECONDS = 10.0
"""Wall-clock time for reading one PDF's form in the reader child (a sheet takes ~15 ms)."""
MEMORY = 400 << 20
"""Memory the reader child may add to what the grading process had (a sheet needs ~5 MB)."""
TOO_MUCH = (
    "too complex to be a filled sheet, reading it was stopped; hand in the sheet as saved "
    "from the PDF reader"
)


def read_pdf_answers(path: Path) -> AnswerSheet:
    """Read a filled fillable sheet (raises AnswersError with what to do), in the reader child."""
    data = read_limited(path, MAX_PDF_BYTES, "a filled answer sheet")
    if isolate.ISOLATED:
        import pypdf  # noqa: F401 - imported here once, so that the reader child has it for free

    try:
        found = isolate.run(_plain_answers, data, str(path), seconds=SECONDS, memory=MEMORY)
    except isolate.Killed as exc:
        raise AnswersError(f"{TOO_MUCH} ({exc})") from None
    if "not_handed_in" in found:
        raise NotHandedIn(found["not_handed_in"])
    return AnswerSheet(str(path), found["variant"], found["student"], found["answers"])


def _plain_answers(data: bytes, source: str) -> dict[str, Any]:
    """parse_pdf_answers, as plain data for the way back from the reader child."""
    try:
        sheet = parse_pdf_answers(data, source)
    except NotHandedIn as exc:
        return {"not_handed_in": str(exc)}
    return {"variant": sheet.variant, "student": sheet.student, "answers": sheet.answers}


def filled_fields(path: Path) -> list[str]:
    """The fields of a PDF form that hold text other than the variant code (what someone typed),
    read as a submission is read; AnswersError for a file that can't be read (so can't be told
    blank)."""
    data = read_limited(path, MAX_PDF_BYTES, "a fillable sheet")
    try:
        found = isolate.run(_filled, data, str(path), seconds=SECONDS, memory=MEMORY)
    except isolate.Killed as exc:
        raise AnswersError(f"{TOO_MUCH} ({exc})") from None
    return list(found)


def _filled(data: bytes, source: str) -> list[str]:
    if b"%PDF-" not in data[:1024]:
        raise AnswersError("not a PDF file")
    fields, _, _ = _form_of(data)
    return [name for name, field in fields.items() if name != VARIANT_FIELD and field["/V"]]


def parse_pdf_answers(data: bytes, source: str) -> AnswerSheet:
    """The answers in a filled sheet's form fields: an empty field is a missing answer. Read in
    this process, within the budgets of bpquiz.grading.readers.pdf_budget."""
    if not data.strip():
        raise AnswersError("empty file: hand in the filled, saved sheet")
    if b"%PDF-" not in data[:1024]:
        raise AnswersError("not a PDF file")
    fields, in_info, by_bpquiz = _form_of(data)

    variant = _text(fields.pop(VARIANT_FIELD, None))
    if variant and in_info and variant.upper() != in_info.upper():
        raise AnswersError(
            f"two different variant codes ({shown(variant)} in the form, {shown(in_info)} in the "
            "document information): the file was edited; hand in the sheet as generated"
        )
    variant = variant or in_info
    student = _text(fields.pop(STUDENT_FIELD, None))
    fields.pop(NAME_FIELD, None)
    answers = {
        name: (_text(field) or None)
        for name, field in fields.items()
        # Buttons and signature fields a viewer may add are not answers; text fields all are.
        if field.get("/FT") == "/Tx"
    }
    if not variant and by_bpquiz:
        raise NotHandedIn(
            "a document bpquiz wrote (a worked solution, a class file, a feedback sheet or a "
            "sheet without answer fields), not a student's filled sheet: not graded"
        )
    if not variant:
        raise AnswersError(
            "no bpquiz answer fields: not a fillable bpquiz sheet (those come from "
            "`bpquiz generate --fillable`); hand in the filled sheet or the answers file"
        )
    if not answers:
        raise AnswersError(
            f"variant {shown(variant)}, but no answer fields: the sheet was printed to PDF or "
            "flattened; hand in the sheet saved from the PDF reader"
        )
    if len(student) > MAX_STUDENT or not student.isprintable():
        raise AnswersError(
            f"the Student ID must be printable text of at most {MAX_STUDENT} characters"
        )
    return AnswerSheet(source, variant, student, answers)


def check_fields(sheet: AnswerSheet, asked: Sequence[str]) -> None:
    """Raise AnswersError unless the form has a field for every asked id, as generated.

    An empty field is a missing answer, but a field that isn't there at all means a damaged file
    (pypdf repairs what it can) or a sheet that isn't this variant's: never a silent zero.
    """
    absent = [qid for qid in asked if qid not in sheet.answers]
    if absent:
        listed = ", ".join(absent[:5]) + (" …" if len(absent) > 5 else "")
        raise AnswersError(
            f"the form has no field for {listed} ({len(absent)} of {len(asked)}): damaged, or "
            f"not the sheet generated for variant {sheet.variant}; hand in that sheet"
        )


def _form_of(data: bytes) -> tuple[dict[str, dict[str, str]], str, bool]:
    """The form fields by name (each its /FT and /V as text), the variant code in the document
    information ("" when none) and whether bpquiz wrote the file, or AnswersError. Everything is turned into plain text within the
    budget: nothing that points back into the reader leaves this function."""
    from pypdf.errors import LimitReachedError

    # pypdf reports repairs of a damaged file as log warnings; the outcome is what matters here.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        with pdf_budget.budget():
            reader = pdf_budget.reader_class()(
                io.BytesIO(data), strict=False, **pdf_budget.READER_OPTIONS
            )
            if reader.is_encrypted and not _opens_without_password(reader):
                raise AnswersError(
                    "the PDF is protected by a password: save the filled sheet again without one"
                )
            fields = reader.get_fields() or {}
            plain = {
                str(name): {"/FT": str(field.get("/FT", "")), "/V": _text(field)}
                for name, field in fields.items()
            }
            if any(len(field["/V"]) > MAX_FIELD for field in plain.values()):
                raise AnswersError(
                    f"a form field holds more than {MAX_FIELD} characters: not a filled sheet; "
                    "hand in the sheet as saved from the PDF reader"
                )
            info = reader.metadata
            variant = info.get(VARIANT_INFO) if info else None
            by_bpquiz = bool(info) and info.get("/Creator") == CREATOR
            return plain, variant.strip() if isinstance(variant, str) else "", by_bpquiz
    except AnswersError:
        raise
    except pdf_budget.OverBudget as exc:
        raise AnswersError(f"{TOO_MUCH} ({exc})") from None
    except (LimitReachedError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:80] or exc.__class__.__name__
        raise AnswersError(f"{TOO_MUCH} ({reason})") from None
    except Exception as exc:  # pypdf raises many kinds of exceptions for a broken file
        reason = " ".join(str(exc).split())[:80] or exc.__class__.__name__
        raise AnswersError(f"damaged PDF, cannot read its form ({reason})") from None


def _opens_without_password(reader: Any) -> bool:
    """Some viewers 'encrypt' with an empty password (to set permissions): such a file opens."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # an unsupported cipher is as good as a password here
        return False


def _text(field: Any) -> str:
    """A text field's value as typed; '' for an empty or absent field."""
    if field is None:
        return ""
    value = field.get("/V")
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).strip()
