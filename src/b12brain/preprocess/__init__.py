"""Preprocessing: orientation, resampling, bias-field correction, brain extraction,
intensity normalisation."""
