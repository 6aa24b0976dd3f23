"""A full disk (issue 18, finding 8): mid-scan, before a scan, where PHOTOSIM_HOME keeps
libraries.json, and where the index is written. Each ends in one sentence and exit 2 (or,
for the registry, which is only a convenience, in a scan that works without it), nothing
half-written stays behind, and a scan after space is freed completes.

Real: a small tmpfs in a private mount namespace (root and ``unshare``; skipped otherwise).
Simulated, always: SQLite's ``max_page_count`` (SQLite then fails exactly as on a full disk,
SQLITE_FULL), Annoy's "Unable to write ... (28)", and an ENOSPC from the registry's write.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import write_photo

from hostile.conftest import fake_load
from hostile.helpers import can_mount, run_mounted
from photosim.core import paths
from photosim.storage.store import Store


def _one_sentence(rc: int, err: str, words: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return rc == 2 and len(lines) == 1 and lines[0].startswith("photosim:") and words in err


def _leftovers(*folders: Path) -> list[str]:
    return [str(p) for f in folders if f.exists() for p in f.rglob("*")
            if p.name.endswith(".tmp") or p.name.startswith("tmp-")]  # fmt: skip


def _photos(root: Path, n: int, start: int = 0) -> Path:
    for seed in range(start, start + n):
        write_photo(root / f"p{seed:03}.jpg", size=(64, 48), seed=seed)
    return root


def test_sqlite_full_mid_scan_then_a_rescan_completes(tmp_path, cli, monkeypatch):
    root = _photos(tmp_path / "photos", 3)
    db = tmp_path / "lib" / "library.db"
    assert cli("scan", root, "--db", db)[0] == 0
    _photos(root, 60, start=3)
    connect = Store._connect

    def full_soon(self):
        conn = connect(self)
        pages = conn.execute("pragma page_count").fetchone()[0]
        conn.execute(f"pragma max_page_count = {pages + 4}")  # a few pages left on the disk
        return conn

    monkeypatch.setattr(Store, "_connect", full_soon)
    rc, err = cli("scan", root, "--db", db)
    assert _one_sentence(rc, err, "is full"), err
    monkeypatch.setattr(Store, "_connect", connect)  # space freed
    assert cli("scan", root, "--db", db)[0] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select count(*) from vectors").fetchone()[0] == 63
    assert not _leftovers(db.parent, tmp_path / "home")


def test_index_disk_full_is_one_sentence_and_leaves_no_build(tmp_path, cli, monkeypatch):
    import annoy

    root = _photos(tmp_path / "photos", 4)
    db = tmp_path / "lib" / "library.db"

    class FullDisk(annoy.AnnoyIndex):
        def save(self, *a, **k):
            raise OSError("Unable to write: No space left on device (28)")

    monkeypatch.setattr(annoy, "AnnoyIndex", FullDisk)
    rc, err = cli("scan", root, "--db", db)
    assert _one_sentence(rc, err, "is full"), err
    assert not _leftovers(db.parent)
    monkeypatch.undo()
    monkeypatch.setattr("photosim.models.embed.load_backbone", fake_load)
    monkeypatch.setenv("PHOTOSIM_HOME", str(tmp_path / "home"))
    assert cli("scan", root, "--db", db)[0] == 0
    assert cli("similar", root / "p001.jpg", "--db", db)[0] == 0


def test_registry_on_a_full_disk_leaves_no_temp_file_and_the_scan_works(tmp_path, cli,
                                                                      monkeypatch):  # fmt: skip
    root = _photos(tmp_path / "photos", 3)
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_home(path, mode="r"):  # only the registry's disk is full
        f = real_open(path, mode)
        return Full(f) if "libraries.json" in str(path) else f

    monkeypatch.setattr(paths, "open", full_home, raising=False)
    assert cli("scan", root)[0] == 0  # the library is written; only the registry is not
    assert not _leftovers(tmp_path / "home")
    with pytest.raises(OSError):
        paths.atomic_write_bytes(tmp_path / "libraries.json", b"{}")
    assert not list(tmp_path.glob(".libraries.json*"))


@pytest.mark.skipif(not can_mount(), reason="needs root and unshare for a small tmpfs")
def test_a_real_full_disk(tmp_path):
    """The library on an 8 MB tmpfs (~30 KB a photo): full mid-scan, full before the scan,
    then freed; and PHOTOSIM_HOME on a full tmpfs while the library's disk has room."""
    root = _photos(tmp_path / "photos", 6)
    more = _photos(tmp_path / "more", 120, start=6)
    disk, home = tmp_path / "disk", tmp_path / "fullhome"
    disk.mkdir()
    home.mkdir()
    script = f"""
disk, home, root, more = {str(disk)!r}, {str(home)!r}, {str(root)!r}, {str(more)!r}
db = disk + "/lib/library.db"
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk], check=True)
r = {{"setup": run(["scan", root, "--db", db])}}
filler = open(disk + "/filler", "wb", buffering=0)
try:
    while True:
        filler.write(b"x" * 4096)
except OSError:
    pass
filler.close()
r["full-before"] = run(["scan", more, "--db", db])
os.truncate(disk + "/filler", max(0, os.path.getsize(disk + "/filler") - 64 * 1024))
r["full-mid-scan"] = run(["scan", more, "--db", db])
os.unlink(disk + "/filler")
r["freed"] = run(["scan", more, "--db", db])
r["similar"] = run(["similar", more + "/p010.jpg", "--db", db])
r["leftovers"] = [n for _, _, names in os.walk(disk) for n in names
                  if n.endswith(".tmp") or n.startswith("tmp-")]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", home], check=True)
with open(home + "/filler", "wb", buffering=0) as f:
    try:
        while True:
            f.write(b"x" * 1024)
    except OSError:
        pass
os.environ["PHOTOSIM_HOME"] = home
r["home-full"] = run(["scan", root, "--db", disk + "/lib2/library.db"])
r["home-leftovers"] = [n for _, _, names in os.walk(home) for n in names if n.endswith(".tmp")]
print(json.dumps(r))
"""
    done = run_mounted(script, tmp_path / "home", timeout=240)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])  # 134: "terminate called"
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["setup"][0] == 0, r["setup"]
    for name in ("full-before", "full-mid-scan"):
        rc, err, _ = r[name]
        assert _one_sentence(rc, err, "is full"), (name, rc, err)
    assert r["freed"][0] == 0 and r["similar"][0] == 0, (r["freed"], r["similar"])
    assert "Embedded" in r["freed"][2]
    assert r["leftovers"] == [] and r["home-leftovers"] == [], r
    assert r["home-full"][0] == 0, r["home-full"]


MID_SCAN = """
import sqlite3
from photosim.storage.vectors import VectorRows
put, calls = VectorRows.put_vectors, []

def fills_the_disk(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:  # the third batch: decoders and the model are busy by now
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"
        raise exc
    return put(self, *args, **kwargs)

VectorRows.put_vectors = fills_the_disk
raise SystemExit(main(sys.argv[1:]))
"""


def test_disk_full_mid_embedding_exits_with_one_line_not_an_abort(tmp_path):
    """A whole ``photosim scan`` process, its decoders and model running when the disk
    fills: one sentence and exit 2 (before: "terminate called without an active exception",
    exit 134)."""
    import subprocess
    import sys

    from hostile.helpers import CLI_PRELUDE, child_env

    root = _photos(tmp_path / "photos", 40)
    db = tmp_path / "lib" / "library.db"
    done = subprocess.run(
        [sys.executable, "-c", CLI_PRELUDE + MID_SCAN, "scan", str(root), "--db", str(db),
         "--batch-size", "4", "--workers", "2"],
        env=child_env(tmp_path / "home"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert _one_sentence(done.returncode, done.stderr, "is full"), (done.returncode, done.stderr)
    assert "terminate called" not in done.stderr
