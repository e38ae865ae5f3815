"""One student's answers, whatever file they came in, and reading submitted files safely.

Nothing a student submits is trusted: every reader checks size, encoding, shape and every field,
and a problem with a file as a whole is an AnswersError whose message says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz import files
from bpquiz.errors import BpquizError

MAX_STUDENT = 200


class AnswersError(BpquizError):
    """An answers file that can't be graded at all; the message says what to fix."""


class NotHandedIn(AnswersError):
    """A file among the answers that no student handed in: a document bpquiz wrote (a worked
    solution, a class file, a feedback sheet, the class list). Reported as a note, not an error:
    grading the exam's own folder, where students' files may sit beside these, is common."""


@dataclass(frozen=True)
class Identity:
    """Who an LMS says handed an attempt in (it signed them in): what it knows of them."""

    name: str = ""
    email: str = ""
    number: str = ""
    """The institution's student number: Moodle's "ID number", Canvas's "sis_id"."""
    lms_user: str = ""
    """The LMS's own user id (Canvas's numeric "id"), which its gradebook import matches first."""

    def ids(self) -> tuple[str, ...]:
        """Every id a roster might list this student by."""
        return tuple(i for i in (self.email, self.number, self.lms_user) if i)


@dataclass(frozen=True)
class AnswerSheet:
    """One student's answers, checked for shape; the answers are still as typed."""

    source: str
    variant: str
    student: str
    """As written in the file (may be empty: templates without a roster leave it blank)."""
    answers: dict[str, Any]
    """Quantity id → the raw value: None, a JsonNumber, a str, or anything else JSON allows."""
    identity: Identity | None = None
    """Set when an LMS export says who this is: then `student` is the LMS's, and a variant drawn
    for a roster student does not decide it (the LMS handed the variants out at random)."""


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """A submitted file's bytes (bpquiz.files.read_limited): refusing folders, FIFOs, devices
    and files over `limit` bytes with an AnswersError, and never following a link, so that what
    was checked is what is read (`bpquiz.grading.batch.answer_files` resolves the links it
    follows). `what` names the kind of file in the size message."""
    try:
        return files.read_limited(path, limit, what, follow_links=False)
    except files.Refused as exc:
        raise AnswersError(str(exc)) from None
