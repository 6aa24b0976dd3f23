"""Parts of the Duplicates view: a group's photos (model, badge delegate, view), reference folders.

Kept apart from ``view.py`` to keep each module short; only that view uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QMessageBox,
    QPushButton,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from photosim.api import DupGroup, DupMember
from photosim.app.browse.delegate import PAD, ThumbDelegate
from photosim.app.browse.models import ErrorRole, PathRole, ScoreRole, ThumbRole
from photosim.app.browse.panes import human_size
from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.dupes.compare import CompareDialog
from photosim.app.dupes.dialogs import DismissedDialog, TrashDialog
from photosim.app.workers import Worker

MarkRole = Qt.ItemDataRole.UserRole + 20  # "keep" | "remove" | "reference"
KEEP_COLOUR, REMOVE_COLOUR, REF_COLOUR = (
    QColor(46, 139, 87),
    QColor(192, 57, 43),
    QColor(52, 101, 164),
)


GROUP_COLUMNS = ("Kind", "Photos", "Frees", "Suggested keeper", "Why")
KIND_LABEL = {"exact": "Exact copy", "near": "Same picture", "similar": "Similar shot"}


class GroupModel(QAbstractTableModel):
    """The groups shown, one row each; keeper thumbnails are asked for only when painted."""

    def __init__(
        self, thumbnails: Thumbnails, freed: Callable[[object], int], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.thumbnails, self.freed = thumbnails, freed
        self.groups: list = []
        self._rows_of_keeper: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._on_thumbnail)

    def set_groups(self, groups: list) -> None:
        self.beginResetModel()
        self.groups = groups
        self._rows_of_keeper = {}
        for row, group in enumerate(groups):
            self._rows_of_keeper.setdefault(str(group.keep), []).append(row)
        self.endResetModel()

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(GROUP_COLUMNS) - 1))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.groups)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(GROUP_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return GROUP_COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.groups):
            return None
        group, col = self.groups[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return KIND_LABEL.get(group.kind, str(group.kind))
            if col == 1:
                return str(len(group.photos))
            if col == 2:
                return human_size(self.freed(group))
            if col == 3:
                return group.keep.name
            return group.photos[1].reason if len(group.photos) > 1 else ""
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            pixmap = self.thumbnails.get(str(group.keep))
            return QIcon(pixmap) if pixmap is not None else None  # an icon scales to iconSize
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 2):
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 3:
                return f"{group.keep}\nKeep: {group.keep_reason}"
            gap = f"\n{group.gap_s:.0f} s apart" if group.gap_s else ""
            return "\n".join(f"{m.path.name}: {m.reason}" for m in group.photos[1:8]) + gap
        return None

    def _on_thumbnail(self, path: str) -> None:
        for row in self._rows_of_keeper.get(path, ()):
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class MemberModel(QAbstractListModel):
    """The photos of one group, with their keep/remove marks, for the thumbnail delegate."""

    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.group = None
        self.members: list = []
        self.marks: dict[str, str] = {}
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    def set_group(self, group: DupGroup | None, marks: dict[str, str]) -> None:
        self.beginResetModel()
        self.group, self.members, self.marks = group, list(group.photos) if group else [], marks
        self.endResetModel()

    def marks_changed(self) -> None:
        if self.members:
            self.dataChanged.emit(self.index(0), self.index(len(self.members) - 1), [MarkRole])

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self.members)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.members):
            return None
        m = self.members[index.row()]
        path = str(m.path)
        if role == Qt.ItemDataRole.DisplayRole:
            return m.path.name
        if role == PathRole:
            return path
        if role == MarkRole:
            return self.marks.get(path, "keep")
        if role == ScoreRole:
            return None if m.path == self.group.keep else m.score
        if role == ErrorRole:
            return self.thumbnails.error(path)
        if role == ThumbRole:
            return self.thumbnails.get(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _member_tooltip(m, self.group)
        return None

    def _on_thumbnail(self, path: str, *_reason) -> None:
        for row, m in enumerate(self.members):
            if str(m.path) == path:
                self.dataChanged.emit(self.index(row), self.index(row), [ThumbRole, ErrorRole])


def _member_tooltip(m, group) -> str:
    lines = [str(m.path)]
    size = f"{m.width} × {m.height} px · " if m.width and m.height else ""
    lines.append(f"{size}{human_size(m.size)}" + (f" · taken {m.taken}" if m.taken else ""))
    if m.path == group.keep:
        lines.append(f"Suggested keeper: {group.keep_reason}")
    else:
        lines.append(f"{m.reason} (score {m.score:.3f})")
    if m.hardlink_of is not None:
        lines.append(f"Hard link of {m.hardlink_of}: moving it to the trash frees nothing.")
    if m.reference:
        lines.append("In a reference folder: always kept.")
    return "\n".join(lines)


class MarkDelegate(ThumbDelegate):
    """A thumbnail cell with a KEEP / REMOVE / REFERENCE badge; clicking the badge toggles it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        mark = index.data(MarkRole)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        square = QRect(option.rect.x() + PAD, option.rect.y() + PAD, self.side, self.side)
        if mark == "remove":
            painter.fillRect(square, QColor(192, 57, 43, 60))
        badge = self.badge_rect(option.rect, painter.fontMetrics(), mark)
        colour = {"keep": KEEP_COLOUR, "remove": REMOVE_COLOUR}.get(mark, REF_COLOUR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, _badge_text(mark))
        painter.restore()

    def badge_rect(self, cell: QRect, metrics: QFontMetrics, mark: str) -> QRect:
        w, h = metrics.horizontalAdvance(_badge_text(mark)) + 18, metrics.height() + 4
        return QRect(cell.x() + PAD + 4, cell.y() + PAD + 4, w, h)


def _badge_text(mark: str) -> str:
    return {"keep": "✓ KEEP", "remove": "✗ REMOVE"}.get(mark, "✓ REFERENCE")


class MemberView(QListView):
    """The group's photos; ``badge_clicked(row)`` when a keep/remove badge is clicked."""

    badge_clicked = Signal(int)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
            rect = self.itemDelegate().badge_rect(self.visualRect(index), self.fontMetrics(),
                                                  index.data(MarkRole))  # fmt: skip
            if rect.adjusted(-4, -4, 4, 4).contains(event.position().toPoint()):
                self.setCurrentIndex(index)
                self.badge_clicked.emit(index.row())
                return
        super().mousePressEvent(event)


class ReferenceDialog(QDialog):
    """The folders whose photos are never proposed for removal (originals, backups to protect)."""

    def __init__(self, folders: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reference folders")
        self.list = QListWidget()
        self.list.addItems([str(f) for f in folders])
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._on_add)
        remove.clicked.connect(lambda: [self.list.takeItem(self.list.row(i))
                                        for i in self.list.selectedItems()])  # fmt: skip
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)  # fmt: skip
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Photos in these folders are always kept: a group holding one "
                                "suggests it as the keeper and never marks it for removal."))  # fmt: skip
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(560, 320)

    def folders(self) -> list[Path]:
        return [Path(self.list.item(i).text()) for i in range(self.list.count())]

    def _on_add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Protect a folder", str(Path.home()))
        if folder and folder not in [str(f) for f in self.folders()]:
            self.list.addItem(folder)


class CleanupMixin:
    """The Duplicates view's actions on files and folders: compare, trash, undo, references.

    A mixin of ``DuplicatesView`` (kept apart to keep that module short); it uses
    the view's library, groups, marks, runners and labels.
    """

    # -- decisions ------------------------------------------------------------------
    def not_duplicates(self) -> None:
        """The current group is not duplicates, after one question: remembered by the library,
        hidden; "Dismissed groups…" lists it and restores it."""
        group = self.current_group()
        if group is None or self.library is None or not self.confirm_dismiss(group):
            return
        paths, library = [m.path for m in group.photos], self.library
        self._write(lambda: library.mark_not_duplicates(paths), "photosim-not-duplicates")
        self.dismissed.append(frozenset(paths))
        row = self.tree.currentIndex().row()
        self.groups = [g for g in self.groups if g.id != group.id]
        self.marks.pop(group.id, None)
        self._show_groups()
        self.select_row(row)  # the next group
        self.note.setText(f"Dismissed {len(paths)} photos as not duplicates; "
                          "Dismissed groups… brings them back.")  # fmt: skip

    def confirm_dismiss(self, group) -> bool:
        """Ask once before dismissing; tests replace this method."""
        answer = QMessageBox.question(
            self, "Not duplicates",
            f"Hide these {len(group.photos)} photos as not duplicates? They are not grouped "
            "again; Dismissed groups… lists them and restores them.",
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def show_dismissed(self) -> None:
        """Read the dismissed groups in a worker, then list them with Restore."""
        library = self.library
        if library is None:
            return
        worker = Worker(lambda _abort: library.dismissed_groups(), name="photosim-dismissed")
        worker.finished.connect(lambda groups: library is self.library
                                and self._open_dismissed(groups))  # fmt: skip
        worker.errored.connect(self._on_failed)
        self._dismissed_worker = worker
        worker.start()

    def _open_dismissed(self, groups) -> DismissedDialog:
        self.dismissed_dialog = DismissedDialog(groups, self.restore_dismissed, self)
        self.dismissed_dialog.show()
        return self.dismissed_dialog

    def restore_dismissed(self, groups) -> None:
        """Make these dismissed groups findable again (written in a worker), then find again."""
        library = self.library
        if library is None or not groups:
            return
        restored = {p for g in groups for p in g.paths}
        self.dismissed = [d for d in self.dismissed if not d & restored]

        def write() -> None:
            for g in groups:
                library.restore_dismissed(g.hashes)

        self._write(write, "photosim-restore")
        self.note.setText(
            f"Restored {len(groups)} dismissed group{'s' if len(groups) != 1 else ''}."
        )
        self.invalidate()

    # -- compare ------------------------------------------------------------------
    def compare_member(self, row: int) -> CompareDialog | None:
        """Compare the member at ``row`` with the keeper (the keeper with the next photo)."""
        group = self.current_group()
        if group is None or not 0 <= row < len(group.photos):
            return None
        member = group.photos[row]
        keeper = next(m for m in group.photos if m.path == group.keep) if any(
            m.path == group.keep for m in group.photos) else group.photos[0]  # fmt: skip
        other = member if member.path != keeper.path else group.photos[1 if row == 0 else 0]
        return self.compare(keeper, other)

    def compare_selected(self) -> CompareDialog | None:
        index = self.member_view.currentIndex()
        return self.compare_member(index.row() if index.isValid() else 1)

    def compare(self, left: DupMember, right: DupMember) -> CompareDialog:
        """Open the compare window on two members (left: the keeper)."""
        if self.compare_dialog is None:
            self.compare_dialog = CompareDialog(self)
        group = self.current_group()
        keep = group.keep if group else None
        titles = tuple("suggested keeper" if m.path == keep else m.reason for m in (left, right))
        self.compare_dialog.view.compare(left, right, titles)
        self.compare_dialog.show()
        self.compare_dialog.raise_()
        return self.compare_dialog

    # -- trash and undo -----------------------------------------------------------
    def confirm(self, count: int, size: int, companions: int = 0) -> bool:
        """Ask before moving, listing every marked file with its size; tests replace this."""
        files = [(m.path, m.size) for g in self.groups for m in g.photos
                 if self.marks.get(g.id, {}).get(str(m.path)) == "remove"]  # fmt: skip
        self.trash_dialog = TrashDialog(files, self, companions)
        return self.trash_dialog.exec() == QDialog.DialogCode.Accepted

    def move_marked_to_trash(self) -> bool:
        """Move every photo marked remove to the system trash, after a confirmation that
        counts the files going with them (found in a worker: it lists their folders)."""
        paths, library = self.marked_paths(), self.library
        if not paths or library is None:
            return False
        from photosim.api import companions_on_disk

        size = sum(self.freed(g) for g in self.groups)
        self._set_busy("Looking for the files that go with them…")
        self.trash_runner.submit(
            lambda: ("counted", (paths, size, sum(len(companions_on_disk(p)) for p in paths)))
        )
        return True

    def _move_confirmed(self, paths: list[Path], size: int, companions: int) -> None:
        library = self.library
        if library is None or not self.confirm(len(paths), size, companions):
            return
        self._set_busy(f"Moving {len(paths)} photos to the trash…")
        self.trash_runner.submit(lambda: ("trashed", library.move_to_trash(paths)))

    def undo_last_move(self) -> None:
        """Bring the photos of the last move back from the trash, where it allows it."""
        library = self.library
        if library is None:
            return
        self._set_busy("Bringing photos back from the trash…")
        self.trash_runner.submit(lambda: ("restored", library.undo_last_move()))

    def _on_trash_done(self, outcome) -> None:
        what, value = outcome
        self._set_busy(None)
        self.check_undo()
        if what == "counted":
            self._move_confirmed(*value)
        elif what == "trashed":
            gone = {Path(original) for original, _where in value.moved}
            self._drop_paths(gone)
            photos = len(gone) - value.companions
            text = f"Moved {photos} photos to the trash; Undo last move brings them back."
            if value.companions:
                text = text.replace(" to the trash", f" and {value.companions} files with them")
            if value.failed:
                path, reason = value.failed[0]
                text += f" {len(value.failed)} could not be moved ({path.name}: {reason})."
            self.note.setText(text)
            self.trashed.emit(sorted(str(p) for p in gone))
            self.invalidate()  # find again without them (now if shown)
        else:
            back = [str(p) for p in value.restored]
            text = (
                f"Brought back {len(back)} photos from the trash." if back else "Nothing to undo."
            )
            if value.skipped:  # the journal named files photosim may not move back
                path, reason = value.skipped[0]
                text += f" {len(value.skipped)} left where they are ({Path(path).name}: {reason})."
            self.note.setText(text)
            self._update_totals()
            self.restored.emit(back)
            self.invalidate()

    def _drop_paths(self, gone: set[Path]) -> None:
        """Forget trashed photos in the groups shown now; the finder is rebuilt when next shown."""
        kept = []
        for group in self.groups:
            photos = tuple(m for m in group.photos if m.path not in gone)
            if len(photos) < 2:
                self.marks.pop(group.id, None)
                continue
            keep = group.keep if group.keep not in gone else photos[0].path
            kept.append(replace(group, photos=photos, keep=keep))
        self.groups = kept
        self._counts.clear()
        self.finder, self.stale = None, True
        self._show_groups()

    # -- reference folders --------------------------------------------------------
    def edit_reference_folders(self) -> None:
        if self.library is None:
            return
        dialog = ReferenceDialog(self._refs, self)  # as read by the last grouping
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_reference_folders(dialog.folders())

    def set_reference_folders(self, folders: list[Path]) -> None:
        """Store the reference folders with the library (in a worker), then find again."""
        library = self.library
        if library is None:
            return
        worker = Worker(lambda _abort: library.set_reference_folders(folders),
                        name="photosim-references")  # fmt: skip
        worker.finished.connect(lambda _none: library is self.library and self.refresh())
        worker.errored.connect(self._on_failed)
        self._set_busy("Saving the reference folders…")
        worker.start()
