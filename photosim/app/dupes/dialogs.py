"""Dialogs of the Duplicates view: the trash confirmation that lists the files, the groups
dismissed as "not duplicates" with Restore, and the reference folders. Their data is read
before they open (the trash list from the groups shown; the dismissed groups in a worker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photosim.api import Dismissed, human_size
from photosim.core.text import plural


class TrashDialog(QDialog):
    """ "Move N photos (size) to the trash?" with every file and its size, scrollable."""

    def __init__(self, files: Sequence[tuple[Path, int]], parent=None, companions: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move to the trash")
        total = sum(size for _path, size in files)
        count = len(files)
        text = f"Move {plural(count, 'photo')} ({human_size(total)}) to the trash?"
        if companions:
            text += (f" {plural(companions, 'file')} that go with them "
                     "(a RAW's JPEG, sidecars, Live Photo videos) move too.")  # fmt: skip
        text += " You can bring them back with Undo last move or from the system trash."
        head = QLabel(text, wordWrap=True)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for path, size in files:
            self.list.addItem(f"{human_size(size):>9}   {path}")
        buttons = QDialogButtonBox()
        self.move_button = buttons.addButton(
            "Move to trash", QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(720, 420)


class DismissedDialog(QDialog):
    """The groups marked "not duplicates"; Restore makes the selected ones findable again."""

    def __init__(
        self, groups: Sequence[Dismissed], restore: Callable[[list[Dismissed]], None], parent=None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Dismissed groups")
        self.groups = list(groups)
        self._restore = restore
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for group in self.groups:
            names = ", ".join(p.name for p in group.paths[:4])
            more = f" and {len(group.paths) - 4} more" if len(group.paths) > 4 else ""
            item = QListWidgetItem(f"{plural(len(group.paths), 'photo')}: {names}{more}")
            item.setToolTip("\n".join(str(p) for p in group.paths))
            self.list.addItem(item)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Find these photos as duplicates again")
        self.restore_button.clicked.connect(self.restore_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        text = ("Groups you marked “Not duplicates” (remembered by the photos' content)."
                if self.groups else "No group is marked “Not duplicates”.")  # fmt: skip
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(text, wordWrap=True))
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.restore_button.setEnabled(bool(self.groups))
        self.resize(560, 340)

    def restore_selected(self) -> None:
        rows = sorted({i.row() for i in self.list.selectedIndexes()})
        if not rows:
            return
        chosen = [self.groups[r] for r in rows]
        for r in reversed(rows):
            self.list.takeItem(r)
            del self.groups[r]
        self._restore(chosen)
        self.restore_button.setEnabled(bool(self.groups))
        self.list.setFocus(Qt.FocusReason.OtherFocusReason)


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
