"""Power loss (issue 18, finding 3): what a scan committed survives a power cut.

A power cut leaves the disk as of the last fsync. The child scan runs under an LD_PRELOAD
shim that copies ``library.db`` and ``library.db-wal`` at every fsync of them; after the
scan is killed (SIGKILL) mid-way, those copies are the disk the power cut left. Every
batch the scan had reported as embedded (it reports after the commit) must be in it.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from conftest import write_photo

from hostile.helpers import child

SCAN = """
import sys, time
from conftest import make_tiny_backbone
from photosim.core.events import ScanKind
from photosim.library import Library
backbone = make_tiny_backbone()
embed = backbone.embed
def slow(batch):
    time.sleep(0.15)  # a real model takes longer: the kill lands mid-scan
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
    for seed in range(40):
        write_photo(root / f"p{seed:02}.jpg", size=(64, 48), seed=seed)
    db = tmp_path / "lib" / "library.db"
    code = SCAN.replace("sys.argv[1]", repr(str(root))).replace("sys.argv[2]", repr(str(db)))
    proc = child(code, tmp_path / "home", env={"LD_PRELOAD": str(fsync_shim)})
    reported = 0
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            if line.strip().isdigit():
                reported = int(line)
            if reported >= 12 or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGKILL)  # the power cut
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert reported >= 12, proc.stderr.read()
    assert _durable_vectors(db, tmp_path / "after-the-cut") >= reported
