"""Measure the Duplicates view's side of a regroup: showing N groups after the engine's group().

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_dupes_app.py [--groups 5000]

A threshold change costs the engine's ``DuplicateFinder.group`` (off the GUI
thread; measured by the engine's own benchmark) plus what is timed here on the
GUI thread: marks for every group, the group table, the totals. Synthetic
groups of three photos (no files: thumbnails fail fast). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PHOTOSIM_HOME", tempfile.mkdtemp(prefix="photosim-bench-"))

from PySide6.QtWidgets import QApplication

from photosim.app.browse.thumbnails import Thumbnails
from photosim.app.dupes.search import Grouping
from photosim.app.dupes.view import DuplicatesView
from photosim.dupes.finder import DupGroup, DupKind, DupMember, DupResult, Thresholds


def synthetic(n: int) -> DupResult:
    groups = []
    for i in range(n):
        members = tuple(
            DupMember(path=Path(f"/nowhere/{i:06d}_{j}.jpg"), score=1.0 if j == 0 else 0.97,
                      reason="same picture, smaller, pixels agree 0.99", size=2_000_000 >> j,
                      width=4000 >> j, height=3000 >> j, taken=None, hash=f"{i}-{j}")
            for j in range(3)
        )  # fmt: skip
        kind = (DupKind.EXACT, DupKind.NEAR, DupKind.SIMILAR)[i % 3]
        groups.append(DupGroup(f"g{i}", kind, members[0].path, "more pixels", members,
                               sum(m.size for m in members[1:])))  # fmt: skip
    return DupResult(tuple(groups), sum(g.reclaimable for g in groups), Thresholds(0.9, 0.8))


class _Finder:
    def __init__(self, result: DupResult) -> None:
        self.result = result

    def group(self, kinds=("exact", "near", "similar"), near=None, similar=None) -> DupResult:
        return self.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    view = DuplicatesView(Thumbnails())
    view.resize(1280, 800)
    view.show()
    result = synthetic(args.groups)
    finder = view.search.finder = _Finder(result)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        view._on_grouped(Grouping(finder, result, []))
        app.processEvents()  # the table paints its visible rows
        times.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    view.mark(view.groups[0].photos[1].path, remove=False)
    app.processEvents()
    mark_ms = (time.perf_counter() - start) * 1000
    print(f"{args.groups:,} groups shown after a regroup: median {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}, {args.repeat} runs)")  # fmt: skip
    print(f"one keep/remove mark with {args.groups:,} groups: {mark_ms:.1f} ms")
    view.release()


if __name__ == "__main__":
    main()
