"""The command line's grammar: every command, its arguments and their help (argparse)."""

from __future__ import annotations

import argparse
from pathlib import Path

from photosim import __version__
from photosim.models.registry import BACKENDS, DEFAULT_MODEL, MODELS, PRECISIONS


def _model_options(p: argparse.ArgumentParser, model_default: str | None = DEFAULT_MODEL) -> None:
    p.add_argument(
        "--model",
        choices=MODELS,
        default=model_default,
        help=f"ResNet to embed with (default: the library's, {DEFAULT_MODEL} for a new one)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        help="local state-dict file (else PHOTOSIM_WEIGHTS, else torchvision's cache)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument(
        "--offline",
        action="store_true",
        help="never download the model weights (as PHOTOSIM_OFFLINE=1 does)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="model arithmetic (default auto: fp32 on a CPU, the vectors of fp32; fp16/bf16 on GPUs)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where the model runs on a CPU (default auto: OpenVINO when installed, the same "
        "vectors faster; PHOTOSIM_BACKEND sets another default)",
    )


def _folder_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folder",
        nargs="?",
        type=Path,
        metavar="FOLDER",
        help="a folder of the library (default: the library used last)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photosim",
        description="Find similar photos and near-duplicates in your own photo library.",
    )
    parser.add_argument("--version", action="version", version=f"photosim {__version__}")
    sub = parser.add_subparsers(dest="command")

    scan = sub.add_parser("scan", help="scan folders and cache every photo's vector")
    scan.add_argument("roots", nargs="+", type=Path, metavar="ROOT")
    scan.add_argument(
        "--db", type=Path, help="library database file (default: one per folder in your data dir)"
    )
    _model_options(scan, model_default=None)
    scan.add_argument("--batch-size", type=int, default=32, metavar="N")
    scan.add_argument("--workers", type=int, default=None, metavar="N", help="parallel decoders")

    similar = sub.add_parser(
        "similar",
        help="list the photos most similar to IMAGE (or to all); a FOLDER names the library",
    )
    similar.add_argument("image", type=Path, nargs="+", metavar="IMAGE")  # several: their mean
    similar.add_argument("--db", type=Path)
    similar.add_argument("-k", type=int, default=10, help="how many (default 10)")
    similar.add_argument("--json", action="store_true", help="print JSON")
    _model_options(similar, model_default=None)

    info = sub.add_parser("info", help="what a library holds")
    _folder_option(info)
    info.add_argument("--db", type=Path)
    info.add_argument("--json", action="store_true")
    info.add_argument(
        "--failed", action="store_true", help="list photos that could not be read, with the reason"
    )

    dup = sub.add_parser(
        "duplicates", help="list duplicate photos (exact, near, similar); never deletes"
    )
    _folder_option(dup)
    dup.add_argument("--db", type=Path)
    _model_options(dup, model_default=None)
    dup.add_argument("--kind", choices=("exact", "near", "similar", "all"), default="all")
    dup.add_argument(
        "--threshold", type=float, metavar="T", help="near threshold (cosine; default calibrated)"
    )
    dup.add_argument(
        "--similar-threshold", type=float, metavar="T", help="similar threshold (cosine)"
    )
    dup.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of originals: never proposed for removal (repeatable)",
    )
    dup.add_argument(
        "--dismissed", action="store_true", help='list the groups marked "not duplicates"'
    )
    dup.add_argument(
        "--restore",
        type=Path,
        action="append",
        default=[],
        metavar="PHOTO",
        help='undo "not duplicates" for the dismissed group holding PHOTO (repeatable)',
    )
    out = dup.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--csv", action="store_true", help="print CSV (one row per photo)")
    # the applications-menu entry
    desktop = sub.add_parser(
        "install-desktop", help="add photosim to your applications menu (and folders' Open with)"
    )
    desktop.add_argument("--uninstall", action="store_true", help="remove it again")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("root", nargs="?", type=Path, metavar="ROOT")
    gui.add_argument("--db", type=Path)
    _model_options(gui, model_default=None)
    for command in sub.choices.values():
        command.add_argument(
            "-v", "--verbose", action="store_true", help="also print the log (warnings) to stderr"
        )
    return parser
