"""The ``photosim`` command: a thin layer over :mod:`photosim.library`.

Exit codes: 0 success (unreadable photos are reported, not failures), 2 bad
arguments, missing model weights or any other error photosim explains (one
``photosim: <message>`` line), 130 interrupted (Ctrl+C). Paths are printed with
``errors.shown`` so a name of any bytes prints instead of crashing.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from photosim import terminal
from photosim.cli.duplicates import cmd_duplicates
from photosim.cli.gui import cmd_gui, cmd_install_desktop
from photosim.cli.parser import build_parser
from photosim.cli.queries import cmd_info, cmd_similar
from photosim.cli.scan import cmd_scan
from photosim.cli.shared import say
from photosim.core.errors import PhotosimError
from photosim.core.log import setup_logging

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "gui"
    setup_logging(verbose=getattr(args, "verbose", False))
    if command == "gui":  # the app closes its window on these signals itself
        return _run(command, args)
    with terminal.signals_as_interrupts():
        code = _run(command, args)
        signalled = terminal.interrupted_code()
    if signalled is not None:  # SIGTERM 143, SIGHUP 129, Ctrl+C 130; never hang on a thread
        return terminal.end_promptly(signalled)
    return code


def _run(command: str, args: argparse.Namespace) -> int:
    """The command's exit status; every way it can end is one line, never a traceback."""
    try:
        if command == "gui" and not hasattr(args, "root"):
            args = build_parser().parse_args(["gui"])
        commands = {"scan": cmd_scan, "similar": cmd_similar, "info": cmd_info, "gui": cmd_gui,
                    "duplicates": cmd_duplicates, "install-desktop": cmd_install_desktop}  # fmt: skip
        code = commands[command](args)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except PhotosimError as exc:
        say(exc)
        return 2
    except BrokenPipeError:
        return terminal.pipe_closed()
    except (sqlite3.Error, OSError) as exc:  # a full disk, a read-only place, a damaged file
        from photosim.storage.faults import explain

        explained = explain(exc, getattr(args, "db", None) or "your library")
        if explained is None:
            raise
        say(explained)
        return 2
    except KeyboardInterrupt:
        print(
            "\nInterrupted: what was done is kept; run the command again to finish.",
            file=sys.stderr,
        )
        return 130
