"""The joined assessment: blood markers, symptoms and the MRI findings in one result."""

from b12brain.assess.combine import (
    ASSESSMENT_SCHEMA_VERSION,
    Assessment,
    assess,
    assessment_json,
    write_assessment,
)
from b12brain.assess.imaging import ImagingPattern, describe_imaging, read_summary
from b12brain.assess.run import assess_run, read_evidence

__all__ = [
    "ASSESSMENT_SCHEMA_VERSION",
    "Assessment",
    "ImagingPattern",
    "assess",
    "assess_run",
    "assessment_json",
    "describe_imaging",
    "read_evidence",
    "read_summary",
    "write_assessment",
]
