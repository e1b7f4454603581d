"""The QC gallery: one HTML page (``group/qc_gallery.html``) with every scan's QC image, its
figures and flags, and links to its lesion mask, class segmentation and lesion table."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from b12brain import __version__
from b12brain.cohort.bids_derivative import derivative_names, scan_folder
from b12brain.cohort.bids_index import ScanJob

_STYLE = """body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px;vertical-align:top}img{max-width:480px}
.failed{background:#fde2e2}.skipped{background:#eee}.flags{color:#b45309;font-size:90%}"""


def write_gallery(table: pd.DataFrame, path: Path) -> Path:
    """Write the gallery of ``table`` (the group table) to ``path`` (in ``OUTPUT_DIR/group/``);
    links are relative, so the derivative dataset can be moved whole."""
    rows = []
    for record in table.to_dict("records"):
        job = ScanJob(str(record["participant_id"]), str(record["session_id"] or ""))
        folder = scan_folder(Path(".."), job)
        names = derivative_names(job)
        status = str(record["status"])
        if status == "ok":
            image = f'<a href="{_href(folder, names["qc_image"])}"><img loading="lazy" alt="QC image of {job.key}" ' \
                    f'src="{_href(folder, names["qc_image"])}"></a>'
            links = " · ".join(f'<a href="{_href(folder, names[role])}">{label}</a>' for role, label in
                               (("mask", "lesion mask"), ("classes", "lesion classes"), ("lesions", "lesion labels"),
                                ("lesion_table", "lesion table"), ("summary", "summary")))
            figures = (f"{record['total_lesion_ml']:.2f} mL lesions; Fazekas PV {record['fazekas_periventricular']}, "
                       f"deep {record['fazekas_deep']}<br>{links}")
        else:
            image, figures = "", html.escape(str(record["error"]))
        flags = html.escape(str(record["qc_flags"] or ""))
        rows.append(f'<tr class="{status}"><td>{html.escape(job.key)}</td><td>{status}</td><td>{figures}'
                    f'<div class="flags">{flags}</div></td><td>{image}</td></tr>')
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>b12brain QC gallery</title>"
            f"<style>{_STYLE}</style></head><body><h1>b12brain QC gallery</h1>"
            f"<p>{len(table)} scans; b12brain {__version__}. Research software, not a diagnosis: review every "
            "image.</p><table><tr><th>scan</th><th>status</th><th>figures, flags, files</th><th>QC image</th></tr>"
            + "".join(rows) + "</table></body></html>\n")
    path.write_text(page, encoding="utf-8")
    return path


def _href(folder: Path, name: str) -> str:
    return html.escape((folder / name).as_posix(), quote=True)
