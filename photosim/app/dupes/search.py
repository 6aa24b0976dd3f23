"""The duplicates search of the Duplicates view, off the GUI thread: the slow finder build
(with a count and a Cancel) and the quick regroupings, each in a worker.

``Library.duplicate_finder`` reads every photo's fingerprint and checks candidate
pairs; it hears a cancel flag and reports :class:`DupProgress` counts, which reach
the GUI thread queued as ``progressed``. A cancelled search ends with ``cancelled``
and no finder: the caller keeps what it showed before, never a half result.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from photosim.api import DuplicateFinder, DupProgress, DupResult, DupStep, Library
from photosim.app.workers import Runner, Worker
from photosim.core.cancel import check_cancel
from photosim.core.errors import Cancelled

# What each step of the search does, for people (it counts photos, then pairs of photos)
STEP_WORDS = {
    DupStep.FINGERPRINTS: "Reading photos",
    DupStep.NEIGHBOURS: "Comparing photos",
    DupStep.ROTATIONS: "Looking for turned copies among photos",
    DupStep.PIXELS: "Comparing the pixels of pairs",
    DupStep.VERIFY: "Checking pairs",
}


def progress_text(progress: DupProgress) -> str:
    """ "Checking pairs 1,234 of 5,000": the step and its count (the step alone before one)."""
    words = STEP_WORDS.get(progress.step, str(progress.step).capitalize())
    if progress.total <= 0:
        return words
    return f"{words} {progress.done:,} of {progress.total:,}"


@dataclass(frozen=True)
class Grouping:
    """One grouping's answer: the finder that made it, its groups, the reference folders."""

    finder: DuplicateFinder
    result: DupResult
    references: list[Path]


class DuplicateSearch(QObject):
    """Finds and groups one library's duplicates in workers; late answers are dropped.

    Signals (GUI thread): ``progressed(DupProgress)`` during a search; ``found(finder)``
    when it is built; ``grouped(Grouping)``; ``cancelled()`` when the user stopped the
    search; ``failed(exception)``.
    """

    progressed = Signal(object)
    found = Signal(object)
    grouped = Signal(object)
    cancelled = Signal()
    failed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library: Library | None = None
        self.finder: DuplicateFinder | None = None
        self._previous: DuplicateFinder | None = None  # kept while a search runs: Cancel
        self._cancel = threading.Event()
        self.find_runner = Runner("photosim-duplicates", self)
        self.group_runner = Runner("photosim-grouping", self)
        self.find_runner.done.connect(self._on_found)
        self.find_runner.failed.connect(self._on_failed)
        self.group_runner.done.connect(self._on_grouped)
        self.group_runner.failed.connect(self._on_failed)

    @property
    def finding(self) -> bool:
        """A finder is being built."""
        return self.find_runner.busy()

    def set_library(self, library: Library | None) -> None:
        self.release()
        self.library, self.finder, self._previous = library, None, None

    def release(self) -> None:
        """Stop the work on this library without waiting: a search sees its cancel flag and
        ends in the background; what it still sends is dropped."""
        self._cancel.set()
        for runner in (self.find_runner, self.group_runner):
            runner.cancel()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """The user stopped the search: it ends at its next check and says ``cancelled``."""
        if self.finding:
            self._cancel.set()

    def find(self, writes: Sequence[Worker] = ()) -> None:
        """Build the finder (the slow step) after the ``writes`` still running."""
        library = self.library
        if library is None:
            return
        self._previous, self.finder = self.finder, None
        cancel, progress, writes = self._cancel, self.progressed.emit, list(writes)

        def find() -> tuple[Library, DuplicateFinder]:
            for write in writes:  # marks still being written count in this search
                write.join()
            check_cancel(cancel)
            references = library.decisions.reference_folders()
            finder = library.duplicate_finder(references=references, cancel=cancel,
                                              progress=progress)  # fmt: skip
            check_cancel(cancel)  # stopped once done (a quick search from the cache): stopped
            return library, finder

        self.find_runner.submit(find)

    def group(self, kinds: Sequence[str], near: float | None, similar: float | None) -> None:
        """Group with the finder at these kinds and thresholds (None: calibrated)."""
        finder, library = self.finder, self.library
        if finder is None or library is None:
            return
        kinds = tuple(kinds)
        refs = library.decisions.reference_folders

        def group() -> Grouping:
            return Grouping(finder, finder.group(kinds, near=near, similar=similar), refs())

        self.group_runner.submit(group)

    def forget(self) -> None:
        """The finder is out of date (photos were trashed): the next search builds it again."""
        self.finder = self._previous = None

    def _on_found(self, outcome: tuple[Library, DuplicateFinder]) -> None:
        library, finder = outcome
        if library is self.library and library is not None:  # not a late answer
            self.finder = finder
            self.found.emit(finder)

    def _on_grouped(self, grouping: Grouping) -> None:
        if grouping.finder is self.finder:  # not from a finder replaced since
            self.grouped.emit(grouping)

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self._cancel = threading.Event()  # the next search starts unstopped
            self.finder = self._previous  # what is shown can still be regrouped
            self.cancelled.emit()
        else:
            self.failed.emit(exc)
