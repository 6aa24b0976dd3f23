"""Setting photosim up without a terminal, engine side: the desktop entry, weights checked
before use, folders joining and leaving a library, queries of several photos, the cache size."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_backbone, write_photo

from photosim import desktop
from photosim.cli import main
from photosim.core.errors import WeightsInvalid
from photosim.library import Library
from photosim.media import thumbs
from photosim.models.weights import validate_weights


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "Pictures"
    for seed in range(6):
        write_photo(root / f"photo{seed}.jpg", seed=seed)
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- the desktop entry ------------------------------------------------------------
def test_install_desktop_writes_a_valid_entry_and_uninstall_removes_it(
    tmp_path, monkeypatch, capsys
):
    data = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    assert main(["install-desktop"]) == 0
    entry = data / "applications" / "photosim.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "photosim.svg"
    assert entry.is_file() and icon.read_bytes().lstrip().startswith(b"<")
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Type"] == "Application" and fields["Icon"] == "photosim"
    assert fields["Exec"].endswith(" gui %f") and fields["MimeType"] == "inode/directory;"
    assert fields["Categories"] == "Graphics;Photography;Viewer;"
    assert not list(data.rglob("*.tmp"))  # written atomically, no leftovers
    if validator := shutil.which("desktop-file-validate"):
        result = subprocess.run([validator, str(entry)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not entry.exists() and not icon.exists()
    assert "Removed" in capsys.readouterr().out


def test_exec_line_quotes_an_interpreter_path_with_spaces(tmp_path):
    command = desktop._quote("/opt/my python/bin/python3") + " -m photosim"
    text = desktop.entry_text(command)
    assert 'Exec="/opt/my python/bin/python3" -m photosim gui %f' in text
    if validator := shutil.which("desktop-file-validate"):
        (tmp_path / "photosim.desktop").write_text(text)
        result = subprocess.run([validator, str(tmp_path / "photosim.desktop")],
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout


# -- weights are checked before use ---------------------------------------------------
def test_validate_weights_accepts_the_model_and_refuses_others_in_one_sentence(
    tmp_path, resnet18_weights
):
    validate_weights(resnet18_weights, "resnet18")
    with pytest.raises(WeightsInvalid) as wrong_model:
        validate_weights(resnet18_weights, "resnet50")
    junk = tmp_path / "holiday.pth"
    junk.write_bytes(b"not a pytorch file at all")
    with pytest.raises(WeightsInvalid) as junk_file:
        validate_weights(junk, "resnet18")
    for err in (wrong_model.value, junk_file.value):
        text = str(err)
        assert text.count(". ") == 0 and text.endswith(".") and "\n" not in text
    assert "resnet50" in str(wrong_model.value) and "holiday.pth" in str(junk_file.value)


def test_weights_set_later_embed_the_photos_that_were_waiting(folder, resnet18_weights):
    lib = Library([folder], model="resnet18")  # no weights: the photos are listed only
    done = list(lib.scan())[-1]
    assert done.model_error and lib.store.photos.count_embedded(lib.model.current_key()) == 0
    with pytest.raises(WeightsInvalid):
        lib.model.set_weights(folder / "photo0.jpg")
    assert lib.model.weights is None
    lib.model.set_weights(resnet18_weights)
    done = list(lib.scan())[-1]
    assert not done.model_error and done.embedded == 6
    assert lib.similar(folder / "photo1.jpg", k=3)


# -- several folders --------------------------------------------------------------
def test_folders_join_and_leave_a_library_and_files_stay_on_disk(folder, tmp_path):
    second = tmp_path / "Phone"
    for seed in range(20, 23):
        write_photo(second / f"phone{seed}.jpg", seed=seed)
    before = snapshot(folder) | snapshot(second)
    lib = Library([folder], backbone=make_tiny_backbone())
    list(lib.scan())
    lib.add_root(second)
    list(lib.scan())
    assert len(lib.photos()) == 9 and lib.roots == [folder.resolve(), second.resolve()]
    reopened = Library(db_path=lib.db_path, backbone=make_tiny_backbone())
    assert reopened.roots == lib.roots  # remembered in the library
    assert lib.remove_root(second) == 3
    assert {p.path.parent for p in lib.photos()} == {folder}
    assert all(m.path.parent == folder for m in lib.similar(folder / "photo0.jpg", k=8))
    assert snapshot(folder) | snapshot(second) == before


# -- queries of several photos -----------------------------------------------------------
def test_similar_to_many_ranks_by_the_mean_vector_and_leaves_the_picks_out(folder):
    lib = Library([folder], backbone=make_tiny_backbone())
    list(lib.scan())
    picks = [folder / "photo0.jpg", folder / "photo1.jpg"]
    matches = lib.similar_to_many(picks, k=3)
    key = lib.model.current_key()
    vectors = {p.path: lib.store.vectors.get_vector(p.hash, key) for p in lib.photos()}
    mean = vectors[picks[0]] + vectors[picks[1]]
    mean /= np.linalg.norm(mean)
    expected = sorted((p for p in vectors if p not in picks), key=lambda p: -vectors[p] @ mean)
    assert [m.path for m in matches] == expected[:3]
    assert abs(matches[0].score - float(vectors[expected[0]] @ mean)) < 0.02


def test_cli_similar_with_several_images(folder, resnet18_weights, capsys):
    args = ["--model", "resnet18", "--weights", str(resnet18_weights)]
    assert main(["scan", str(folder), *args]) == 0
    capsys.readouterr()
    a, b = str(folder / "photo2.jpg"), str(folder / "photo3.jpg")
    assert main(["similar", a, b, "-k", "3", "--json"]) == 0
    paths = [r["path"] for r in json.loads(capsys.readouterr().out)]
    assert len(paths) == 3 and a not in paths and b not in paths
    assert main(["similar", a, "-k", "2"]) == 0  # one image works as before
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


# -- the thumbnail cache's size ------------------------------------------------------------
def test_prune_drops_the_least_recently_used_thumbnails_first():
    root = Path(os.environ["PHOTOSIM_HOME"]) / "cache" / "thumbnails" / "ab"
    root.mkdir(parents=True)
    for i in range(5):
        path = root / f"{i}.jpg"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 + i * 100, 1_000_000 + i * 100))
    assert thumbs.cache_size() == 5000
    assert thumbs.prune(2500) == 3000
    assert sorted(p.name for p in root.iterdir()) == ["3.jpg", "4.jpg"]
    assert thumbs.clear() == 2000 and thumbs.cache_size() == 0


def test_scanning_one_folder_of_a_library_with_several_keeps_its_other_folders(tmp_path):
    """A folder added in the app stays in the library when `photosim scan FIRST` runs."""
    first, second = tmp_path / "first", tmp_path / "second"
    write_photo(first / "a.jpg", seed=1)
    write_photo(second / "b.jpg", seed=2)
    with Library([first], backbone=make_tiny_backbone()) as lib:
        lib.add_root(second)
        list(lib.scan())
    with Library([first], backbone=make_tiny_backbone()) as again:
        assert again.roots == [first.resolve(), second.resolve()]
        done = list(again.scan())[-1]
        assert (done.found, done.removed) == (2, 0)
