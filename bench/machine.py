"""Where a benchmark's figures come from, for every bench/ script's JSON (no numpy, no torch)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

SHARED = "2-core machine shared with other jobs: timings are noisy"


def machine(**extra) -> dict:
    """Host, CPU, cores, memory, Python and platform, then ``extra`` (a note, the load)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **extra,
    }
