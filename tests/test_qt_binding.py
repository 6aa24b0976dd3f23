"""The Qt binding the app runs on keeps Python's objects alive (a guard on the PySide6 pin)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt


class _Model(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None  # what every model of the app answers for roles it does not know


def test_reading_none_from_a_model_does_not_drop_references_to_none(qapp):
    """PySide6 6.12.0 drops one reference to None per such read: the app crashed after
    a few hundred clicks with "deallocating None". pyproject pins PySide6 below it."""
    model = _Model()
    index = model.index(0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        index.data(Qt.ItemDataRole.UserRole)
    assert sys.getrefcount(None) - before > -100
