"""The item data roles of the browse models (what a view or delegate asks a row for) and the
grid's sort choices."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

PathRole = Qt.ItemDataRole.UserRole + 1  # str: absolute path
PhotoRole = Qt.ItemDataRole.UserRole + 2  # Photo or None (found, not recorded yet)
ThumbRole = Qt.ItemDataRole.UserRole + 3  # QPixmap or None (loading)
ErrorRole = Qt.ItemDataRole.UserRole + 4  # str: why it cannot be shown, or None
ScoreRole = Qt.ItemDataRole.UserRole + 5  # float in [0, 1] (neighbours only)
LabelRole = Qt.ItemDataRole.UserRole + 9  # str: a badge such as "RAW+JPG", or None
DateKeyRole = Qt.ItemDataRole.UserRole + 6  # str sort key: date taken, else file date
NameKeyRole = Qt.ItemDataRole.UserRole + 7
FolderKeyRole = Qt.ItemDataRole.UserRole + 8

Index = QModelIndex | QPersistentModelIndex

SORTS: dict[str, int] = {"Date taken": DateKeyRole, "Name": NameKeyRole, "Folder": FolderKeyRole}
