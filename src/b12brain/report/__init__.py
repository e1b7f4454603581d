"""Human-readable outputs: QC images."""
