"""The two cores the benchmarks pin their processes to (as on CI), when ``taskset`` allows it."""

from __future__ import annotations

import subprocess

CORES = "0,1"


def has_taskset() -> bool:
    """Whether ``taskset -c CORES`` works here (absent on some systems, refused in some sandboxes)."""
    try:
        subprocess.run(["taskset", "-c", CORES, "true"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True
