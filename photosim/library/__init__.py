"""The library API the CLI and the app share: open, scan, query."""

from photosim.library.facade import Library
from photosim.library.registry import find_library_db, known_db_for, library_for_folder

__all__ = ["Library", "find_library_db", "known_db_for", "library_for_folder"]
