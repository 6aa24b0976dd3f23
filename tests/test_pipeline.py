"""The decode/hash/embed pipeline: one read per file, completion order, prompt cancel, OOM."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_backbone, write_photo

from photosim.core.errors import FailKind
from photosim.library import Library, pipeline
from photosim.library.pipeline import Embedded, Pipeline, Work, content_hash, embed_resilient
from photosim.models.embed import Backbone


@dataclass
class Job:
    """A scan job as the pipeline sees it: the path and what the walk saw of the file."""

    path: str
    hash: str | None = None
    size: int = -1
    mtime_ns: int = -1

    def __post_init__(self) -> None:
        if self.size == -1 and os.path.lexists(self.path):
            st = os.stat(self.path)
            self.size, self.mtime_ns = st.st_size, st.st_mtime_ns


def photos(folder: Path, n: int) -> list[Job]:
    return [Job(str(write_photo(folder / f"p{i}.jpg", seed=i))) for i in range(n)]


def drain(pipe: Pipeline, jobs, cancel=lambda: False) -> list:
    return list(pipe.run(jobs, cancel))


def test_every_photo_comes_back_once_with_its_vector_and_file_hash(tmp_path):
    jobs = photos(tmp_path, 7)
    items = drain(Pipeline(make_tiny_backbone(), set(), batch_size=3, workers=2), jobs)
    embedded = [w for b in items if isinstance(b, Embedded) for w in b.items]
    vectors = np.concatenate([b.vectors for b in items if isinstance(b, Embedded)])
    assert sorted(w.job.path for w in embedded) == sorted(j.path for j in jobs)
    assert all(w.hash == content_hash(w.job.path) for w in embedded)
    assert vectors.shape[0] == 7 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert all(w.meta["width"] == 320 for w in embedded)


def test_each_file_is_opened_once(tmp_path, monkeypatch):
    jobs = photos(tmp_path, 4)
    opened: list[str] = []
    real_open = pipeline.os.open

    def counting_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.os, "open", counting_open)
    monkeypatch.setattr("builtins.open", _refuse_photos(open))
    drain(Pipeline(make_tiny_backbone(), set(), batch_size=2, workers=2), jobs)
    assert sorted(opened) == sorted(j.path for j in jobs)


def _refuse_photos(real):
    def guarded(file, *args, **kwargs):
        if str(file).endswith(".jpg"):
            raise AssertionError(f"{file} was opened a second time")
        return real(file, *args, **kwargs)

    return guarded


def test_known_content_is_not_decoded_and_failures_come_back_with_a_reason(tmp_path):
    jobs = photos(tmp_path, 2)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    known = content_hash(jobs[0].path)
    items = drain(Pipeline(make_tiny_backbone(), {known}), [*jobs, Job(str(tmp_path / "bad.jpg"))])
    plain = {Path(w.job.path).name: w for w in items if isinstance(w, Work)}
    assert plain["p0.jpg"].pixels is None and plain["p0.jpg"].error is None
    assert plain["bad.jpg"].error and "bad.jpg" not in plain["bad.jpg"].error
    assert [w.job.path for b in items if isinstance(b, Embedded) for w in b.items] == [jobs[1].path]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_with_a_photo_name_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    __import__("os").mkfifo(fifo)
    items = drain(Pipeline(make_tiny_backbone(), set()), [Job(str(fifo))])
    assert items[0].fail_kind == FailKind.NOT_A_FILE and items[0].error


def test_one_slow_file_does_not_hold_up_the_rest(tmp_path, monkeypatch):
    """Results come in completion order: a photo that takes long arrives last."""
    jobs = photos(tmp_path, 6)
    release = threading.Event()
    real = pipeline._process

    def slow_first(job, have, backbone):
        if job is jobs[0]:
            release.wait(10)
        return real(job, have, backbone)

    monkeypatch.setattr(pipeline, "_process", slow_first)
    order = []
    for item in Pipeline(None, set(), workers=2).run(jobs):
        order.append(item.job.path)
        if len(order) == 5:
            release.set()
    assert order[-1] == jobs[0].path and len(order) == 6


def test_cancel_stops_at_once_and_drops_pending_work(tmp_path):
    calls = []

    class Slow(torch.nn.Module):
        def forward(self, x):
            calls.append(len(x))
            time.sleep(0.2)
            return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 2), 1)

    backbone = Backbone(module=Slow(), key="slow:test", input_size=32)
    jobs = photos(tmp_path, 12)
    seen = []
    start = time.monotonic()
    for item in Pipeline(backbone, set(), batch_size=2, workers=2).run(
        jobs, cancel=lambda: len(seen) >= 1
    ):
        seen.append(item)
    assert time.monotonic() - start < 3
    time.sleep(0.5)
    assert len(calls) <= 2  # the batch done, at most the one running; 4 more never run
    assert sum(len(b.items) for b in seen if isinstance(b, Embedded)) <= 4


def test_the_model_runs_on_its_own_thread(tmp_path):
    threads = set()

    class Recording(torch.nn.Module):
        def forward(self, x):
            threads.add(threading.current_thread().name)
            return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 2), 1)

    backbone = Backbone(module=Recording(), key="rec:test", input_size=32)
    drain(Pipeline(backbone, set(), batch_size=2), photos(tmp_path, 3))
    assert threads == {"photosim-model"}


# -- GPU out of memory: retried with half the batch, then on the CPU ---------------------
class _OOMNet(torch.nn.Module):
    """Raises CUDA's OutOfMemoryError above ``limit`` images, or always while ``on_gpu``."""

    def __init__(self, limit: int = 0) -> None:
        super().__init__()
        self.limit, self.on_gpu, self.sizes = limit, limit == 0, []

    def forward(self, x):
        self.sizes.append(len(x))
        if self.on_gpu or (self.limit and len(x) > self.limit):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 2), 1)

    def _apply(self, fn, *args, **kwargs):  # moving to the CPU gets it out of the "GPU"
        if getattr(self, "sizes", None):
            self.on_gpu = False
        return super()._apply(fn, *args, **kwargs)


def test_out_of_memory_retries_with_half_the_batch():
    net = _OOMNet(limit=2)
    backbone = Backbone(module=net, key="oom:test", input_size=32)
    pixels = [np.zeros((32, 32, 3), np.uint8)] * 8
    vectors, size, notice = embed_resilient(backbone, pixels)
    assert vectors.shape[0] == 8 and size == 2 and notice is None
    assert net.sizes[:3] == [8, 4, 2]


def test_out_of_memory_even_for_one_photo_falls_back_to_the_cpu(tmp_path, caplog):
    net = _OOMNet()
    lib = Library([tmp_path], backbone=Backbone(module=net, key="oom:test", input_size=32))
    for i in range(3):
        write_photo(tmp_path / f"p{i}.jpg", seed=i)
    with caplog.at_level(logging.WARNING, logger="photosim.library.pipeline"):
        events = list(lib.scan(batch_size=4))
    notices = [e for e in events if e.kind == "notice"]
    assert len(notices) == 1 and "ran out of memory" in notices[0].reason
    assert "CPU" in notices[0].reason
    assert events[-1].embedded == 3
    assert any("out of memory" in r.getMessage() for r in caplog.records)
    assert 1 in net.sizes  # halved down to one photo before giving up on the device


def test_notice_reaches_the_command_line(tmp_path, capsys):
    from photosim.cli.scan import _show

    class Bar:
        def write(self, text, file=None):
            print(text, file=file)

    from photosim.core.events import ScanProgress

    _show(Bar(), ScanProgress(kind="notice", reason="The GPU ran out of memory."))
    assert "photosim: The GPU ran out of memory." in capsys.readouterr().err


# -- threads -------------------------------------------------------------------------
def test_thread_plan_gives_model_and_decoders_every_core_on_a_cpu():
    for cores in (1, 2, 4, 16):  # measured on 2 cores: sharing beats splitting (bench/scan.py)
        assert pipeline.plan_threads(cores, "cpu") == (cores, cores)
    assert pipeline.plan_threads(16, "cuda") == (1, 16)  # a GPU is fed by every core


# -- answers without the model never import torch ------------------------------------
@pytest.mark.parametrize(
    "module", ["photosim.cli", "photosim.library", "photosim.library.scan", "photosim.storage.store",
               "photosim.search.index", "photosim.library.pipeline"],
)  # fmt: skip
def test_modules_for_answers_without_the_model_do_not_import_torch(module):
    code = f"import {module}, sys; assert 'torch' not in sys.modules, 'torch'; " \
           f"assert 'torchvision' not in sys.modules, 'torchvision'"  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, env={**__import__("os").environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_info_and_similar_on_a_library_photo_do_not_import_torch(tmp_path, resnet18_weights):
    folder = tmp_path / "photos"
    for i in range(3):
        write_photo(folder / f"p{i}.jpg", seed=i)
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(root)}
    db = tmp_path / "lib.db"
    subprocess.run([sys.executable, "-m", "photosim", "scan", str(folder), "--db", str(db),
                    "--model", "resnet18", "--weights", str(resnet18_weights)],
                   env=env, check=True, capture_output=True)  # fmt: skip
    code = (
        "import sys; from photosim.cli import main; "
        f"assert main(['info', '--db', {str(db)!r}]) == 0; "
        f"assert main(['similar', {str(folder / 'p0.jpg')!r}, '--db', {str(db)!r}]) == 0; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "p1.jpg" in result.stdout
