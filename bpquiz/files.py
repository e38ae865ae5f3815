"""Files, safely: writing so that nothing the user has is lost (a temp file, then an atomic
rename), reading with a bound whatever the path turns out to be, locking, and showing names.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


class Refused(Exception):
    """A file `read_limited` will not read; the message says why, without the path."""


def read_limited(path: Path, limit: int, what: str, *, follow_links: bool = True) -> bytes:
    """A regular file's bytes, never more than `limit` + 1 of them read, never blocking.

    Raises Refused for a folder, a FIFO or a device (a link to /dev/zero), a file over `limit`
    bytes (`what` names the kind of file in that message), and, without `follow_links`, a path
    whose last part is a link (O_NOFOLLOW: what was checked is what is read)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        # O_NONBLOCK: opening a FIFO someone left in a folder must not hang the whole run.
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Refused("no such file") from None
    except IsADirectoryError:
        raise Refused("is a folder") from None
    except PermissionError:
        raise Refused("cannot read it (permission denied)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(
                "a link that leads back to itself (a loop of links)"
                if follow_links
                else "a link: not followed"
            ) from None
        raise Refused(f"cannot read it ({exc.strerror or exc})") from None
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Refused("is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file (a pipe or a device)")
        if info.st_size > limit:
            raise Refused(f"larger than {size} ({info.st_size} bytes): not {what}")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise Refused(f"cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Refused(f"larger than {size}: not {what}")  # it grew while we looked
    return data


class Locked(Exception):
    """Another process holds the lock."""


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `lock` (made if need be; it stays, empty, for the next
    run), or raise Locked at once when another process holds it. The lock ends with the process,
    however it ends. Where there is no flock (Windows), nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666 & ~_umask())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(str(lock)) from None
        yield
    finally:
        os.close(fd)  # and with it the lock


_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""Characters a terminal or a report line must not get raw: control characters (ESC starts the
sequences that move the cursor or clear the screen; a newline fakes a line), line and paragraph
separators, the marks that reorder text right to left, and lone surrogates (a file name's bytes
that are not UTF-8)."""


def printable(text: str) -> str:
    """`text` with every such character written as its escape (\\n, \\x1b, \\u202e): a student's
    name or a file name, shown as it is without acting on the terminal or the report."""
    if text.isascii() and text.isprintable():
        return text
    return _UNSAFE.sub(lambda m: m[0].encode("unicode_escape", "backslashreplace").decode(), text)


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
