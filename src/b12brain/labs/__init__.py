"""Blood tests for vitamin B12 status: read lab panels, categorise markers, status, cB12, flags,
next tests and suggestions for the clinician.

Every rule cites its source through :class:`b12brain.clinical.Finding`; docs/clinical-reference.md lists them.
Decision support and research software, not a diagnosis.
"""

from b12brain.labs.cb12 import CB12_CATEGORIES, compute_cb12
from b12brain.labs.interpret import interpret_cohort, interpret_panel
from b12brain.labs.panel import Cohort, Panel, parse_panel, read_cohort, read_panel
from b12brain.labs.result import CohortResult, LabResult, MarkerResult
from b12brain.labs.rules import STATUS_RULE, STATUSES, SUSPECTED_RULE
from b12brain.labs.thresholds import MARKER_TABLES
from b12brain.labs.units import MARKER_SPECS, MARKERS, from_canonical, to_canonical

__all__ = [
    "CB12_CATEGORIES",
    "MARKERS",
    "MARKER_SPECS",
    "MARKER_TABLES",
    "STATUSES",
    "STATUS_RULE",
    "SUSPECTED_RULE",
    "Cohort",
    "CohortResult",
    "LabResult",
    "MarkerResult",
    "Panel",
    "compute_cb12",
    "from_canonical",
    "interpret_cohort",
    "interpret_panel",
    "parse_panel",
    "read_cohort",
    "read_panel",
    "to_canonical",
]
