"""A scan hands its model's memory back: the process is near its idle size once it ends.

People leave photosim open; a browser that keeps a gigabyte after scanning 120 photos
(as it once did) is one they close. In a fresh process: a library with a resnet50 from a
weights file on the torch backend is opened (idle, with torch imported: its libraries stay
mapped once loaded, which is code, not the model), scans 24 photos (the model loads and
runs batches), and the resident memory after the scan must be within 300 MB of idle,
while the scan itself took far more than that (so the check can fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_photo

TESTS = Path(__file__).resolve().parent
MB = 1 << 20

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import torch, torchvision  # the code's own size (libraries stay mapped), not the model's
    from photosim.library import Library

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    folder, db, weights = sys.argv[1:4]
    lib = Library([folder], db, model="resnet50", weights=weights, backend="torch")
    idle = rss()
    events = list(lib.scan())
    after = rss()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"idle": idle, "after": after, "peak": peak,
                      "embedded": events[-1].embedded}))
    lib.close()
    """
)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_a_scan_gives_its_models_memory_back(tmp_path):
    import torch
    import torchvision.models as tvm

    torch.manual_seed(0)
    weights = tmp_path / "resnet50-random.pth"
    torch.save(tvm.resnet50(weights=None).state_dict(), weights)
    for i in range(24):
        write_photo(tmp_path / "photos" / f"p{i:02d}.jpg", size=(640, 480), seed=i)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    args = [sys.executable, "-c", CHILD, str(tmp_path / "photos"), str(tmp_path / "lib.db"),
            str(weights)]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout.strip().splitlines()[-1])
    assert m["embedded"] == 24
    assert m["peak"] - m["idle"] > 300 * MB  # the model and its batches did take memory
    assert m["after"] - m["idle"] <= 300 * MB, {k: v // MB for k, v in m.items()}
