"""Cohorts: BIDS datasets and CSV manifests run on Dask, their group table, statistics and simulated cohorts."""
