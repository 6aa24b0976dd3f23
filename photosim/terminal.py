"""What a command owes the terminal it runs in: signals end it like Ctrl+C, a closed pipe ends
it quietly, and it never exits while a decoder or the model still runs.

``photosim scan`` stopped by Ctrl+C, SIGTERM (a service manager, ``kill``) or SIGHUP (the
terminal closed) prints its one line and exits 128 + the signal's number, what was committed
kept. ``photosim info --failed | head`` ends without a traceback when ``head`` closes the pipe.
Qt-free and light: the CLI imports it before anything heavy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

# Signals that end a command as Ctrl+C does (SIGHUP does not exist on Windows).
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
EXIT_PIPE = 128 + getattr(signal, "SIGPIPE", 13)  # what a shell reports for a closed pipe


class Interrupted(KeyboardInterrupt):
    """A signal asked the command to stop; ``code`` is the exit status it ends with."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum
        self.code = 128 + signum


class _State:
    signum: int | None = None


_state = _State()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _state.signum is not None:  # a second signal while cleaning up: leave at once
        leave(128 + _state.signum)
    _state.signum = signum
    raise Interrupted(signum)


def interrupted_code() -> int | None:
    """The exit status owed to the signal that stopped this command (None: none came)."""
    return None if _state.signum is None else 128 + _state.signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """While inside: SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.

    A second signal during the clean-up exits at once (no traceback from a half-finished
    clean-up). The handlers in place before are restored on leaving, so the CLI can run
    inside another program (the tests) without changing it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.signum = None
    before = {}
    for signum in SIGNALS:
        try:
            before[signum] = signal.signal(signum, _on_signal)
        except (OSError, ValueError):  # not settable here
            continue
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def threads_left() -> list[threading.Thread]:
    """Threads that would keep this process from exiting cleanly now.

    Python's exit joins every non-daemon thread (a decode worker on a huge file holds it
    up), and tears the C++ runtime down under a thread still inside torch, which then
    aborts ("terminate called without an active exception", exit 134).
    """
    main = threading.main_thread()
    return [t for t in threading.enumerate()
            if t is not main and t.is_alive()
            and (not t.daemon or t.name.startswith("photosim-model"))]  # fmt: skip


def leave(code: int) -> None:
    """End the process now with ``code``: output flushed, the log closed, no thread waited for."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        logging.shutdown()
    os._exit(code)


def end_promptly(code: int) -> int:
    """``code``, after making sure the exit cannot hang or abort on a thread still running."""
    if threads_left():
        logging.getLogger(__name__).info(
            "exiting with threads still running: %s", [t.name for t in threads_left()]
        )
        leave(code)
    return code


def pipe_closed() -> int:
    """A reader closed our stdout (``| head``): nothing more to say, no traceback at exit."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the final flush at exit writes nowhere
        os.close(devnull)
    return EXIT_PIPE
