"""What the user decided about a library's duplicates: pairs that are not, photos to keep,
reference folders, and moves to the trash (journalled by photosim.dupes.trash, undoable).

Kept apart from finding duplicates: each decision is a small write to the store (and bumps
its decision counter, so a finder reloads them), and none needs the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from photosim.core.errors import NotInLibrary
from photosim.core.events import Photo
from photosim.storage.store import Store

if TYPE_CHECKING:
    from photosim.dupes.trash import TrashRecord, UndoResult
    from photosim.dupes.types import Dismissed


class Decisions:
    """The duplicate decisions of the library in ``store`` (see module docstring).

    ``roots`` gives the library's folders now (they change as folders are added);
    ``photo`` looks a path up as the library does (through symlinked folders too).
    """

    def __init__(
        self,
        store: Store,
        db_path: Path,
        roots: Callable[[], Sequence[Path]],
        photo: Callable[[str | Path], Photo | None],
    ) -> None:
        self.store, self.db_path = store, db_path
        self._roots, self._photo = roots, photo

    # -- marks ------------------------------------------------------------------
    def mark_not_duplicates(self, paths: Sequence[Path]) -> None:
        """Remember that these photos (a pair or a whole group) are not duplicates."""
        hashes = self._hashes_of(paths)
        with self.store.atomic():
            self.store.dupes.add_not_duplicates(hashes)
            self.store.bump_decisions()

    def mark_keep(self, path: Path) -> None:
        """Remember that this photo is to be kept (by content: survives renames and rescans)."""
        hashes = self._hashes_of([path])
        with self.store.atomic():
            self.store.dupes.add_keep(hashes[0], str(Path(path).expanduser().absolute()))
            self.store.bump_decisions()

    def unmark_keep(self, path: Path) -> None:
        """Forget the keep mark of this photo's content (the user marked it for removal)."""
        hashes = self._hashes_of([path])
        with self.store.atomic():
            self.store.dupes.remove_keep(hashes[0])
            self.store.bump_decisions()

    def dismissed_groups(self) -> list[Dismissed]:
        """The groups (and pairs) marked "not duplicates", with their files now."""
        from photosim.dupes.finder import dismissed_groups

        return dismissed_groups(
            self.store.dupes.not_duplicate_pairs(), self.store.photos.photo_rows()
        )

    def restore_dismissed(self, hashes: Sequence[str]) -> None:
        """Undo "not duplicates" among these contents: they may be grouped again."""
        with self.store.atomic():
            self.store.dupes.remove_not_duplicates(hashes)
            self.store.bump_decisions()

    def _hashes_of(self, paths: Sequence[Path | str]) -> list[str]:
        out = []
        for path in paths:
            record = self._photo(path)
            if record is None or not record.hash:
                raise NotInLibrary(path)
            out.append(record.hash)
        return out

    # -- reference folders --------------------------------------------------------
    def reference_folders(self) -> list[Path]:
        """Folders whose photos are never proposed for removal."""
        return [Path(p) for p in self.store.meta_paths("reference_folders")]

    def set_reference_folders(self, folders: Sequence[Path | str]) -> None:
        folders = [str(Path(f).expanduser().absolute()) for f in folders]
        with self.store.atomic():
            self.store.set_meta(reference_folders=json.dumps(folders))

    # -- the trash ------------------------------------------------------------------
    @property
    def trash_journal(self) -> Path:
        """The journal of this library's moves to the trash, beside its database."""
        from photosim.dupes.trash import journal_path

        return journal_path(self.db_path)

    def move_to_trash(self, paths: Sequence[Path]) -> TrashRecord:
        """Move photos of this library (and their companions) to the system trash, never
        one outside its folders or in a reference folder; journalled, so it can be undone."""
        from photosim.dupes import trash

        refs = self.reference_folders()
        return trash.move_to_trash(self.store, self._roots(), self.trash_journal, paths, refs)

    def undo_last_move(self) -> UndoResult:
        """Bring the photos of the last move back from the trash, with their rows."""
        from photosim.dupes import trash

        return trash.undo_last(self.store, self._roots(), self.trash_journal)

    def can_undo(self) -> bool:
        """Whether the last move to the trash can be undone now."""
        from photosim.dupes import trash

        return trash.can_undo(self.trash_journal)
