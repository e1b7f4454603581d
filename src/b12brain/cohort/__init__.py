"""Cohort analyses: many subjects at once (statistics, simulated cohorts, BIDS datasets)."""
