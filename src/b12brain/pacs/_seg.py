"""The lesion mask as a DICOM Segmentation (highdicom) on the source series' frames."""

from __future__ import annotations

from collections.abc import Mapping

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from b12brain import __version__
from b12brain.pacs._source import SourceFrame
from b12brain.quantify.lesions import LESION_CLASSES

#: Label of the segment holding caps and the lining of the ventricles (not counted as lesions).
CAPS_LINING_LABEL = "caps/lining (not lesions)"
_SERIES_NUMBER = 9301  # b12brain's derived series sit apart from the scanner's own numbers


def build_segmentation(
    frames: list[SourceFrame],
    class_map: npt.NDArray[np.uint8],
    caps_lining: npt.NDArray[np.bool_],
    *,
    provenance: Mapping[str, str],
) -> hd.seg.Segmentation | None:
    """A BINARY Segmentation of ``frames``' source images: one segment per lesion class present
    (``class_map``: 0 none, 1 + index into ``LESION_CLASSES``) and one for ``caps_lining`` when
    present; None when neither has a voxel (a Segmentation needs at least one segment).

    ``provenance`` (the segmenter's ``model_sha256`` when it has weights) is recorded in the
    algorithm identification with b12brain's version.
    """
    caps_code = len(LESION_CLASSES) + 1
    labels = [f"{name} lesion" for name in LESION_CLASSES] + [CAPS_LINING_LABEL]
    present = [code for code in range(1, caps_code) if (class_map == code).any()] + (
        [caps_code] if caps_lining.any() else [])
    if not present:
        return None
    # Each frame's pixels gathered once from both maps, then split into the segments' planes.
    on_frames = np.stack([class_map[f.voxels] for f in frames])
    caps_on_frames = np.stack([caps_lining[f.voxels] for f in frames])
    pixels = np.stack([caps_on_frames if code == caps_code else on_frames == code for code in present],
                      axis=-1).astype(np.uint8)
    parameters = {"segmenter_model_sha256": provenance["model_sha256"]} if "model_sha256" in provenance else None
    algorithm = hd.AlgorithmIdentificationSequence(
        name="b12brain", version=__version__, parameters=parameters,
        family=codes.cid7162.ArtificialIntelligence if parameters else codes.cid7162.HistogramAnalysis,
    )
    segments = [
        hd.seg.SegmentDescription(
            segment_number=number, segment_label=labels[code - 1],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
            anatomic_regions=[codes.SCT.BrainVentricle if code == caps_code else codes.SCT.WhiteMatter],
        )
        for number, code in enumerate(present, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=_unique([f.dataset for f in frames]), pixel_array=pixels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=_SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="b12brain",
        manufacturer_model_name="b12brain", software_versions=__version__, device_serial_number="none",
        content_label="B12BRAIN", content_description="white-matter lesions by class; decision support, not a diagnosis",
        omit_empty_frames=False,
    )
    seg.SeriesDescription = "b12brain lesions (not a diagnosis)"
    return seg


def _unique(datasets: list[Dataset]) -> list[Dataset]:
    seen: dict[int, Dataset] = {}
    for ds in datasets:
        seen.setdefault(id(ds), ds)
    return list(seen.values())
