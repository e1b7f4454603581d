"""Training of the learned lesion segmenter (needs the ``train`` extra: torch).

Nothing else in b12brain imports this package. Inputs are built only through
``b12brain.segment.slices`` so that training and inference see the same model grid.
"""

from b12brain.train.augment import AugmentConfig
from b12brain.train.data import (
    SliceSampler,
    SliceSet,
    build_pool,
    lesion_targets,
    phantom_configs,
    real_slice_sets,
)
from b12brain.train.export import ExportResult, export_onnx
from b12brain.train.loop import (
    TrainConfig,
    TrainResult,
    predict_volume,
    train_model,
    validation_scans,
)
from b12brain.train.model import UNet2D, count_parameters

__all__ = [
    "AugmentConfig",
    "ExportResult",
    "SliceSampler",
    "SliceSet",
    "TrainConfig",
    "TrainResult",
    "UNet2D",
    "build_pool",
    "count_parameters",
    "export_onnx",
    "lesion_targets",
    "phantom_configs",
    "predict_volume",
    "real_slice_sets",
    "train_model",
    "validation_scans",
]
