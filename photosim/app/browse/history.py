"""The similarity walk's Back/Forward list, as in a web browser."""

from __future__ import annotations


class History:
    """The similarity walk's Back/Forward list, as in a web browser."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.pos = -1

    def push(self, path: str) -> None:
        """``path`` was selected by the user: it ends the list (forward steps are dropped)."""
        del self.paths[self.pos + 1 :]
        if not self.paths or self.paths[-1] != path:
            self.paths.append(path)
        self.pos = len(self.paths) - 1

    def can_back(self) -> bool:
        return self.pos > 0

    def can_forward(self) -> bool:
        return self.pos < len(self.paths) - 1

    def back(self) -> str | None:
        if not self.can_back():
            return None
        self.pos -= 1
        return self.paths[self.pos]

    def forward(self) -> str | None:
        if not self.can_forward():
            return None
        self.pos += 1
        return self.paths[self.pos]
