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


# What a child runs first: the tiny test network under the ResNet's key (no weights needed),
# then ``run(argv)`` gives (exit code, stderr) of one in-process ``photosim`` command.
CLI_PRELUDE = """
import contextlib, io, json, os, subprocess, sys, traceback
from conftest import _TinyNet
import photosim.models.embed as embed
from photosim.models.embed import Backbone, model_key
embed.load_backbone = lambda name="resnet50", weights=None, device="auto", download=None, **o: (
    Backbone(module=_TinyNet(), key=model_key(name, weights), input_size=64))
from photosim.cli import main

def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except BaseException:
            rc, _ = "traceback", err.write(traceback.format_exc())
    return [rc, err.getvalue(), out.getvalue()]
"""


def run_mounted(script: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``script`` (after :data:`CLI_PRELUDE`) in a child of its own mount namespace, where
    it may mount tmpfs and read-only binds that nobody else sees."""
    env = child_env(home)
    return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c",
                           CLI_PRELUDE + script], env=env, text=True, capture_output=True,
                          timeout=timeout)  # fmt: skip
