"""What a new user met on the command line (issue 17): version, thresholds, folders as
libraries, counts and plurals, and the weights download said before it happens."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import make_tiny_backbone, write_photo

from photosim import __version__
from photosim.cli import main
from photosim.core.events import WeightsDownload
from photosim.core.text import plural
from photosim.library import Library


def tiny_load(*_args, **_kwargs):
    return make_tiny_backbone()


@pytest.fixture
def two_libraries(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Two scanned folders; the second was used last. A broken JPEG lies in the first."""
    monkeypatch.setattr("photosim.models.embed.load_backbone", tiny_load)
    first, second = tmp_path / "first", tmp_path / "second"
    for seed in range(3):
        write_photo(first / "sub" / f"a{seed}.jpg", size=(200, 150), seed=seed)
    (first / "broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    write_photo(second / "b.jpg", size=(200, 150), seed=9)
    for folder in (first, second):
        with Library([folder]) as lib:
            assert list(lib.scan())[-1].kind == "done"
    return first, second


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"photosim {__version__}"


@pytest.mark.parametrize("flag", ["--threshold", "--similar-threshold"])
@pytest.mark.parametrize("value", ["2", "0", "-0.5"])
def test_thresholds_outside_0_to_1_are_refused_in_one_sentence(two_libraries, capsys, flag, value):
    assert main(["duplicates", flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"photosim: {flag} must be")
    assert "between" in err[0] or "above 0" in err[0]


def test_info_and_duplicates_take_the_library_folder(two_libraries, capsys):
    first, second = two_libraries
    assert main(["info", str(first), "--json"]) == 0  # not the library used last
    info = json.loads(capsys.readouterr().out)
    assert info["roots"] == [str(first.resolve())]
    assert main(["info", str(first / "sub"), "--json"]) == 0  # a folder inside it
    assert json.loads(capsys.readouterr().out)["roots"] == [str(first.resolve())]
    assert main(["duplicates", str(second), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["groups"] == []


def test_similar_takes_the_library_folder_after_the_photo(two_libraries, tmp_path, capsys):
    first, _second = two_libraries
    outside = write_photo(tmp_path / "elsewhere" / "q.jpg", size=(200, 150), seed=1)
    assert main(["similar", str(outside), str(first), "--json", "-k", "2"]) == 0
    paths = [row["path"] for row in json.loads(capsys.readouterr().out)]
    assert paths and all(p.startswith(str(first.resolve())) for p in paths)


def test_a_folder_no_library_holds_is_said_not_replaced_by_another(two_libraries, tmp_path, capsys):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    assert main(["info", str(stranger)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"photosim scan {stranger}" in err


def test_a_broken_jpeg_is_skipped_not_counted_as_a_photo(two_libraries, capsys):
    first, _ = two_libraries
    assert main(["info", str(first), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["photos"], info["skipped"]) == (3, 1)
    assert main(["info", str(first)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"photos\s+3\n", out) and re.search(r"skipped\s+1\n", out)


def test_scan_summary_counts_photos_and_skipped_with_plurals(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("photosim.models.embed.load_backbone", tiny_load)
    folder = tmp_path / "one"
    write_photo(folder / "only.jpg", size=(200, 150), seed=3)
    (folder / "bad.jpg").write_bytes(b"garbage")
    assert main(["scan", str(folder)]) == 0
    out = capsys.readouterr().out
    assert ": 1 photo, 1 skipped (could not be read)" in out
    assert "Embedded 1 photo with" in out and "1 photos" not in out


def test_without_weights_a_broken_jpeg_is_still_skipped(tmp_path, capsys):
    """No model (no weights, downloads off): the scan lists photos, and still tells a broken one."""
    folder = tmp_path / "p"
    write_photo(folder / "good.jpg", size=(200, 150), seed=1)
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 300)
    assert main(["scan", str(folder), "--offline"]) == 2
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["photos"], info["skipped"], info["embedded"]) == (1, 1, 0)


def test_plural():
    assert [plural(n, "photo") for n in (0, 1, 2, 1500)] == [
        "0 photos", "1 photo", "2 photos", "1,500 photos"]  # fmt: skip
    assert plural(1, "copy", "copies") == "1 copy" and plural(3, "copy", "copies") == "3 copies"


def test_the_weights_download_is_announced_before_it_starts(tmp_path, monkeypatch, capsys):
    """First use with a network: one line says what is fetched, how big and where, then fetches."""
    import torchvision.models as tvm

    from photosim.models import weights

    monkeypatch.delenv("PHOTOSIM_NO_DOWNLOAD")
    fetched = []

    def fake_fetch(url, dest, *args, **kwargs):
        import torch

        fetched.append(url)
        dest.parent.mkdir(parents=True)
        torch.save(tvm.resnet18(weights=None).state_dict(), dest)
        return True

    monkeypatch.setattr("photosim.models.weights.download", fake_fetch)
    folder = tmp_path / "p"
    write_photo(folder / "a.jpg", size=(200, 150))
    assert main(["scan", str(folder), "--model", "resnet18"]) == 0
    err = capsys.readouterr().err
    plan = weights.weights_download("resnet18")
    assert fetched == [plan.url]
    line = next(x for x in err.splitlines() if "downloading" in x)
    assert plan.url in line and str(plan.target) in line and f"({plan.megabytes:.0f} MB)" in line
    assert "--offline" in line


@pytest.mark.parametrize("how", ["flag", "env"])
def test_offline_forbids_the_download(tmp_path, monkeypatch, capsys, how):

    monkeypatch.delenv("PHOTOSIM_NO_DOWNLOAD")

    def no_fetch(*_a, **_k):
        raise AssertionError("downloaded while offline")

    monkeypatch.setattr("photosim.models.weights.download", no_fetch)
    folder = tmp_path / "p"
    write_photo(folder / "a.jpg", size=(200, 150))
    args = ["scan", str(folder), "--model", "resnet18"]
    if how == "flag":
        args.append("--offline")
    else:
        monkeypatch.setenv("PHOTOSIM_OFFLINE", "1")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "downloading" not in err and "downloads are off" in err


def test_weights_download_plan_names_size_and_target():
    from photosim.models import weights

    plan = weights.weights_download("resnet50")
    assert isinstance(plan, WeightsDownload)
    assert plan.url.startswith("https://") and plan.target.name in plan.url
    assert plan.megabytes is not None and 90 < plan.megabytes < 110


def test_scan_and_info_count_other_files_and_companions_in_words(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("photosim.models.embed.load_backbone", tiny_load)
    folder = tmp_path / "Pictures"
    write_photo(folder / "a.jpg", size=(160, 120), seed=1)
    write_photo(folder / "b.jpg", size=(160, 120), seed=2)
    (folder / "a.jpg.xmp").write_text("<x:xmpmeta/>")  # a sidecar: travels with a.jpg
    (folder / "holiday.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))  # not a photo
    assert main(["scan", str(folder)]) == 0
    out = capsys.readouterr().out
    assert ": 2 photos" in out
    assert "  1 other file (videos, documents): not photos, not listed" in out
    assert "  1 companion file (sidecars" in out
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^others +1 other file \(videos", out, re.M), out
    assert re.search(r"^companion +1 companion file \(sidecars", out, re.M), out
