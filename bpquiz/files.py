"""Writing files so that nothing the user has is lost: a temp file, then an atomic rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputExists(FileExistsError):
    """The target exists and the user did not ask to replace it."""


def write_atomic(path: Path, data: bytes | str, *, replace: bool = True) -> None:
    """Write `data` to `path` completely or not at all; with replace=False an existing file stays."""
    path = Path(path)
    if not replace and path.exists():
        raise OutputExists(str(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        # Name the file the user asked for, not the temporary one.
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            # link() fails if the name was taken meanwhile, so a concurrent writer can't be clobbered.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExists(str(path)) from None
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def spreadsheet_text(data: bytes) -> str:
    """The text of a file a spreadsheet saved: Excel's "Unicode text" (UTF-16, with a BOM saying
    the byte order) or UTF-8 with or without a BOM. Raises UnicodeDecodeError otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


SPREADSHEET_DELIMITERS = (",", ";", "\t")
"""What spreadsheets separate cells with (';' where the decimal separator is a comma)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
