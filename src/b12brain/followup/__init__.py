"""Follow-up over treatment: lesions and markers of one patient across visits.

``compare_visits(run_dirs)`` aligns every earlier visit to the latest, matches lesions across
visits (merges and splits explicit) and categorises them (new, enlarging, stable, shrinking,
resolved); ``write_followup`` writes the change map, tables, ``followup.json`` and figures.
Rules and outputs: docs/followup.md.
"""

from b12brain.followup.compare import FollowupResult, compare_visits
from b12brain.followup.markers import MarkerDraw, read_marker_series
from b12brain.followup.match import CATEGORIES, CHANGE_LABELS, LesionGroup
from b12brain.followup.visits import Visit, read_visit
from b12brain.followup.write import write_followup

__all__ = ["CATEGORIES", "CHANGE_LABELS", "FollowupResult", "LesionGroup", "MarkerDraw", "Visit", "compare_visits",
           "read_marker_series", "read_visit", "write_followup"]
