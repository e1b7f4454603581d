"""Work ``b12brain run`` does ahead of need, on a background thread, on the core its pipeline leaves idle."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def warming_up() -> Iterator[None]:
    """Prepare the atlas (:func:`~b12brain.anatomy.localise.prepare_atlas`), then import the
    libraries of the outputs (:func:`~b12brain.outputs.import_output_libraries`), on a background
    thread while the block runs; wait for the thread when the block ends, whether it returns or
    raises.

    The atlas registration and most of the array work run on one core, so the thread takes a core
    that would otherwise be idle (about 3 s of CPU on a clinical scan). Results cannot depend on
    it: it computes only what the pipeline would compute itself, by the same code, and the
    pipeline waits for what is under way. A step that fails is left for the pipeline or
    :func:`~b12brain.outputs.write_outputs` to report, where it is needed.
    """
    thread = threading.Thread(target=_warm_up, name="b12brain-warm-up", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _warm_up() -> None:
    from b12brain.anatomy.localise import prepare_atlas
    from b12brain.outputs import import_output_libraries

    for step in (prepare_atlas, import_output_libraries):
        with contextlib.suppress(Exception):  # reported by the main thread, which does the step again
            step()
