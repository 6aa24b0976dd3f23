"""Help > Keyboard Shortcuts (F1): every menu command with a shortcut, and the keys of the
grid and the viewer, in one list built from the commands themselves."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout

# Keys that belong to a widget rather than to a menu command.
VIEW_KEYS = [
    ("Photos", "Enter or double-click", "Open the photo full-window"),
    ("Photos", "Arrow keys", "Move through the grid"),
    ("Photos", "Esc", "Clear the filter"),
    ("Photos", "Backspace", "Back to the previous photo of the similarity walk"),
    ("Viewer", "Right, Space, Page Down", "Next photo"),
    ("Viewer", "Left, Page Up", "Previous photo"),
    ("Viewer", "Home, End", "First, last photo"),
    ("Viewer", "+, -, mouse wheel", "Zoom in, out"),
    ("Viewer", "1", "Actual pixels (1:1)"),
    ("Viewer", "F or 0", "Fit to window"),
    ("Viewer", "Drag", "Pan a zoomed photo"),
    ("Viewer", "Esc or double-click", "Back to the grid"),
]


class ShortcutsDialog(QDialog):
    """The list of shortcuts: ``(where, keys, what)`` rows."""

    def __init__(self, rows: list[tuple[str, str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.table.setHeaderLabels(["Where", "Keys", "What"])
        for row in rows:
            QTreeWidgetItem(self.table, list(row))
        for column in range(3):
            self.table.resizeColumnToContents(column)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(640, 520)
