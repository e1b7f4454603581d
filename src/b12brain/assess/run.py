"""The joined assessment of one person from files or results: what ``b12brain run`` and
``b12brain assess`` do once their inputs are read, as library calls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from b12brain.assess.combine import Assessment, assess
from b12brain.assess.imaging import describe_imaging, read_summary
from b12brain.labs import LabResult, interpret_panel, read_panel
from b12brain.quantify.burden import Burden
from b12brain.symptoms import SymptomResult, assess_symptoms, read_answers


def read_evidence(labs: Path | str | None = None, symptoms: Path | str | None = None) -> tuple[LabResult | None, SymptomResult | None]:
    """Read and interpret a lab panel file and an answers file (None where not given).

    Raises
    ------
    B12BrainError
        The first bad file (:class:`~b12brain.errors.LabValueError`,
        :class:`~b12brain.errors.AnswerError` or :class:`~b12brain.errors.InputFileError`).
    """
    lab_result = interpret_panel(read_panel(labs)) if labs is not None else None
    symptom_result = assess_symptoms(read_answers(symptoms)) if symptoms is not None else None
    return lab_result, symptom_result


def assess_run(
    mri: Burden | Mapping[str, Any] | Path | str | None = None,
    *,
    labs: LabResult | Path | str | None = None,
    symptoms: SymptomResult | Path | str | None = None,
    source: str = "summary.json",
) -> Assessment:
    """Join blood markers, symptoms and the MRI findings of one run into an :class:`Assessment`.

    Parameters
    ----------
    mri : Burden, mapping, path or None
        The lesion burden of a pipeline result, the content of a ``summary.json``, or the path
        of one (read with :func:`~b12brain.assess.read_summary`).
    labs : LabResult, path or None
        An interpreted panel, or a lab panel file (JSON, CSV).
    symptoms : SymptomResult, path or None
        Assessed answers, or an answers file.
    source : str
        How the MRI figures are named in findings and messages (a path given as ``mri``
        names itself).

    Raises
    ------
    ConfigError
        No evidence was given.
    B12BrainError
        A file is unusable (the error names it and the field).

    Examples
    --------
    >>> summary = {"lesions": {"lesion_count": 1, "lesion_ml": 2.0,
    ...     "ml_by_class": {"periventricular": 2.0, "deep": 0.0, "juxtacortical": 0.0, "infratentorial": 0.0},
    ...     "count_by_class": {"periventricular": 1, "deep": 0, "juxtacortical": 0, "infratentorial": 0}},
    ...     "fazekas_estimate": {"periventricular": 1, "deep": 0}}
    >>> assess_run(summary).imaging.pattern
    'periventricular-predominant'
    """
    if isinstance(labs, (Path, str)):
        labs = read_evidence(labs=labs)[0]
    if isinstance(symptoms, (Path, str)):
        symptoms = read_evidence(symptoms=symptoms)[1]
    if isinstance(mri, (Path, str)):
        source, mri = str(mri), read_summary(mri)
    imaging = None if mri is None else describe_imaging(mri, source)
    return assess(labs, symptoms, imaging)
