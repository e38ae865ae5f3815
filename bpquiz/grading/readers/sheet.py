"""One student's answers, whatever file they came in, and reading submitted files safely.

Nothing a student submits is trusted: every reader checks size, encoding, shape and every field,
and a problem with a file as a whole is an AnswersError whose message says what to fix.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpquiz.errors import BpquizError

MAX_STUDENT = 200


class AnswersError(BpquizError):
    """An answers file that can't be graded at all; the message says what to fix."""


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
