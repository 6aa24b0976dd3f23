"""Helpers of the hostile-environment tests: run photosim in a child process (optionally
under an LD_PRELOAD shim) and tell whether real mounts (tmpfs, read-only binds) are possible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a photosim child: this tree first on the path, its own home."""
    env = {**os.environ, "PHOTOSIM_HOME": str(home), **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


def child(code: str, home: Path, **kwargs) -> subprocess.Popen:
    """``python -c code`` in a child process with :func:`child_env` (stdout piped, text)."""
    env = child_env(home, **kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # fmt: skip


def can_mount() -> bool:
    """Root with mount namespaces (``unshare -m``): real tmpfs and read-only bind mounts."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0
