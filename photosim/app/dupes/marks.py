"""The keep / remove marks of the groups shown, by group and path.

The policy is the engine's (``photosim.dupes.keep``: ``suggested_marks``,
``regroup_marks``, ``change_mark``, ``marked_for_removal``); this holds the marks of
what the view shows and the photos the user said to keep this session, and caches
each group's count. Qt-free and quick: it runs on the GUI thread, touching no file.
"""

from __future__ import annotations

from pathlib import Path

from photosim.api import (
    DupGroup,
    Mark,
    MarkRefused,
    change_mark,
    marked_for_removal,
    regroup_marks,
    suggested_marks,
)


class GroupMarks:
    """Marks per group id (path -> Mark); ``kept`` paths the user marked keep."""

    def __init__(self) -> None:
        self.by_group: dict[str, dict[str, Mark]] = {}
        self.kept: set[str] = set()  # never turned to remove by a regroup or a reset
        self.references: list[Path] = []  # the library's reference folders, as last read
        self._counts: dict[str, tuple[int, int]] = {}

    def clear(self) -> None:
        self.by_group, self.kept, self._counts = {}, set(), {}

    def __getitem__(self, group_id: str) -> dict[str, Mark]:
        return self.by_group[group_id]

    def of(self, group: DupGroup) -> dict[str, Mark]:
        return self.by_group.get(group.id, {})

    def regroup(self, groups: list[DupGroup], references: list[Path]) -> None:
        """Marks for newly found groups: those shown before carry over by path (a group found
        again after a trash or an undo has another id); a KEEP never turns into REMOVE."""
        self.references = references
        before = {p: m for marks in self.by_group.values() for p, m in marks.items()}
        self.by_group = {}
        for g in groups:
            previous = {str(m.path): before[str(m.path)] for m in g.photos if str(m.path) in before}
            self.by_group[g.id] = regroup_marks(g, previous, references, self.kept)
        self._counts.clear()

    def reset(self, groups: list[DupGroup]) -> int:
        """Every group back to its suggestion; returns how many photos stay kept only
        because the user said so."""
        kept = 0
        for group in groups:
            marks = self.by_group[group.id] = suggested_marks(group, self.references, self.kept)
            kept += sum(1 for m in group.photos
                        if marks[str(m.path)] == Mark.KEEP and m.path != group.keep)  # fmt: skip
        self._counts.clear()
        return kept

    def mark(self, group: DupGroup, path: str, remove: bool) -> MarkRefused | None:
        """Mark ``path`` of ``group``; the refusal when the policy does not allow it."""
        marks, refused = change_mark(self.of(group), path, remove)
        if refused is not None:
            return refused
        self.by_group[group.id] = marks
        self._counts.pop(group.id, None)
        if remove:
            self.kept.discard(path)
        else:
            self.kept.update(p for p, v in marks.items() if v == Mark.KEEP)
        return None

    def keeps(self, group: DupGroup) -> list[str]:
        """The paths of ``group`` marked KEEP."""
        return [p for p, v in self.of(group).items() if v == Mark.KEEP]

    def drop(self, group_id: str) -> None:
        self.by_group.pop(group_id, None)
        self._counts.pop(group_id, None)

    def forget_counts(self) -> None:
        self._counts.clear()

    def count(self, group: DupGroup) -> tuple[int, int]:
        """(photos marked remove, bytes they free) of a group; cached until its marks change."""
        found = self._counts.get(group.id)
        if found is None:
            found = self._counts[group.id] = marked_for_removal(group, self.of(group))
        return found

    def freed(self, group: DupGroup) -> int:
        return self.count(group)[1]

    def removed(self, groups: list[DupGroup]) -> list[tuple[Path, int]]:
        """(path, size) of every photo marked remove in ``groups``."""
        return [(m.path, m.size) for g in groups for m in g.photos
                if self.of(g).get(str(m.path)) == Mark.REMOVE]  # fmt: skip
