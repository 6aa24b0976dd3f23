"""Qt models of the Duplicates view: the groups (one row each) and one group's photos.

Names follow the grid's rule (:func:`photosim.core.text.name_in_folder`): a photo's
file name, with its folder's name where another photo of the group has the same name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QObject, QSize, Qt
from PySide6.QtGui import QIcon

from photosim.api import DupGroup, DupMember, Mark
from photosim.app.browse.panes import human_size
from photosim.app.browse.roles import ErrorRole, PathRole, ScoreRole, ThumbRole
from photosim.app.browse.thumbnails import Thumbnails
from photosim.core.text import name_in_folder

MarkRole = Qt.ItemDataRole.UserRole + 20  # "keep" | "remove" | "reference"
GROUP_COLUMNS = ("Kind", "Photos", "Frees", "Suggested keeper", "Why")
# as the CLI says them (exact / near / similar), in words
KIND_LABEL = {"exact": "Identical files", "near": "Same picture", "similar": "Similar shots"}
KIND_TIPS = {
    "exact": "Identical files (exact): byte for byte the same file, in several places",
    "near": "The same picture, altered: re-saved, resized, rotated, cropped a little, brightened",
    "similar": "Other shots of the same scene (bursts, other takes)",
}
ROW_HEIGHT = 36  # every group row: the keeper's 32 px icon and a margin, loaded or not


def member_name(group: DupGroup, path: Path) -> str:
    """``path``'s name in ``group``: with its folder where another member has the same name."""
    names = Counter(m.path.name for m in group.photos)
    return name_in_folder(str(path), names)


class GroupModel(QAbstractTableModel):
    """The groups shown, one row each; keeper thumbnails are asked for only when painted."""

    def __init__(
        self, thumbnails: Thumbnails, freed: Callable[[object], int], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.thumbnails, self.freed = thumbnails, freed
        self.groups: list[DupGroup] = []
        self._rows_of_keeper: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._on_thumbnail)

    def set_groups(self, groups: list[DupGroup]) -> None:
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
                return member_name(group, group.keep)
            return group.photos[1].reason if len(group.photos) > 1 else ""
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            pixmap = self.thumbnails.get(str(group.keep))
            return QIcon(pixmap) if pixmap is not None else None  # an icon scales to iconSize
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(-1, ROW_HEIGHT)  # a regroup or a late thumbnail never moves the rows
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
        self.group: DupGroup | None = None
        self.members: list[DupMember] = []
        self.marks: dict[str, Mark] = {}
        self._names: Counter = Counter()
        thumbnails.ready.connect(self._on_thumbnail)
        thumbnails.failed.connect(self._on_thumbnail)

    def set_group(self, group: DupGroup | None, marks: dict[str, Mark]) -> None:
        self.beginResetModel()
        self.group, self.members, self.marks = group, list(group.photos) if group else [], marks
        self._names = Counter(m.path.name for m in self.members)
        self.endResetModel()

    def set_marks(self, marks: dict[str, Mark]) -> None:
        self.marks = marks
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
            return name_in_folder(path, self._names)
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
