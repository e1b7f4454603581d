"""Quality checks: is this a brain FLAIR, did the atlas fit, does the T1 match the FLAIR.

See docs/scan-qc.md for the table of checks, their limits and the reasons for them.
"""

from b12brain.qc.atlas import check_atlas_fit
from b12brain.qc.scan import ScanCheck, check_flair
from b12brain.qc.t1 import T1Check, check_t1, no_t1_summary

__all__ = ["ScanCheck", "T1Check", "check_atlas_fit", "check_flair", "check_t1", "no_t1_summary"]
