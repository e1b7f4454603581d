"""Cohorts: BIDS datasets and CSV manifests run on Dask, and their group table."""
