"""The app's signal hub: the few app-wide events, documented in one place.

Widgets talk through these instead of reaching into each other (as in
vimiv-qt's ``api/signals.py``). Emitted on the GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Signals(QObject):
    """App-wide signals; one instance per main window (``window.signals``)."""

    #: A library was opened (argument: the ``Library``).
    library_opened = Signal(object)
    #: The library was let go of (another folder opens, or the window closes).
    library_closed = Signal()
    #: A library could not be opened (argument: the exception).
    library_failed = Signal(object)
    #: The scan sent progress (argument: the latest ``ScanProgress``).
    scan_progress = Signal(object)
    #: The scan ended, finished or cancelled (argument: the last ``ScanProgress`` or None).
    scan_finished = Signal(object)
    #: The scan stopped on an error (argument: the exception; ``LibraryBusy``: another
    #: process scans, and the window watches the library until it is done).
    scan_failed = Signal(object)
    #: The scan started, or the window shows a scan again (argument: True) or none (False).
    scanning_changed = Signal(bool)
    #: A batch of the scan: ``ScanBatch`` (events with the records of the photos they name).
    scan_batch = Signal(object)
    #: The library's photos were listed (arguments: the ``Listing``; True when it adds the rest
    #: of a big library below its first rows, False when it replaces the grid's photos).
    photos_listed = Signal(object, bool)
    #: The number of skipped files of the library (argument: ``int``).
    failures_counted = Signal(int)
    #: The grid shows this many photos of so many (arguments: shown ``int``, total ``int``).
    photos_counted = Signal(int, int)
    #: One line for the status bar (argument: the sentence).
    status_message = Signal(str)
    #: Similarity needs weights (arguments: why, in one sentence; the title for the strip).
    weights_needed = Signal(str, str)
    #: The selected photo changed (argument: its path as ``str``; "" when none).
    photo_selected = Signal(str)
    #: Neighbours of a query are shown (arguments: query path ``str``, ``list[Match]``).
    neighbours_ready = Signal(str, list)
    #: Similarity could not be answered (argument: one sentence for people).
    similarity_unavailable = Signal(str)
    #: The list of skipped files is shown (argument: the dialog).
    failures_shown = Signal(object)
    #: Photos were moved to the trash or brought back (argument: their paths as ``str``).
    photos_changed = Signal(list)
