"""The report a run writes: the PDF rendered with poppler, the HTML self-contained."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from b12brain.report.build import SECTIONS

SHOWN = [s for s in SECTIONS if s != "Follow-up"]


def test_pdf_has_every_section_and_its_images(demo_run: Path, tmp_path: Path, require_system_tool) -> None:
    pdftoppm = require_system_tool("pdftoppm", "poppler-utils")
    pdf = demo_run / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, encoding="utf-8", errors="replace", check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 2 <= pages <= 8
    assert "A4" in info or "595.28 x 841.89" in info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, encoding="utf-8", errors="replace", check=True).stdout
    lines = {line.strip() for line in text.splitlines()}
    assert [s for s in SHOWN if s not in lines] == []
    assert "Follow-up" not in lines
    assert "Urgency: urgent" in text and "not a diagnosis" in text
    assert "CLINICAL.md" not in text
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, encoding="utf-8", errors="replace", check=True).stdout
    assert len(images.strip().splitlines()) - 2 >= 3  # montage, largest lesion, lab bands
    subprocess.run([pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == pages
    from PIL import Image

    mri_page = np.asarray(Image.open(rendered[1]).convert("L"), dtype=float)
    assert mri_page.std() > 20  # the montage (dark MRI on a white page) is drawn


def test_html_is_self_contained(demo_run: Path) -> None:
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    for section in SHOWN:
        assert f">{section}</h2>" in html
    resources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
    assert resources and all(r.startswith("data:") for r in resources)
    assert "<script" not in html.lower() and "url(" not in html.lower().replace("url(#", "")
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) >= 3 and all(re.search(r'alt="[^"]{20,}"', tag) for tag in images)
    assert "CLINICAL.md" not in html


def test_report_cites_the_findings_sources_by_number(demo_run: Path) -> None:
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    references = re.search(r'<section id="references">(.*?)</section>', html, re.S).group(1)
    assert "NICE NG239" in references
    numbers = {int(n) for n in re.findall(r'<li value="(\d+)">', references)}
    assert numbers == set(range(1, len(numbers) + 1))
    cited = {int(n) for n in re.findall(r'class="ref">\[(\d+)\]', html)}
    assert cited and cited <= numbers


@pytest.mark.parametrize("missing", ["assessment.json"])
def test_sections_say_what_is_missing(demo_run: Path, tmp_path: Path, missing: str) -> None:
    import shutil

    from b12brain.report.build import build_report

    run = shutil.copytree(demo_run, tmp_path / "run")
    (run / missing).unlink()
    build_report(run, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "No lab results were given" in html and "No symptom answers were given" in html
    assert "No T1 was given" in html
    assert "Urgency: not assessed" in html


def test_without_weasyprint_the_html_is_still_written(demo_run: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    import sys

    import nibabel as nib

    from b12brain.followup.register import load_checked_flair
    from b12brain.followup.visits import read_visit
    from b12brain.report.build import LesionImages, write_report_files

    flair = load_checked_flair(read_visit(demo_run, visit_date=__import__("datetime").date(2026, 1, 1)))
    labels = np.asarray(nib.load(demo_run / "lesion_labels.nii.gz").dataobj)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as without the package or Pango
    with caplog.at_level("WARNING", logger="b12brain"):
        written = write_report_files(demo_run, flair, LesionImages(labels, None), tmp_path)
    assert list(written) == ["report.html"] and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert "report.pdf not written" in caplog.text and "libpango" in caplog.text


def test_lesion_classes_differ_in_grey_too() -> None:
    from b12brain.quantify.lesions import LESION_CLASSES
    from b12brain.report.figures import CLASS_LINESTYLES

    styles = [str(CLASS_LINESTYLES[name]) for name in (*LESION_CLASSES, "caps_lining")]
    assert len(set(styles)) == len(styles)
