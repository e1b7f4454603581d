"""Synthetic subjects with ground truth (the demo example and the test data of b12brain)."""

from b12brain.phantom.generate import (
    CLASS_NAMES,
    LesionLoad,
    Phantom,
    PhantomConfig,
    check_config,
    make_phantom,
)
from b12brain.phantom.write import write_phantom

__all__ = ["CLASS_NAMES", "LesionLoad", "Phantom", "PhantomConfig", "check_config", "make_phantom", "write_phantom"]
