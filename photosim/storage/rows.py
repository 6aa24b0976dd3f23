"""What each part of the library's tables works over: the store's connection of the calling
thread and its transactions. :class:`~photosim.storage.store.Store` owns one of each part
(photo queries, vectors, duplicate rows) and hands them itself; SQL lives only in
``photosim.storage``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import sqlite_utils


class Connections(Protocol):
    """A library's connections: one per thread, and one transaction per unit of work."""

    @property
    def db(self) -> sqlite_utils.Database: ...

    def atomic(self) -> AbstractContextManager[sqlite_utils.Database]: ...


class Rows:
    """One part of the library's tables (composition, not a mixin of the store)."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection."""
        return self._connections.db

    def atomic(self) -> AbstractContextManager[sqlite_utils.Database]:
        """One unit of work as one transaction (the store's ``BEGIN IMMEDIATE`` block)."""
        return self._connections.atomic()
