"""report.html in headless Chromium (Debian's package, driven by Playwright): no error, no request."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest


def test_chromium_opens_the_report_offline(demo_run: Path, require_system_tool) -> None:
    chromium = require_system_tool("chromium", "chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    from PIL import Image

    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200}, java_script_enabled=False)
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto((demo_run / "report.html").as_uri(), wait_until="load")
            montage = page.locator("#mri figure img").first
            assert montage.evaluate("img => img.complete && img.naturalWidth > 0")
            shot = np.asarray(Image.open(io.BytesIO(montage.screenshot())).convert("L"), dtype=float)
        finally:
            browser.close()
    assert errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert shot.shape[0] > 100 and shot.std() > 20 and (shot > 100).mean() > 0.02  # MRI drawn, not blank
