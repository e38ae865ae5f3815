"""A reader child process: a submitted file parsed where its time and memory are capped.

A student's PDF is read by code bpquiz does not control (pypdf). Budgets inside the reader stop the
known ways to make it work hard (bpquiz.grading.readers.pdf_budget), but only a separate process
can promise that one file never takes more than so many seconds and megabytes, whatever the reader
does. So each grading process forks one reader child, once, and sends it one file at a time:

- the child runs under RLIMIT_AS (its size when forked + `memory`), and is killed when a call has
  taken `seconds` of wall-clock time; either way that file gets one error and the batch goes on
  with a new child;
- a child is retired after a MemoryError or a crash, after RETIRE_AFTER files, or once it has grown
  by RETIRE_GROWTH, so that whatever a reader leaks cannot pile up;
- a worker of a grading pool forks a reader child of its own (the one it inherited is forgotten),
  so a killed child never costs the pool a worker;
- what comes back from the child is JSON, never a pickle: the child has handled hostile bytes.

fork() costs ~1 ms and shares the already imported reader with the child for free. Where there is
no fork (Windows), `run` calls the function here, with the in-reader budgets only.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import pickle
import select
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from bpquiz.grading.readers.sheet import AnswersError

RETIRE_AFTER = 500
"""Files a child reads before it is replaced."""
RETIRE_GROWTH = 64 << 20
"""A child that has grown by more than this (a file that needed much) is replaced too."""
ISOLATED = hasattr(os, "fork")
"""Whether `run` uses a child process (a test that changes a budget in this process sets it off:
a child forked earlier would not see the change)."""

_OK, _REFUSED, _MEMORY, _CRASH = "ok", "refused", "memory", "crash"


class Killed(Exception):
    """The child was stopped (out of time or memory) or crashed; the message says which."""


Parse = Callable[[bytes, str], Any]
"""A module-level function of a file's bytes and its name, returning JSON-able data or raising
AnswersError."""


def run(parse: Parse, data: bytes, source: str, *, seconds: float, memory: int) -> Any:
    """`parse(data, source)` in this process's reader child: its result, or its AnswersError
    raised again here, or Killed."""
    if not ISOLATED:
        return parse(data, source)
    global _child
    if _child is None or _child.memory != memory:
        if _child is not None:
            _child.stop(kill=True)
        _child = Child(memory)
    return _child.call(parse, data, source, seconds)


_child: Child | None = None


def _forget_inherited() -> None:
    """In a process just forked (a pool worker, or a reader child itself): the reader child
    belongs to the parent. Close this copy of its pipes, so that it sees its end when the parent
    closes them, and fork a child of our own when one is needed."""
    global _child
    if _child is not None:
        _child.forget()
    _child = None


def _shutdown() -> None:
    """At exit: end our reader child and wait for it (it would end by itself, seeing its pipe
    close, but as an orphan nobody waits for)."""
    if _child is not None:
        _child.stop(kill=True)


if ISOLATED:
    os.register_at_fork(after_in_child=_forget_inherited)
    atexit.register(_shutdown)


def _address_space() -> int:
    """This process's virtual size in bytes (what RLIMIT_AS counts)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # no /proc (macOS): a generous guess
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 * 4


def _cap_memory(limit: int) -> None:
    """RLIMIT_AS at `limit` bytes, or at the limit already set when that is lower; where the
    system refuses (macOS may), the child runs uncapped, still killed at its deadline."""
    import resource

    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 4096


def _resident() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _send(fd: int, payload: bytes) -> None:
    view = memoryview(len(payload).to_bytes(8, "big") + payload)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int, deadline: float | None) -> bytes | None:
    """One frame, or None at the end of the pipe; TimeoutError past `deadline` (monotonic)."""
    buffer = bytearray()
    size: int | None = None
    while True:
        need = 8 if size is None else size
        while len(buffer) < need:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(fd, max(need - len(buffer), 1 << 16))
            if not chunk:
                return None
            buffer += chunk
        if size is not None:
            return bytes(buffer[:size])
        size = int.from_bytes(buffer[:8], "big")
        del buffer[:8]


class Child:
    """A forked reader that runs calls one at a time under a memory cap, each call with a
    wall-clock limit enforced by killing it. The parent pays one fork per child, not per call."""

    def __init__(self, memory: int) -> None:
        self.memory = memory
        self.pid = 0
        self.requests = self.results = -1

    def _start(self) -> None:
        requests_r, requests_w = os.pipe()
        results_r, results_w = os.pipe()
        limit = _address_space() + self.memory
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                # Only its two pipes: an inherited descriptor (a lock, a file being written) must
                # not outlive its owner's use of it in a child that lives for many files.
                low, high = sorted((requests_r, results_w))
                os.closerange(3, low)
                os.closerange(low + 1, high)
                os.closerange(high + 1, _max_fd())
                # Ctrl-C is for the parent, which then closes the pipe: this child ends with it.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _cap_memory(limit)
                gc.enable()  # a reader's objects hold cycles; grading pauses gc for speed
                _serve(requests_r, results_w)
                status = 0
            finally:
                os._exit(status)
        os.close(requests_r)
        os.close(results_w)
        self.pid, self.requests, self.results = pid, requests_w, results_r

    def forget(self) -> None:
        """Close this process's copies of the pipes, without touching the child."""
        if self.pid:
            os.close(self.requests)
            os.close(self.results)
            self.pid = 0

    def stop(self, kill: bool) -> None:
        if not self.pid:
            return
        pid = self.pid
        self.forget()
        if kill:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    def call(self, parse: Parse, data: bytes, source: str, seconds: float) -> Any:
        if not self.pid:
            self._start()
        deadline = time.monotonic() + seconds
        try:
            _send(self.requests, pickle.dumps((parse, data, source)))
            frame = _receive(self.results, deadline)
        except TimeoutError:
            self.stop(kill=True)
            raise Killed(f"took longer than {seconds:g} s") from None
        except OSError:  # BrokenPipeError: the child died
            frame = None
        if frame is None:
            self.stop(kill=True)
            raise Killed("the reader crashed")
        kind, value, retire = json.loads(frame)
        if retire:
            self.stop(kill=False)
        if kind == _OK:
            return value
        if kind == _REFUSED:
            raise AnswersError(value)
        if kind == _MEMORY:
            raise Killed(f"needs more than {self.memory >> 20} MB")
        raise Killed(f"the reader failed ({value})")


def _serve(requests: int, results: int) -> None:
    """The child's loop: a call at a time until the parent closes the pipe, or retirement."""
    base = _resident()
    served = 0
    while True:
        frame = _receive(requests, None)
        if frame is None:
            return  # the parent is done, or gone
        parse, data, source = pickle.loads(frame)  # from the parent: trusted
        outcome: tuple[str, Any]
        try:
            outcome = (_OK, parse(data, source))
        except AnswersError as exc:
            outcome = (_REFUSED, str(exc))
        except MemoryError:
            outcome = (_MEMORY, None)
        except BaseException as exc:  # reported to the parent as a crash
            outcome = (_CRASH, f"{exc.__class__.__name__}: {exc}"[:200])
        del data, frame
        served += 1
        retire = (
            outcome[0] in (_MEMORY, _CRASH)
            or served >= RETIRE_AFTER
            or _resident() - base > RETIRE_GROWTH
        )
        try:
            payload = json.dumps([*outcome, retire]).encode()
        except MemoryError:
            payload, retire = json.dumps([_MEMORY, None, True]).encode(), True
        _send(results, payload)
        if retire:
            return
