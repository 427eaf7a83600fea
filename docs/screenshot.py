"""Screenshot a page of a published report with the system's Chromium (how docs/report.png is made):

    python docs/screenshot.py STORE/report/<backbone>/<layer>/decisions.html docs/report.png

Needs Playwright for Python (`pip install -e ".[test]"`) and Chromium at /usr/bin/chromium
(Debian's `chromium` package); nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def screenshot(page_file: str, target: str, width: int = 1280, height: int = 800) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(Path(page_file).resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=target)
        browser.close()


if __name__ == "__main__":
    screenshot(*sys.argv[1:3])
