"""How a long task is told to stop: one flag type and one check, for every engine loop."""

from __future__ import annotations

import threading
from collections.abc import Callable

from photosim.core.errors import Cancelled

# A thread event, a callable that says "stop now", or None (never cancelled).
CancelFlag = Callable[[], bool] | threading.Event | None


def is_cancelled(cancel: CancelFlag) -> bool:
    """Whether ``cancel`` asks to stop now."""
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


def check_cancel(cancel: CancelFlag, what: str = "Finding duplicates") -> None:
    """Raise :class:`Cancelled` when ``cancel`` asks to stop."""
    if is_cancelled(cancel):
        raise Cancelled(what)
