"""Quality checks: is this a brain FLAIR, is it a FLAIR at all (metadata, tissue contrast), did
the atlas fit (and put the ventricles where the FLAIR shows them), does the T1 match the FLAIR
and look like a T1.

See docs/scan-qc.md for the table of checks, their limits and the reasons for them.
"""

from b12brain.qc.atlas import check_atlas_fit
from b12brain.qc.contrast import ContrastCheck, check_flair_contrast, check_metadata, check_t1_contrast
from b12brain.qc.scan import ScanCheck, check_flair
from b12brain.qc.t1 import T1Check, check_t1, no_t1_summary
from b12brain.qc.ventricles import check_ventricles

__all__ = [
    "ContrastCheck", "ScanCheck", "T1Check", "check_atlas_fit", "check_flair", "check_flair_contrast", "check_metadata",
    "check_t1", "check_t1_contrast", "check_ventricles", "no_t1_summary",
]
