"""The app's commands: each pane registers the actions it owns, by menu name and section.

The menu bar is built from them in one place (never patched by position), in the order
of ``MENUS``; within a menu, actions sort by section and then by registration, with a
separator where the hundreds of the section change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

MENUS = {"file": "&File", "edit": "&Edit", "view": "&View", "library": "&Library",
         "help": "&Help"}  # fmt: skip
Shortcut = QKeySequence | QKeySequence.StandardKey | str | None


@dataclass
class _Entry:
    section: int
    order: int
    item: QAction | QMenu


class Commands:
    """Actions registered by their owners; ``build(bar)`` lays them out as menus."""

    def __init__(self) -> None:
        self._entries: dict[str, list[_Entry]] = {name: [] for name in MENUS}
        self.menus: dict[str, QMenu] = {}

    def add(self, owner: QObject, menu: str, text: str, slot: Callable[[], object], *,
            shortcut: Shortcut = None, icon: str | None = None, section: int = 100,
            tip: str = "") -> QAction:  # fmt: skip
        """An action of ``owner`` (its parent) in ``menu``; returned for enabling and tests."""
        action = QAction(QIcon.fromTheme(icon) if icon else QIcon(), text, owner)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self._add(menu, section, action)
        return action

    def actions(self) -> list[tuple[str, QAction]]:
        """Every registered action with its menu's name, in menu order (the shortcuts list)."""
        return [(name, entry.item) for name in MENUS
                for entry in sorted(self._entries[name], key=lambda e: (e.section, e.order))
                if isinstance(entry.item, QAction)]  # fmt: skip

    def submenu(self, owner: QWidget, menu: str, title: str, *, section: int = 100) -> QMenu:
        """A submenu of ``menu`` that its owner fills (Open Recent, Remove Folder)."""
        sub = QMenu(title, owner)
        self._add(menu, section, sub)
        return sub

    def _add(self, menu: str, section: int, item: QAction | QMenu) -> None:
        entries = self._entries[menu]
        entries.append(_Entry(section, len(entries), item))

    def build(self, bar: QMenuBar) -> dict[str, QMenu]:
        """The menus, in ``MENUS`` order; empty menus are left out."""
        for name, title in MENUS.items():
            entries = sorted(self._entries[name], key=lambda e: (e.section, e.order))
            if not entries:
                continue
            menu = self.menus[name] = bar.addMenu(title)
            group = entries[0].section // 100
            for entry in entries:
                if entry.section // 100 != group:
                    menu.addSeparator()
                    group = entry.section // 100
                if isinstance(entry.item, QMenu):
                    menu.addMenu(entry.item)
                else:
                    menu.addAction(entry.item)
        return self.menus
