"""The Duplicates view: groups of exact / near / similar photos, keep/remove marks, safe cleanup.

The engine does the work (``photosim.dupes.finder``): ``Library.duplicate_finder``
is slow and runs in a worker; ``DuplicateFinder.group`` is fast and runs in a
worker too, debounced, whenever the kind filter or a threshold slider moves.
Marks live here, per group: the suggested keeper is pre-marked keep, the
others remove; photos in reference folders are always kept. "Move marked to
trash" asks first (count and size), then goes through ``photosim.dupes.trash``
(system trash and a journal, undoable); nothing here deletes or writes a photo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from photosim.api import DupGroup, DuplicateFinder, Library, Mark, regroup_marks, suggested_marks
from photosim.app.browse.panes import human_size
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.dupes.compare import CompareDialog
from photosim.app.dupes.parts import (
    KIND_LABEL,
    CleanupMixin,
    GroupModel,
    MarkDelegate,
    MemberModel,
    MemberView,
)
from photosim.app.messages import describe
from photosim.app.workers import Runner, Worker
from photosim.core.paths import is_under

KINDS = ("exact", "near", "similar")
KIND_PLURAL = {"exact": "Exact copies", "near": "Same pictures", "similar": "Similar shots"}
DEBOUNCE_MS = 200


class DuplicatesView(CleanupMixin, QWidget):
    """Groups on the left, the selected group's photos on the right, actions below.

    Signals (GUI thread): ``regrouped(DupResult)`` after each grouping is shown;
    ``trashed(list[str])`` after a move to the trash; ``restored(list[str])``
    after an undo; ``summary(str)`` a short count for the tab title.
    """

    regrouped = Signal(object)
    trashed = Signal(list)
    restored = Signal(list)
    summary = Signal(str)
    step = Signal(str)  # the slow search's current step (from its worker thread)

    def __init__(self, thumbnails: Thumbnails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.library = None
        self.finder = None
        self.result = None
        self.groups: list = []  # shown: the result less the dismissed groups
        self.marks: dict[str, dict[str, str]] = {}  # group id -> path -> keep/remove/reference
        self.dismissed: list[frozenset[Path]] = []
        self.stale = True
        self._thresholds_known = False
        self._cancel = threading.Event()
        self.compare_dialog: CompareDialog | None = None
        self._counts: dict[str, tuple[int, int]] = {}  # group id -> (marked, bytes freed)
        self.kept: set[str] = set()  # paths the user marked keep (never turned to remove)
        self._refs: list[Path] = []  # the library's reference folders, read once per grouping
        self.writes: list[Worker] = []  # marks being written to the library
        self.find_runner, self.group_runner, self.trash_runner = (Runner(parent=self)
                                                                   for _ in range(3))  # fmt: skip
        self.debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.debounce.timeout.connect(self.regroup)
        self._build()
        self._connect()
        self._set_busy(None)
        self._update_totals()

    # -- building -----------------------------------------------------------------
    def _build(self) -> None:
        self.kind_boxes = {k: QCheckBox(KIND_PLURAL[k]) for k in KINDS}
        for kind, box in self.kind_boxes.items():
            box.setChecked(True)
            box.setToolTip({"exact": "Byte-identical files", "near": "The same picture, altered: "
                            "re-saved, resized, rotated, cropped a little, brightened",
                            "similar": "Other shots of the same scene (bursts, other takes)"}[kind])  # fmt: skip
        self.near_slider, self.near_label = self._slider(
            "Same picture: the model's score from which a pair is checked on its pixels (lower "
            "checks more pairs; only pixels that agree make a group). Starts calibrated."
        )
        self.similar_slider, self.similar_label = self._slider(
            "Similar shots: the lowest similarity score shown. Starts calibrated for your model."
        )
        self.refresh_button = QPushButton("Find again")
        self.refresh_button.setToolTip("Look for duplicates again (after a scan or a change)")
        self.reference_button = QPushButton("Reference folders…")
        self.reference_button.setToolTip("Folders of originals that are never proposed for removal")
        top = QHBoxLayout()
        for box in self.kind_boxes.values():
            top.addWidget(box)
        top.addSpacing(12)
        for text, slider, label in (("Same picture ≥", self.near_slider, self.near_label),
                                    ("Similar ≥", self.similar_slider, self.similar_label)):  # fmt: skip
            top.addWidget(QLabel(text))
            top.addWidget(slider)
            top.addWidget(label)
        top.addStretch()
        top.addWidget(self.reference_button)
        top.addWidget(self.refresh_button)

        self.group_model = GroupModel(self.thumbnails, self.freed, self)
        self.tree = QTreeView()
        self.tree.setModel(self.group_model)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(32, 32))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for col, width in enumerate((140, 52, 70, 130)):
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
        self.apply_button = QPushButton("Apply suggested keepers to all groups")
        self.trash_button = QPushButton("Move marked to trash…")
        self.undo_button = QPushButton("Undo last move")
        self.undo_button.setToolTip("Bring back the photos of the last move from the trash")
        self.undo_button.setEnabled(False)  # until the journal says there is a move to undo
        self.undo_runner = Runner("photosim-undo-check", self)
        self.dismissed_button = QPushButton("Dismissed groups…")
        self.dismissed_button.setToolTip('Groups you marked "Not duplicates": list and restore')
        bottom = QHBoxLayout()
        bottom.addWidget(self.total_label)
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.busy)
        for button in (self.apply_button, self.trash_button, self.undo_button,
                       self.dismissed_button):  # fmt: skip
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.split, 1)
        layout.addLayout(bottom)

    def _slider(self, tip: str) -> tuple[QSlider, QLabel]:
        slider = QSlider(Qt.Orientation.Horizontal, minimum=500, maximum=1000, value=900)
        slider.setFixedWidth(130)
        slider.setToolTip(tip)
        label = QLabel("0.900")
        return slider, label

    def _connect(self) -> None:
        for box in self.kind_boxes.values():
            box.toggled.connect(self._on_filter)
        for slider, label in ((self.near_slider, self.near_label),
                              (self.similar_slider, self.similar_label)):  # fmt: skip
            slider.valueChanged.connect(lambda v, lab=label: lab.setText(f"{v / 1000:.3f}"))
            slider.valueChanged.connect(self._on_filter)
        self.refresh_button.clicked.connect(self.refresh)
        self.reference_button.clicked.connect(self.edit_reference_folders)
        self.tree.selectionModel().currentRowChanged.connect(self._on_group_selected)
        self.member_view.badge_clicked.connect(self.toggle_rows)
        self.member_view.doubleClicked.connect(lambda index: self.compare_member(index.row()))
        self.toggle_button.clicked.connect(self.toggle_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.not_dupes_button.clicked.connect(self.not_duplicates)
        self.apply_button.clicked.connect(self.apply_suggested)
        self.trash_button.clicked.connect(self.move_marked_to_trash)
        self.undo_button.clicked.connect(self.undo_last_move)
        self.undo_runner.done.connect(self.undo_button.setEnabled)
        self.dismissed_button.clicked.connect(self.show_dismissed)
        self.find_runner.done.connect(self._on_finder)
        self.step.connect(self._on_step)
        self.group_runner.done.connect(self._on_grouped)
        self.trash_runner.done.connect(self._on_trash_done)
        for runner in (self.find_runner, self.group_runner, self.trash_runner):
            runner.failed.connect(self._on_failed)
        for key, slot in ((Qt.Key.Key_Space, self.toggle_selected), ("C", self.compare_selected)):
            shortcut = QShortcut(QKeySequence(key), self.member_view, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- the library and the finder -----------------------------------------------
    def set_library(self, library: Library | None) -> None:
        """Show ``library``'s duplicates (found when the view is next shown); None clears."""
        self.release()
        self.library, self.finder, self.result, self.groups = library, None, None, []
        self.marks, self.dismissed, self.stale, self.kept = {}, [], True, set()
        self._thresholds_known = False
        self._show_groups()
        self.check_undo()
        if library is not None and self.isVisible():
            self.refresh()

    def check_undo(self) -> None:
        """Enable Undo last move only when the journal holds a move not undone (read in a
        worker)."""
        library = self.library
        if library is None:
            self.undo_runner.cancel()
            self.undo_button.setEnabled(False)
            return
        self.undo_runner.submit(library.can_undo)

    def release(self) -> None:
        """Stop background work that uses the library (before it is closed), never waiting:
        the search sees its cancel flag and ends in the background; late answers are dropped."""
        self._cancel.set()
        self.debounce.stop()
        for runner in (self.find_runner, self.group_runner, self.trash_runner):
            runner.cancel()
        self._cancel = threading.Event()

    def invalidate(self) -> None:
        """The library changed (a scan ended): find again now if shown, else when shown."""
        self.stale = True
        if self.isVisible() and self.library is not None:
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stale and self.library is not None and not self._finding:
            self.refresh()

    @property
    def _finding(self) -> bool:
        return self.busy.isVisible() and self.finder is None

    def refresh(self) -> None:
        """Build the duplicate finder in a worker (the slow step), then group."""
        library = self.library
        if library is None:
            return
        self.stale, self.finder = False, None
        cancel = self._cancel
        self._set_busy("Looking for duplicates… (this reads every photo once; later it is quick)")
        step = self.step.emit  # from the worker; delivered on the GUI thread (queued)
        writes = list(self.writes)

        def find() -> tuple:
            for write in writes:  # marks still being written count in this search
                write.join()
            return library, library.duplicate_finder(
                references=library.reference_folders(), cancel=cancel, progress=step
            )

        self.find_runner.submit(find)

    def _on_step(self, step: str) -> None:
        if self.busy.isVisible() and self.finder is None:
            self.total_label.setText(f"Looking for duplicates: {step}…")

    def set_finder(self, finder: DuplicateFinder) -> None:
        """Use ``finder`` (a ``DuplicateFinder``) and group now."""
        self.finder = finder
        self.regroup()

    def _on_finder(self, outcome) -> None:
        library, finder = outcome
        if library is self.library and library is not None:  # not a late answer for another one
            self.set_finder(finder)

    # -- grouping ---------------------------------------------------------------
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, box in self.kind_boxes.items() if box.isChecked())

    def _on_filter(self, *_args) -> None:
        self.debounce.start()  # a dragged slider regroups once it rests

    def regroup(self) -> None:
        """Ask the finder for groups with the current kinds and thresholds (off the GUI thread)."""
        finder = self.finder
        if finder is None:
            return
        kinds = self.kinds()
        near = similar = None
        if self._thresholds_known:
            near, similar = self.near_slider.value() / 1000, self.similar_slider.value() / 1000
        self._set_busy("Grouping…")
        library = self.library
        self.group_runner.submit(lambda: (finder, finder.group(kinds, near=near, similar=similar),
                                          library.reference_folders() if library else []))  # fmt: skip

    def _on_grouped(self, outcome) -> None:
        finder, result, refs = outcome  # the reference folders: read in the worker too
        if finder is not self.finder:
            return  # grouped by a finder replaced since (another library, a refresh)
        self.result = result
        if not self._thresholds_known:  # the calibrated thresholds, the first time
            self._thresholds_known = True
            for slider, value in ((self.near_slider, result.thresholds.near),
                                  (self.similar_slider, result.thresholds.similar)):  # fmt: skip
                slider.blockSignals(True)
                slider.setValue(round(value * 1000))
                slider.blockSignals(False)
                slider.valueChanged.emit(slider.value())  # the label; the debounce restarts
            self.debounce.stop()
        self._refs = refs
        count = f" ({len(self._refs)})" if self._refs else ""
        self.reference_button.setText(f"Reference folders{count}…")
        self.groups = [g for g in result.groups if not self._dismissed(g)]
        # the marks shown before, by path (a group found again after a trash or an undo has
        # another id): a KEEP never turns into REMOVE (dupes.keep.regroup_marks)
        before = {p: m for marks in self.marks.values() for p, m in marks.items()}
        self.marks = {}
        for g in self.groups:
            previous = {str(m.path): before[str(m.path)] for m in g.photos if str(m.path) in before}
            self.marks[g.id] = regroup_marks(g, previous, self._refs, self.kept)
        self._counts.clear()
        self._set_busy(None)
        self._show_groups()
        self.regrouped.emit(result)

    def _dismissed(self, group) -> bool:
        if not self.dismissed:
            return False
        paths = frozenset(m.path for m in group.photos)
        return any(paths <= gone for gone in self.dismissed)

    def _reference(self, member) -> bool:
        return bool(member.reference) or is_under(member.path, self._refs)

    def _suggested(self, group) -> dict[str, str]:
        """Copies of the keeper remove; similar shots, the user's keeps and the keeper keep."""
        return suggested_marks(group, self._refs, self.kept)

    def _enforce(self, group) -> None:
        """The group's marks made whole again: reference photos kept, new members suggested."""
        self.marks[group.id] = regroup_marks(group, self.marks.get(group.id), self._refs, self.kept)

    # -- showing ------------------------------------------------------------------
    def _show_groups(self) -> None:
        selected = self.current_group()
        self.group_model.set_groups(self.groups)
        row = next((r for r, g in enumerate(self.groups) if selected and g.id == selected.id), 0)
        self.select_row(row)
        self._update_totals()

    def select_row(self, row: int) -> None:
        """Make group ``row`` the current one (clamped; none when there are no groups)."""
        if not self.groups:
            self._on_group_selected()
            return
        self.tree.setCurrentIndex(self.group_model.index(min(row, len(self.groups) - 1), 0))
        self._on_group_selected()

    def _empty_text(self) -> str:
        if self.library is None:
            return "Open a folder of photos to look for duplicates."
        if self.result is None:
            return "Looking for duplicates…" if self.busy.isVisible() else ""
        return "No duplicates with these settings. Lower a slider or tick more kinds to see more."

    def current_group(self) -> DupGroup | None:
        index = self.tree.currentIndex()
        return (
            self.groups[index.row()] if index.isValid() and index.row() < len(self.groups) else None
        )

    def _on_group_selected(self, *_args) -> None:
        group = self.current_group()
        self.members.set_group(group, self.marks.get(group.id, {}) if group else {})
        for button in (self.toggle_button, self.compare_button, self.not_dupes_button):
            button.setEnabled(group is not None)
        if group is None:
            self.group_title.setText(self._empty_text())
            return
        gap = f" · {group.gap_s:.0f} s apart" if group.gap_s else ""
        similar = group.kind == "similar"
        keep = "best shot" if similar else "keep"
        hint = "Other shots are kept unless you mark them; c" if similar else "C"
        self.group_title.setText(
            f"<b>{KIND_LABEL.get(group.kind, group.kind)}</b> · {len(group.photos)} photos{gap} · "
            f"{keep} <b>{group.keep.name}</b>: {group.keep_reason} · "
            f"frees {human_size(self.freed(group))}<br><span style='color:gray'>{hint}lick a "
            f"badge to switch keep / remove; double-click a photo to compare it with the "
            f"keeper.</span>"
        )

    def _update_totals(self) -> None:
        counts = [self._count(g) for g in self.groups]
        marked, freed = sum(c[0] for c in counts), sum(c[1] for c in counts)
        if self.result is None:
            text = "" if self.library is None else "Duplicates are looked for when this tab opens."
        else:
            text = (f"{len(self.groups)} groups · {marked} photos marked for the trash · "
                    f"frees {human_size(freed)}")  # fmt: skip
        self.total_label.setText(text)
        self.trash_button.setEnabled(bool(marked))
        self.apply_button.setEnabled(bool(self.groups))
        self.summary.emit(f"{len(self.groups)}" if self.result is not None else "")

    def _set_busy(self, text: str | None) -> None:
        self.busy.setVisible(text is not None)
        if text:
            self.total_label.setText(text)
        self.refresh_button.setEnabled(text is None and self.library is not None)

    def _on_failed(self, exc: BaseException) -> None:
        self._set_busy(None)
        if self.library is None:
            return  # a search stopped because its library closed
        self._update_totals()
        self.note.setText(describe(exc))

    # -- marks --------------------------------------------------------------------
    def freed(self, group: DupGroup) -> int:
        """Bytes the group's remove marks free (a hard link frees nothing)."""
        return self._count(group)[1]

    def _count(self, group) -> tuple[int, int]:
        """(photos marked remove, bytes they free) of a group; cached until its marks change."""
        count = self._counts.get(group.id)
        if count is None:
            marks = self.marks.get(group.id, {})
            removed = [m for m in group.photos if marks.get(str(m.path)) == "remove"]
            freed = sum(m.size for m in removed if m.hardlink_of is None)
            count = self._counts[group.id] = (len(removed), freed)
        return count

    def marked_paths(self) -> list[Path]:
        """Every photo marked remove in the groups shown."""
        return [m.path for g in self.groups for m in g.photos
                if self.marks.get(g.id, {}).get(str(m.path)) == "remove"]  # fmt: skip

    def mark(self, path: Path | str, remove: bool) -> bool:
        """Mark a photo of the current group; False (and why, below) when that is not allowed."""
        group = self.current_group()
        if group is None:
            return False
        marks, key = self.marks[group.id], str(path)
        if marks.get(key) == "reference":
            self.note.setText("Photos in reference folders are always kept.")
            return False
        keeps = [p for p, v in marks.items() if v != "remove" and p != key]
        if remove and not keeps:
            self.note.setText("Keep at least one photo of each group; "
                                     "use Not duplicates to dismiss a group.")  # fmt: skip
            return False
        marks[key] = Mark.REMOVE if remove else Mark.KEEP
        self._counts.pop(group.id, None)
        self.note.clear()
        if self.library is not None:
            self._remember(self.library, group, key, remove)
        self.members.marks_changed()
        self._after_marks(group)
        return True

    def _remember(self, library, group, key: str, remove: bool) -> None:
        """The user's word, by content (in a worker): every photo the user now sees kept in
        the group stays kept through regroups, trash and undo; one marked remove forgets it."""
        if remove:
            self.kept.discard(key)
            self._write(lambda: library.unmark_keep(Path(key)), "photosim-keep")
            return
        keeps = [p for p, v in self.marks[group.id].items() if v == Mark.KEEP]
        self.kept.update(keeps)

        def write() -> None:
            for path in keeps:
                library.mark_keep(Path(path))

        self._write(write, "photosim-keep")

    def _write(self, fn: Callable[[], object], name: str) -> None:
        """A mark written to the library in a worker, after the writes before it (in order);
        the next search waits for it there."""
        before = [w for w in self.writes if w.running()]

        def run(_abort) -> object:
            for write in before:
                write.join()
            return fn()

        worker = Worker(run, name=name)
        worker.errored.connect(lambda exc: self.note.setText(describe(exc)))
        self.writes = [*before, worker]
        worker.start()

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
        kept = 0
        for group in self.groups:
            self.marks[group.id] = marks = self._suggested(group)
            kept += sum(1 for m in group.photos
                        if marks[str(m.path)] == Mark.KEEP and m.path != group.keep)  # fmt: skip
        self._counts.clear()
        self._show_groups()
        mine = f"; the {kept} other photos you marked keep stay kept" if kept else ""
        self.note.setText(f"Marks reset to the suggested keepers{mine}.")

    def _after_marks(self, group) -> None:
        if self.tree.currentIndex().isValid():
            self.group_model.row_changed(self.tree.currentIndex().row())
        self._on_group_selected()
        self._update_totals()
