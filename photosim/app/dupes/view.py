"""The Duplicates view: groups of identical / same-picture / similar photos, keep/remove marks.

It assembles the parts and shows what they say: :class:`DuplicateSearch` finds and
groups in workers (a count while it searches, and Cancel), :class:`GroupMarks` holds
the marks (the engine's policy, ``photosim.dupes.keep``), :class:`Cleanup` owns the
actions on files and decisions (trash, undo, not duplicates, reference folders).
Regrouping is debounced while a slider moves. Nothing here reads or writes the
library or a file on the GUI thread.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from photosim.api import DupGroup, DupProgress, DupResult, Library, MarkRefused
from photosim.app.browse.panes import human_size
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.dupes.cards import MarkDelegate, MemberView
from photosim.app.dupes.cleanup import Cleanup, LibraryWrites
from photosim.app.dupes.compare import CompareDialog
from photosim.app.dupes.filters import FilterBar
from photosim.app.dupes.marks import GroupMarks
from photosim.app.dupes.models import KIND_LABEL, GroupModel, MemberModel, member_name
from photosim.app.dupes.search import DuplicateSearch, Grouping, progress_text
from photosim.app.messages import describe
from photosim.core.text import plural

DEBOUNCE_MS = 200
REFUSED = {
    MarkRefused.REFERENCE: "Photos in reference folders are always kept.",
    MarkRefused.LAST_KEPT: "Keep at least one photo of each group; "
    "use Not duplicates to dismiss a group.",
}


class DuplicatesView(QWidget):
    """Groups on the left, the selected group's photos on the right, actions below.

    Signals (GUI thread): ``regrouped(DupResult)`` after each grouping is shown;
    ``trashed(list[str])`` after a move to the trash; ``restored(list[str])``
    after an undo; ``summary(str)`` a short count for the tab title.
    """

    regrouped = Signal(object)
    trashed = Signal(list)
    restored = Signal(list)
    summary = Signal(str)

    def __init__(self, thumbnails: Thumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.library: Library | None = None
        self.result: DupResult | None = None
        self.groups: list[DupGroup] = []  # shown: the result less the dismissed groups
        self.marks = GroupMarks()
        self.dismissed: list[frozenset[Path]] = []
        self.stale = True
        self.cancelled = False  # the last search was stopped by the user
        self._thresholds_known = False
        self.compare_dialog: CompareDialog | None = None
        self.search = DuplicateSearch(self)
        self.writes = LibraryWrites(self)
        self.cleanup = Cleanup(self.writes, self)
        self.debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.debounce.timeout.connect(self.regroup)
        self._build()
        self._connect()
        self._set_busy(None)
        self._update_totals()

    # -- building -----------------------------------------------------------------
    def _build(self) -> None:
        self.filters = FilterBar()
        self.kind_boxes = self.filters.kind_boxes
        self.near_slider, self.similar_slider = (
            self.filters.near_slider,
            self.filters.similar_slider,
        )
        self.refresh_button = QPushButton("Find again")
        self.refresh_button.setToolTip("Look for duplicates again (after a scan or a change)")
        self.reference_button = QPushButton("Reference folders…")
        self.reference_button.setToolTip("Folders of originals that are never proposed for removal")
        top = QHBoxLayout()
        top.addWidget(self.filters)
        top.addStretch()
        top.addWidget(self.reference_button)
        top.addWidget(self.refresh_button)

        self.group_model = GroupModel(self.thumbnails, self.marks.freed, self)
        self.tree = QTreeView()
        self.tree.setModel(self.group_model)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(32, 32))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for col, width in enumerate((130, 52, 70, 180)):
            self.tree.setColumnWidth(col, width)
        self.members = MemberModel(self.thumbnails, self)
        self.member_view = MemberView()
        self.member_view.setObjectName("duplicate_members")
        self.delegate = MarkDelegate(180, self.member_view)
        self.member_view.setItemDelegate(self.delegate)
        self.member_view.setModel(self.members)
        self.member_view.setViewMode(QListView.ViewMode.IconMode)
        self.member_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.member_view.setMovement(QListView.Movement.Static)
        self.member_view.setUniformItemSizes(True)
        self.member_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.group_title = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.not_dupes_button = QPushButton("Not duplicates")
        self.not_dupes_button.setToolTip("These are not duplicates: hide the group (asks once; "
                                         "Dismissed groups… restores it)")  # fmt: skip
        self.toggle_button = QPushButton("Keep / Remove (Space)")
        self.compare_button = QPushButton("Compare (C)")
        self.compare_button.setToolTip("The suggested keeper beside the selected photo "
                                       "(or double-click a photo)")  # fmt: skip
        group_buttons = QHBoxLayout()
        for button in (self.toggle_button, self.compare_button, self.not_dupes_button):
            group_buttons.addWidget(button)
        group_buttons.addStretch()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.group_title)
        right_layout.addWidget(self.member_view, 1)
        right_layout.addLayout(group_buttons)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.tree)
        self.split.addWidget(right)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setSizes([540, 660])

        self.total_label = QLabel()
        self.note = QLabel(wordWrap=True)  # the last action's outcome, or why it was refused
        self.note.setStyleSheet("color: palette(link)")
        self.busy = QProgressBar(maximumWidth=160, textVisible=False)
        self.busy.setRange(0, 0)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop looking for duplicates (the groups shown stay)")
        self.apply_button = QPushButton("Apply suggested keepers to all groups")
        self.trash_button = QPushButton("Move marked to trash…")
        self.undo_button = QPushButton("Undo last move")
        self.undo_button.setToolTip("Bring back the photos of the last move from the trash")
        self.undo_button.setEnabled(False)  # until the journal says there is a move to undo
        self.dismissed_button = QPushButton("Dismissed groups…")
        self.dismissed_button.setToolTip('Groups you marked "Not duplicates": list and restore')
        bottom = QHBoxLayout()
        bottom.addWidget(self.total_label)
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.busy)
        for button in (self.cancel_button, self.apply_button, self.trash_button,
                       self.undo_button, self.dismissed_button):  # fmt: skip
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.split, 1)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        self.filters.changed.connect(self.debounce.start)  # a dragged slider regroups once it rests
        self.refresh_button.clicked.connect(self.refresh)
        self.cancel_button.clicked.connect(self.search.cancel)
        self.reference_button.clicked.connect(
            lambda: self.cleanup.edit_reference_folders(self.marks.references)
        )
        self.tree.selectionModel().currentRowChanged.connect(self._on_group_selected)
        self.member_view.badge_clicked.connect(self.toggle_rows)
        self.member_view.doubleClicked.connect(lambda index: self.compare_member(index.row()))
        self.toggle_button.clicked.connect(self.toggle_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.not_dupes_button.clicked.connect(self.not_duplicates)
        self.apply_button.clicked.connect(self.apply_suggested)
        self.trash_button.clicked.connect(self.move_marked_to_trash)
        self.undo_button.clicked.connect(self.cleanup.undo_last_move)
        self.dismissed_button.clicked.connect(self.cleanup.show_dismissed)
        self.search.progressed.connect(self._on_progress)
        self.search.found.connect(lambda _finder: self.regroup())
        self.search.grouped.connect(self._on_grouped)
        self.search.cancelled.connect(self._on_cancelled)
        self.search.failed.connect(self._on_failed)
        self.cleanup.busy.connect(self._set_busy)
        self.cleanup.note.connect(self.note.setText)
        self.cleanup.failed.connect(self._on_failed)
        self.cleanup.undo_possible.connect(self.undo_button.setEnabled)
        self.cleanup.trashed.connect(self._on_trashed)
        self.cleanup.restored.connect(self._on_restored)
        self.cleanup.restored_groups.connect(self._on_restored_groups)
        self.cleanup.changed.connect(self.invalidate)
        self.writes.failed.connect(lambda exc: self.note.setText(describe(exc)))
        for key, slot in ((Qt.Key.Key_Space, self.toggle_selected), ("C", self.compare_selected)):
            shortcut = QShortcut(QKeySequence(key), self.member_view, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- the library and the search -----------------------------------------------
    def set_library(self, library: Library | None) -> None:
        """Show ``library``'s duplicates (found when the view is next shown); None clears."""
        self.release()
        self.library, self.result, self.groups = library, None, []
        self.search.set_library(library)
        self.cleanup.set_library(library)
        self.marks.clear()
        self.dismissed, self.stale, self.cancelled = [], True, False
        self._thresholds_known = False
        self._show_groups()
        if library is not None and self.isVisible():
            self.refresh()

    def release(self) -> None:
        """Stop background work that uses the library (before it is closed), never waiting."""
        self.debounce.stop()
        self.search.release()
        self.cleanup.release()
        self._set_busy(None)

    def invalidate(self) -> None:
        """The library changed (a scan ended, a decision): find again now if shown, else
        when shown."""
        self.stale = True
        if self.isVisible() and self.library is not None:
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stale and self.library is not None and not self.search.finding:
            self.refresh()

    def refresh(self) -> None:
        """Build the duplicate finder in a worker (the slow step), then group."""
        if self.library is None:
            return
        self.stale = self.cancelled = False
        self._set_busy("Looking for duplicates… (this reads every photo once; later it is quick)")
        self.cancel_button.setVisible(True)
        self.search.find(self.writes.running())

    def _on_progress(self, progress: DupProgress) -> None:
        if not self.search.finding:
            return  # a late report of a search stopped since
        self.total_label.setText(f"Looking for duplicates: {progress_text(progress)}…")
        if progress.total > 0:
            self.busy.setRange(0, progress.total)
            self.busy.setValue(progress.done)
        else:
            self.busy.setRange(0, 0)

    def _on_cancelled(self) -> None:
        """The user stopped the search: the groups shown before stay, else a sentence."""
        self.cancelled = True
        self._set_busy(None)
        self._update_totals()
        shown = "the groups shown are from the last search" if self.result else "nothing is shown"
        self.note.setText(f"Search cancelled: {shown}. Find again looks for duplicates.")
        if not self.groups:
            self._on_group_selected()

    # -- grouping ---------------------------------------------------------------
    def regroup(self) -> None:
        """Ask the finder for groups with the current kinds and thresholds (off the GUI thread)."""
        if self.search.finder is None:
            return
        near, similar = self.filters.thresholds() if self._thresholds_known else (None, None)
        self._set_busy("Grouping…")
        self.search.group(self.filters.kinds(), near, similar)

    def _on_grouped(self, grouping: Grouping) -> None:
        result = self.result = grouping.result
        if not self._thresholds_known:  # the calibrated thresholds, the first time
            self._thresholds_known = True
            self.filters.set_thresholds(result.thresholds.near, result.thresholds.similar)
        refs = grouping.references  # read in the worker too
        self.reference_button.setText(f"Reference folders ({len(refs)})…" if refs
                                      else "Reference folders…")  # fmt: skip
        self.groups = [g for g in result.groups if not self._dismissed(g)]
        self.marks.regroup(self.groups, refs)
        self._set_busy(None)
        self._show_groups()
        self.regrouped.emit(result)

    def _dismissed(self, group: DupGroup) -> bool:
        if not self.dismissed:
            return False
        paths = frozenset(m.path for m in group.photos)
        return any(paths <= gone for gone in self.dismissed)

    # -- showing ------------------------------------------------------------------
    def _show_groups(self) -> None:
        selected = self.current_group()
        self.group_model.set_groups(self.groups)
        row = next((r for r, g in enumerate(self.groups) if selected and g.id == selected.id), 0)
        self.select_row(row)
        self._update_totals()

    def select_row(self, row: int) -> None:
        """Make group ``row`` the current one (clamped; none when there are no groups)."""
        if self.groups:
            self.tree.setCurrentIndex(self.group_model.index(min(row, len(self.groups) - 1), 0))
        self._on_group_selected()

    def _empty_text(self) -> str:
        if self.library is None:
            return "Open a folder of photos to look for duplicates."
        if self.result is None:
            if self.cancelled:
                return "The search was cancelled. Find again looks for duplicates."
            return "Looking for duplicates…" if self.busy.isVisible() else ""
        return "No duplicates with these settings. Lower a slider or tick more kinds to see more."

    def current_group(self) -> DupGroup | None:
        index = self.tree.currentIndex()
        return (
            self.groups[index.row()] if index.isValid() and index.row() < len(self.groups) else None
        )

    def _on_group_selected(self, *_args) -> None:
        group = self.current_group()
        self.members.set_group(group, self.marks.of(group) if group else {})
        for button in (self.toggle_button, self.compare_button, self.not_dupes_button):
            button.setEnabled(group is not None)
        if group is None:
            self.group_title.setText(self._empty_text())
            return
        gap = f" · {group.gap_s:.0f} s apart" if group.gap_s else ""
        similar = group.kind == "similar"
        keep = "best shot" if similar else "keep"
        hint = "Other shots are kept unless you mark them; c" if similar else "C"
        keeper = member_name(group, group.keep)
        self.group_title.setText(
            f"<b>{KIND_LABEL.get(group.kind, group.kind)}</b> · "
            f"{plural(len(group.photos), 'photo')}{gap} · {keep} <b>{keeper}</b>: "
            f"{group.keep_reason} · frees {human_size(self.marks.freed(group))}<br>"
            f"<span style='color:gray'>{hint}lick a badge to switch keep / remove; "
            f"double-click a photo to compare it with the keeper.</span>"
        )

    def _update_totals(self) -> None:
        counts = [self.marks.count(g) for g in self.groups]
        marked, freed = sum(c[0] for c in counts), sum(c[1] for c in counts)
        if self.result is None:
            text = "" if self.library is None else "Duplicates are looked for when this tab opens."
        else:
            text = (f"{plural(len(self.groups), 'group')} · "
                    f"{plural(marked, 'photo')} marked for the trash · "
                    f"frees {human_size(freed)}")  # fmt: skip
        self.total_label.setText(text)
        self.trash_button.setEnabled(bool(marked))
        self.apply_button.setEnabled(bool(self.groups))
        self.summary.emit(f"{len(self.groups)}" if self.result is not None else "")

    def _set_busy(self, text: str | None) -> None:
        self.busy.setVisible(text is not None)
        self.busy.setRange(0, 0)
        if text:
            self.total_label.setText(text)
        self.cancel_button.setVisible(text is not None and self.search.finding)
        self.refresh_button.setEnabled(text is None and self.library is not None)

    def _on_failed(self, exc: BaseException) -> None:
        self._set_busy(None)
        if self.library is None:
            return  # a search stopped because its library closed
        self._update_totals()
        self.note.setText(describe(exc))

    # -- marks --------------------------------------------------------------------
    def marked_paths(self) -> list[Path]:
        """Every photo marked remove in the groups shown."""
        return [path for path, _size in self.marks.removed(self.groups)]

    def mark(self, path: Path | str, remove: bool) -> bool:
        """Mark a photo of the current group; False (and why, below) when that is not allowed."""
        group = self.current_group()
        if group is None:
            return False
        key = str(path)
        refused = self.marks.mark(group, key, remove)
        if refused is not None:
            self.note.setText(REFUSED[refused])
            return False
        self.note.clear()
        self.cleanup.remember(key, remove, self.marks.keeps(group))
        self.members.set_marks(self.marks.of(group))
        if self.tree.currentIndex().isValid():
            self.group_model.row_changed(self.tree.currentIndex().row())
        self._on_group_selected()
        self._update_totals()
        return True

    def toggle_rows(self, *rows: int) -> None:
        for row in rows:
            member = self.members.members[row]
            self.mark(member.path, self.members.marks.get(str(member.path)) == "keep")

    def toggle_selected(self) -> None:
        rows = sorted(i.row() for i in self.member_view.selectionModel().selectedIndexes())
        if not rows and self.member_view.currentIndex().isValid():
            rows = [self.member_view.currentIndex().row()]
        self.toggle_rows(*rows)

    def apply_suggested(self) -> None:
        """Every group back to its suggested marks; the photos the user marked keep stay kept."""
        kept = self.marks.reset(self.groups)
        self._show_groups()
        mine = f"; the {plural(kept, 'other photo')} you marked keep stay kept" if kept else ""
        self.note.setText(f"Marks reset to the suggested keepers{mine}.")

    # -- actions: the cleanup's, on what is shown -----------------------------------
    def move_marked_to_trash(self) -> bool:
        """Move every photo marked remove to the system trash (asked first)."""
        size = sum(self.marks.freed(g) for g in self.groups)
        return self.cleanup.move_to_trash(self.marks.removed(self.groups), size)

    def not_duplicates(self) -> None:
        """The current group is not duplicates (asked once): hidden, remembered by the library."""
        group = self.current_group()
        if group is None or not self.cleanup.not_duplicates(group):
            return
        self.dismissed.append(frozenset(m.path for m in group.photos))
        row = self.tree.currentIndex().row()
        self.groups = [g for g in self.groups if g.id != group.id]
        self.marks.drop(group.id)
        self._show_groups()
        self.select_row(row)  # the next group

    def _on_restored_groups(self, paths: set[Path]) -> None:
        self.dismissed = [d for d in self.dismissed if not d & paths]

    def _on_trashed(self, paths: list[str]) -> None:
        """Forget trashed photos in the groups shown now; the finder is rebuilt next."""
        gone = {Path(p) for p in paths}
        kept = []
        for group in self.groups:
            photos = tuple(m for m in group.photos if m.path not in gone)
            if len(photos) < 2:
                self.marks.drop(group.id)
                continue
            keep = group.keep if group.keep not in gone else photos[0].path
            kept.append(replace(group, photos=photos, keep=keep))
        self.groups = kept
        self.marks.forget_counts()
        self.search.forget()
        self.stale = True
        self._show_groups()
        self.trashed.emit(paths)

    def _on_restored(self, paths: list[str]) -> None:
        self._update_totals()
        self.restored.emit(paths)

    # -- compare ------------------------------------------------------------------
    def compare_member(self, row: int) -> CompareDialog | None:
        """Compare the member at ``row`` with the keeper (the keeper with the next photo)."""
        group = self.current_group()
        if group is None:
            return None
        if self.compare_dialog is None:
            self.compare_dialog = CompareDialog(self)
        return self.compare_dialog.show_member(group, row)

    def compare_selected(self) -> CompareDialog | None:
        index = self.member_view.currentIndex()
        return self.compare_member(index.row() if index.isValid() else 1)
