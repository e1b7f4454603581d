"""What `b12brain run` does ahead on a background thread: the atlas prepared, the output libraries imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CODE = """
import sys, threading
{block}
from b12brain.cli.warm_up import warming_up
from b12brain.anatomy.localise import _prepare
with warming_up():
    pass
print(threading.active_count(), _prepare.cache_info().currsize,
      sorted(m for m in ('jinja2', 'matplotlib.pyplot', 'weasyprint') if sys.modules.get(m) is not None))
"""


@pytest.mark.parametrize("missing", [None, "weasyprint", "nilearn"])
def test_the_block_ends_with_the_work_done_and_failures_left_to_the_pipeline(missing: str | None) -> None:
    # A step that cannot be done neither raises nor prints here: the pipeline or the output
    # writer does it again and reports it where it is needed.
    block = f"sys.modules[{missing!r}] = None" if missing else ""
    done = subprocess.run([sys.executable, "-c", _CODE.format(block=block)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    prepared = 0 if missing == "nilearn" else 1
    loaded = ["jinja2", "matplotlib.pyplot"] + ([] if missing == "weasyprint" else ["weasyprint"])
    assert done.stdout.strip().splitlines()[-1] == f"1 {prepared} {loaded}"  # and the thread is gone
