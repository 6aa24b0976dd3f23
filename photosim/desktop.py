"""Desktop integration: a freedesktop ``.desktop`` entry and the icon, for the user only.

``photosim install-desktop`` puts photosim in the applications menu and makes it an
"Open with" target for folders; ``--uninstall`` takes both away again. Files go under
``$XDG_DATA_HOME`` (default ``~/.local/share``) and are written atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from photosim.core import paths

APP_ID = "photosim"
ENTRY_NAME = f"{APP_ID}.desktop"


def xdg_data_home() -> Path:
    """The user's XDG data dir: $XDG_DATA_HOME, else ~/.local/share."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value).expanduser() if os.path.isabs(value) else Path.home() / ".local" / "share"


def entry_path(data_home: Path | None = None) -> Path:
    return (data_home or xdg_data_home()) / "applications" / ENTRY_NAME


def icon_path(data_home: Path | None = None) -> Path:
    return (
        (data_home or xdg_data_home()) / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    )


def launcher() -> tuple[str, str]:
    """(program, command) the entry runs, by absolute path: a desktop session's PATH may lack
    the virtual environment photosim lives in. The ``photosim`` script, else this Python."""
    script = shutil.which("photosim")
    if script:
        script = os.path.abspath(script)
        return script, _quote(script)
    return sys.executable, f"{_quote(sys.executable)} -m photosim"


def _quote(arg: str) -> str:
    """Quote an Exec argument as the Desktop Entry spec asks, when it needs it."""
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def entry_text(command: str | None = None) -> str:
    """The ``.desktop`` file: an application that opens folders (``%f``)."""
    program, default = launcher()
    command = command or default
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=photosim\n"
        "GenericName=Photo Browser\n"
        "Comment=Browse your photos and find similar ones, on this computer\n"
        f"Exec={command} gui %f\n"
        f"TryExec={program}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "MimeType=inode/directory;\n"
        "Categories=Graphics;Photography;Viewer;\n"
        "Keywords=photo;picture;similar;duplicate;image;\n"
        "StartupWMClass=photosim\n"
    )


def install(data_home: Path | None = None, command: str | None = None) -> list[Path]:
    """Write the entry and the icon (atomically); returns the files written."""
    icon = resources.files("photosim.resources") / "photosim.svg"
    written = [icon_path(data_home), entry_path(data_home)]
    paths.atomic_write_bytes(written[0], icon.read_bytes())
    paths.atomic_write_bytes(written[1], entry_text(command).encode("utf-8"))
    _refresh_caches(data_home)
    return written


def uninstall(data_home: Path | None = None) -> list[Path]:
    """Remove the entry and the icon; returns the files that were there."""
    removed = []
    for path in (entry_path(data_home), icon_path(data_home)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    _refresh_caches(data_home)
    return removed


def _refresh_caches(data_home: Path | None) -> None:
    """Tell the desktop about the change when its tool is there (not needed, but faster)."""
    import subprocess

    tool = shutil.which("update-desktop-database")
    if tool:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [tool, str(entry_path(data_home).parent)], capture_output=True, timeout=10
            )
