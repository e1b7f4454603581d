"""Anatomical reference maps (MNI152 template tissue maps, ventricles, infratentorial region)."""

from b12brain.anatomy.atlas import Atlas, load_atlas

__all__ = ["Atlas", "load_atlas"]
