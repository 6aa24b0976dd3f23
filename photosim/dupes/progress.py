"""How far a duplicate search is, told to whoever listens (the app's count, the CLI's line)."""

from __future__ import annotations

import time
from collections.abc import Callable

from photosim.dupes.types import DupProgress, DupStep

TELL_EVERY_S = 0.1
# hears how far the search is (the app's count); None: nobody listens
Progress = Callable[[DupProgress], None] | None


def teller(progress: Progress, step: DupStep, total: int) -> Callable[[int], None]:
    """``tell(done)``: report ``done`` of ``total`` items of ``step`` to ``progress``, at the
    step's start and end and at most every ``TELL_EVERY_S`` between (a GUI hears a count, not
    a flood)."""
    if progress is None:
        return lambda _done: None
    last = [-TELL_EVERY_S]

    def tell(done: int) -> None:
        now = time.monotonic()
        if done <= 0 or done >= total or now - last[0] >= TELL_EVERY_S:
            last[0] = now
            progress(DupProgress(step, done, total))

    return tell
