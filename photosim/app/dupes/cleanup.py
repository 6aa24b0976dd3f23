"""The Duplicates view's actions on files and on the library's decisions: move to the trash
(asked first), undo, "not duplicates" and its list, reference folders.

:class:`Cleanup` owns these actions and their workers; the view hands it what is shown
(the marked files, the current group) and hears the outcome as signals. Nothing here
runs SQL or touches a file on the GUI thread, and nothing deletes a photo: the trash is
the system trash with a journal (``photosim.dupes.trash``), undoable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from photosim.api import Dismissed, DupGroup, Library, companions_on_disk
from photosim.app.dupes.dialogs import DismissedDialog, ReferenceDialog, TrashDialog
from photosim.app.workers import Runner, Worker
from photosim.core.text import plural


class LibraryWrites(QObject):
    """The user's decisions written to the library in workers, each after the ones before
    it (in order); a search waits for those still running, in its own worker."""

    failed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers: list[Worker] = []

    def running(self) -> list[Worker]:
        return [w for w in self.workers if w.running()]

    def write(self, fn: Callable[[], object], name: str) -> Worker:
        before = self.running()

        def run(_abort) -> object:
            for write in before:
                write.join()
            return fn()

        worker = Worker(run, name=name)
        worker.errored.connect(self.failed.emit)
        self.workers = [*before, worker]
        worker.start()
        return worker


class Cleanup(QObject):
    """Trash, undo, keep marks, "not duplicates" and reference folders, for one library.

    Signals (GUI thread): ``busy(str | None)`` while a step runs; ``note(str)`` the
    outcome in a sentence; ``trashed(list[str])`` / ``restored(list[str])`` the paths
    moved; ``undo_possible(bool)``; ``changed()`` when the duplicates must be found again;
    ``restored_groups(set[Path])`` dismissed groups made findable; ``failed(exception)``.
    """

    busy = Signal(object)
    note = Signal(str)
    trashed = Signal(list)
    restored = Signal(list)
    undo_possible = Signal(bool)
    changed = Signal()
    failed = Signal(object)
    restored_groups = Signal(set)  # paths of the dismissed groups made findable again

    def __init__(self, writes: LibraryWrites, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = parent  # the dialogs' parent
        self.writes = writes
        self.library: Library | None = None
        self.trash_runner = Runner("photosim-trash", self)
        self.undo_runner = Runner("photosim-undo-check", self)
        self.trash_runner.done.connect(self._on_trash_done)
        self.trash_runner.failed.connect(self._on_failed)
        self.undo_runner.done.connect(self.undo_possible.emit)
        self._files: list[tuple[Path, int]] = []
        self._dismissed_worker: Worker | None = None

    def set_library(self, library: Library | None) -> None:
        self.trash_runner.cancel()
        self.library = library
        self.check_undo()

    def release(self) -> None:
        self.trash_runner.cancel()

    def check_undo(self) -> None:
        """Say whether the journal holds a move not undone (read in a worker)."""
        library = self.library
        if library is None:
            self.undo_runner.cancel()
            self.undo_possible.emit(False)
            return
        self.undo_runner.submit(library.decisions.can_undo)

    # -- trash and undo -----------------------------------------------------------
    def move_to_trash(self, files: Sequence[tuple[Path, int]], size: int) -> bool:
        """Move ``files`` (path, size) to the system trash after a confirmation that counts
        the files going with them (found in a worker: it lists their folders)."""
        library = self.library
        if not files or library is None:
            return False
        self._files = list(files)
        paths = [path for path, _size in files]
        self.busy.emit("Looking for the files that go with them…")
        self.trash_runner.submit(
            lambda: ("counted", (paths, size, sum(len(companions_on_disk(p)) for p in paths)))
        )
        return True

    def confirm(self, count: int, size: int, companions: int = 0) -> bool:
        """Ask before moving, listing every marked file with its size; tests replace this."""
        self.trash_dialog = TrashDialog(self._files, self.window, companions)
        return self.trash_dialog.exec() == QDialog.DialogCode.Accepted

    def _move_confirmed(self, paths: list[Path], size: int, companions: int) -> None:
        library = self.library
        if library is None or not self.confirm(len(paths), size, companions):
            return
        self.busy.emit(f"Moving {plural(len(paths), 'photo')} to the trash…")
        self.trash_runner.submit(lambda: ("trashed", library.decisions.move_to_trash(paths)))

    def undo_last_move(self) -> None:
        """Bring the photos of the last move back from the trash, where it allows it."""
        library = self.library
        if library is None:
            return
        self.busy.emit("Bringing photos back from the trash…")
        self.trash_runner.submit(lambda: ("restored", library.decisions.undo_last_move()))

    def _on_trash_done(self, outcome: tuple[str, object]) -> None:
        what, value = outcome
        self.busy.emit(None)
        self.check_undo()
        if what == "counted":
            self._move_confirmed(*value)
        elif what == "trashed":
            gone = sorted({str(original) for original, _where in value.moved})
            photos = len(gone) - value.companions
            text = f"Moved {plural(photos, 'photo')} to the trash"
            if value.companions:
                text += f" and {plural(value.companions, 'file')} with them"
            text += "; Undo last move brings them back."
            if value.failed:
                path, reason = value.failed[0]
                text += f" {len(value.failed):,} could not be moved ({path.name}: {reason})."
            self.note.emit(text)
            self.trashed.emit(gone)
        else:
            back = [str(p) for p in value.restored]
            text = (f"Brought back {plural(len(back), 'photo')} from the trash."
                    if back else "Nothing to undo.")  # fmt: skip
            if value.skipped:  # the journal named files photosim may not move back
                path, reason = value.skipped[0]
                text += (f" {len(value.skipped):,} left where they are "
                         f"({Path(path).name}: {reason}).")  # fmt: skip
            self.note.emit(text)
            self.restored.emit(back)
        if what != "counted":
            self.changed.emit()  # find again (now if shown)

    def _on_failed(self, exc: BaseException) -> None:
        self.busy.emit(None)
        self.failed.emit(exc)

    # -- decisions ----------------------------------------------------------------
    def remember(self, path: str, remove: bool, keeps: list[str]) -> None:
        """The user's word on a mark, by content (in a worker): the group's ``keeps`` stay
        kept through regroups, trash and undo; a photo marked remove forgets its keep."""
        library = self.library
        if library is None:
            return
        if remove:
            self.writes.write(lambda: library.decisions.unmark_keep(Path(path)), "photosim-keep")
            return

        def write() -> None:
            for keep in keeps:
                library.decisions.mark_keep(Path(keep))

        self.writes.write(write, "photosim-keep")

    def not_duplicates(self, group: DupGroup) -> bool:
        """``group`` is not duplicates, after one question: remembered by the library (in a
        worker); True when the user said so (the view hides the group)."""
        library = self.library
        if library is None or not self.confirm_dismiss(group):
            return False
        paths = [m.path for m in group.photos]
        self.writes.write(
            lambda: library.decisions.mark_not_duplicates(paths), "photosim-not-duplicates"
        )
        self.note.emit(f"Dismissed {plural(len(paths), 'photo')} as not duplicates; "
                       "Dismissed groups… brings them back.")  # fmt: skip
        return True

    def confirm_dismiss(self, group: DupGroup) -> bool:
        """Ask once before dismissing; tests replace this method."""
        answer = QMessageBox.question(
            self.window, "Not duplicates",
            f"Hide these {plural(len(group.photos), 'photo')} as not duplicates? They are not "
            "grouped again; Dismissed groups… lists them and restores them.",
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def show_dismissed(self) -> None:
        """Read the dismissed groups in a worker, then list them with Restore."""
        library = self.library
        if library is None:
            return
        worker = Worker(
            lambda _abort: library.decisions.dismissed_groups(), name="photosim-dismissed"
        )
        worker.finished.connect(lambda groups: library is self.library
                                and self._open_dismissed(groups))  # fmt: skip
        worker.errored.connect(self._on_failed)
        self._dismissed_worker = worker
        worker.start()

    def _open_dismissed(self, groups: list[Dismissed]) -> DismissedDialog:
        self.dismissed_dialog = DismissedDialog(groups, self.restore_dismissed, self.window)
        self.dismissed_dialog.show()
        return self.dismissed_dialog

    def restore_dismissed(self, groups: list[Dismissed]) -> None:
        """Make these dismissed groups findable again (written in a worker), then find again."""
        library = self.library
        if library is None or not groups:
            return

        def write() -> None:
            for g in groups:
                library.decisions.restore_dismissed(g.hashes)

        self.writes.write(write, "photosim-restore")
        self.restored_groups.emit({p for g in groups for p in g.paths})
        self.note.emit(f"Restored {plural(len(groups), 'dismissed group')}.")
        self.changed.emit()

    # -- reference folders --------------------------------------------------------
    def edit_reference_folders(self, current: list[Path]) -> None:
        if self.library is None:
            return
        dialog = ReferenceDialog(current, self.window)  # as read by the last grouping
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_reference_folders(dialog.folders())

    def set_reference_folders(self, folders: list[Path]) -> None:
        """Store the reference folders with the library (in a worker), then find again."""
        library = self.library
        if library is None:
            return
        worker = Worker(lambda _abort: library.decisions.set_reference_folders(folders),
                        name="photosim-references")  # fmt: skip
        worker.finished.connect(lambda _none: library is self.library and self.changed.emit())
        worker.errored.connect(self._on_failed)
        self._references_worker = worker
        self.busy.emit("Saving the reference folders…")
        worker.start()
