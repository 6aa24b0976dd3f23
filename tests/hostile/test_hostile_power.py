"""Power loss (issue 18, finding 3): what a scan committed survives a power cut.

A power cut leaves the disk as of the last fsync. The child scan runs under an LD_PRELOAD
shim that copies ``library.db`` and ``library.db-wal`` at every fsync of them; after the
scan is killed (SIGKILL) mid-way, those copies are the disk the power cut left. Every
batch the scan had reported as embedded (it reports after the commit) more than twice the
sync period (``SYNC_EVERY_S``, 1 s: a margin for a loaded machine) before the cut must be in it; before, none was (NORMAL
synchronous mode synced the WAL only at checkpoints). Decisions are synced at each commit.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from conftest import write_photo

from hostile.helpers import child
from photosim.storage.store import SYNC_EVERY_S

SCAN = """
import sys, time
from conftest import make_tiny_backbone
from photosim.core.events import ScanKind
from photosim.library import Library
backbone = make_tiny_backbone()
embed = backbone.embed
def slow(batch):
    time.sleep(0.3)  # a real model takes longer: the kill lands mid-scan
    return embed(batch)
backbone.embed = slow
lib = Library([sys.argv[1]], sys.argv[2], backbone=backbone)
for ev in lib.scan(batch_size=4, workers=1):
    if ev.kind == ScanKind.EMBEDDED:
        print(ev.embedded, flush=True)
print("done", flush=True)
"""


def _durable_vectors(db: Path, image: Path) -> int:
    """Vectors in the library as the last fsyncs left it."""
    image.mkdir()
    for name, src in (("library.db", Path(f"{db}.durable")),
                      ("library.db-wal", Path(f"{db}-wal.durable"))):  # fmt: skip
        if src.exists():
            (image / name).write_bytes(src.read_bytes())
    if not (image / "library.db").exists():
        return 0
    conn = sqlite3.connect(image / "library.db")
    try:
        return int(conn.execute("select count(*) from vectors").fetchone()[0])
    except sqlite3.OperationalError:  # no tables reached the disk
        return 0
    finally:
        conn.close()


def test_committed_batches_survive_a_power_cut(tmp_path, fsync_shim):
    root = tmp_path / "photos"
    for seed in range(60):
        write_photo(root / f"p{seed:02}.jpg", size=(64, 48), seed=seed)
    db = tmp_path / "lib" / "library.db"
    code = SCAN.replace("sys.argv[1]", repr(str(root))).replace("sys.argv[2]", repr(str(db)))
    proc = child(code, tmp_path / "home", env={"LD_PRELOAD": str(fsync_shim)})
    reports: list[tuple[float, int]] = []  # (when, vectors embedded and committed)
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            if line.strip().isdigit():
                reports.append((time.monotonic(), int(line)))
            if (reports and reports[-1][1] >= 44) or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGKILL)  # the power cut
        cut = time.monotonic()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert reports and reports[-1][1] >= 44, proc.stderr.read()
    settled = max((n for when, n in reports if when < cut - 2 * SYNC_EVERY_S), default=0)
    assert settled >= 8  # the test saw batches old enough to have been synced
    assert _durable_vectors(db, tmp_path / "after-the-cut") >= settled


MARK = """
import sys, time
from conftest import make_tiny_backbone
from photosim.library import Library
lib = Library(db_path=DB, backbone=make_tiny_backbone())
if sys.argv[-1] != "mark":
    lib = Library([ROOT], DB, backbone=make_tiny_backbone())
    list(lib.scan(batch_size=4, workers=1))
    lib.close()
    sys.exit(0)
lib.decisions.mark_keep(lib.photos()[0].path)
lib.decisions.mark_not_duplicates([p.path for p in lib.photos()[1:3]])
print("marked", flush=True)
time.sleep(60)
"""


def test_decisions_are_durable_when_the_call_returns(tmp_path, fsync_shim):
    root = tmp_path / "photos"
    for seed in range(4):
        write_photo(root / f"p{seed}.jpg", size=(64, 48), seed=seed)
    db = tmp_path / "lib" / "library.db"
    code = MARK.replace("DB", repr(str(db))).replace("ROOT", repr(str(root)))
    made = child(code, tmp_path / "home")
    assert made.wait(timeout=120) == 0, made.stderr.read()
    assert not Path(f"{db}-wal").exists()  # closed cleanly: the file itself is the disk
    Path(f"{db}.durable").write_bytes(db.read_bytes())
    marking = code.replace('sys.argv[-1] != "mark"', "False")
    proc = child(marking, tmp_path / "home", env={"LD_PRELOAD": str(fsync_shim)})
    try:
        assert proc.stdout.readline().strip() == "marked", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)  # the power cut, right after the calls returned
    finally:
        proc.kill()
        proc.wait(timeout=30)
    image = tmp_path / "after-the-cut"
    _durable_vectors(db, image)
    conn = sqlite3.connect(image / "library.db")
    assert conn.execute("select count(*) from dup_keep").fetchone()[0] == 1
    assert conn.execute("select count(*) from dup_not_pairs").fetchone()[0] == 1
    conn.close()


def test_the_trash_journal_is_synced_with_its_folder_when_made(tmp_path, monkeypatch):
    """A journal record is fsynced before the move returns; the journal's first record
    also syncs its folder, or a power cut could lose the new file's name."""
    import os
    import stat

    from photosim.dupes import trash

    synced: list[str] = []
    fsync = os.fsync

    def spy(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    journal = trash.journal_path(tmp_path / "lib" / "library.db")
    trash._append(journal, {"action": "trash", "id": "1"})
    trash._append(journal, {"action": "trash", "id": "2"})
    assert synced == ["file", "folder", "file"]
