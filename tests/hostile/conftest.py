"""Fixtures of the hostile-environment tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def fsync_shim(tmp_path_factory) -> Path:
    """The LD_PRELOAD library that snapshots a file at each fsync (a C compiler is needed)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.platform != "linux":
        pytest.skip("no C compiler (or not Linux): the power-cut shim cannot be built")
    out = tmp_path_factory.mktemp("shim") / "fsync_snapshot.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out),
                    str(HERE / "fsync_snapshot.c"), "-ldl"], check=True)  # fmt: skip
    return out
