"""``photosim gui`` and ``photosim install-desktop``: start the desktop app, and put it in
the applications menu."""

from __future__ import annotations

import argparse

from photosim.core.errors import FolderMissing, PhotosimError


def cmd_gui(args: argparse.Namespace) -> int:
    if args.root is not None and not args.root.expanduser().is_dir():
        raise FolderMissing(args.root)
    try:
        from photosim.app import run
    except ImportError as exc:
        raise PhotosimError(
            f"The desktop app could not start ({exc}); reinstall photosim with its PySide6 dependency."
        ) from None
    return run(
        root=args.root, db=args.db, model=args.model, weights=args.weights, device=args.device
    )


# -- the applications-menu entry --------------------------------------------------
def cmd_install_desktop(args: argparse.Namespace) -> int:
    """Write (or remove) the .desktop entry and icon under the user's XDG data dir."""
    from photosim import desktop

    if args.uninstall:
        removed = desktop.uninstall()
        print("Removed " + ", ".join(map(str, removed)) if removed else "Nothing to remove.")
        return 0
    for path in desktop.install():
        print(f"Wrote {path}")
    print("photosim is in your applications menu now (log out and in if it does not show).")
    return 0
