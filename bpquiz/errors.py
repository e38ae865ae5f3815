"""The one base class of every error a user can fix; the CLI turns each into one line.

Each part of bpquiz raises its own subclass (a spec, a key, an answers file, the sheets' options),
so a caller can tell them apart; `bpquiz.cli` catches the base class, in one place.
"""

from __future__ import annotations


class BpquizError(Exception):
    """Something the user can fix; the message names the file or option and what was expected."""


class OptionError(BpquizError):
    """A command-line option (or its library equivalent) that can't work: a usage error."""


class BpquizWarning(UserWarning):
    """Something the user should know, though the run goes on; the CLI shows it as one line."""
