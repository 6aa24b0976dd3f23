"""The command line, run in-process through argv as a user would type it."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import rotated_copy, write_photo

from photosim.cli import main


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    for seed in range(5):
        write_photo(root / f"img{seed}.jpg", size=(400, 300), seed=seed)
    (root / "broken.jpg").write_bytes(b"not an image")
    return root


def test_scan_then_similar_finds_the_original_of_a_rotated_copy(
    folder, tmp_path, resnet18_weights, capsys
):
    args = ["--model", "resnet18", "--weights", str(resnet18_weights)]
    assert main(["scan", str(folder), *args]) == 0
    out = capsys.readouterr().out
    assert "new" in out and "failed" in out and "broken.jpg" in out
    copy = rotated_copy(folder / "img3.jpg", tmp_path / "copy.jpg")
    assert main(["similar", str(copy), "--json", "-k", "3", *args]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["path"] == str(folder / "img3.jpg")
    assert len(results) == 3 and results[0]["score"] >= results[1]["score"]
    assert main(["similar", str(copy), "-k", "1", *args]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(str(folder / "img3.jpg")) and float(line.split()[0]) > 0.9


def test_rescan_reports_unchanged_and_info_reports_counts(folder, resnet18_weights, capsys):
    args = ["--model", "resnet18", "--weights", str(resnet18_weights)]
    main(["scan", str(folder), *args])
    capsys.readouterr()
    assert main(["scan", str(folder), *args]) == 0
    out = capsys.readouterr().out
    assert re.search(r"unchanged\s+6\b", out), out
    assert main(["info", "--json", "--failed"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["photos"], info["embedded"], info["skipped"]) == (5, 5, 1)
    assert info["model"].startswith("resnet18:file-")
    assert info["failures"][0]["path"].endswith("broken.jpg")


def test_similar_inside_library_needs_no_model(folder, resnet18_weights, monkeypatch, capsys):
    shutil.copy(folder / "img1.jpg", folder / "img1-copy.jpg")
    main(["scan", str(folder), "--model", "resnet18", "--weights", str(resnet18_weights)])
    capsys.readouterr()

    def no_model(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("photosim.models.embed.load_backbone", no_model)
    assert main(["similar", str(folder / "img1.jpg"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0] == {"path": str(folder / "img1-copy.jpg"), "score": 1.0}
    assert str(folder / "img1.jpg") not in [r["path"] for r in results]


def test_missing_weights_exit_2_with_one_clear_message(folder, capsys):
    assert main(["scan", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "--weights FILE" in err and "Traceback" not in err


def test_bad_arguments_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["scan"])
    assert exit_info.value.code == 2
    assert main(["scan", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["similar", str(tmp_path / "nope.jpg")]) == 2
    assert main(["info"]) == 2
    assert "photosim scan FOLDER" in capsys.readouterr().err


def test_another_model_does_not_reuse_the_last_weights_file(folder, resnet18_weights, capsys):
    weights = ["--weights", str(resnet18_weights)]
    assert main(["scan", str(folder), "--model", "resnet18", *weights]) == 0
    capsys.readouterr()
    assert main(["scan", str(folder), "--model", "resnet50"]) == 2
    err = capsys.readouterr().err
    assert "resnet50" in err and "--weights FILE" in err and "do not fit" not in err
    assert main(["scan", str(folder)]) == 0  # the library's own model and weights again


def test_failure_reasons_are_listed_once_per_file(folder, resnet18_weights, capsys):
    main(["scan", str(folder), "--model", "resnet18", "--weights", str(resnet18_weights)])
    out = capsys.readouterr().out
    assert f"{folder / 'broken.jpg'}: not an image photosim can read" in out
