"""The HTML report in a real browser: Debian's Chromium (installed by .ci/run), driven by Playwright
for Python through its `executable_path` (Playwright's own browser download is not available).

Each page must load with no console error, no request off `file://`, and every image decoded; the
filters page's search hides the cards that do not match and its sort re-orders them; a decision's
contribution bar opens its filter's card. A screenshot of each page is kept as a test artifact.
The checks run on the tiny build's published report (the session's small store; slow) and on a hand-made site
(fast, so they also run without a build)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_pages import tiny_site

from filterspeak.report.content import PAGES
from filterspeak.report.pages import write_pages

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 900}


def artifacts(name: str) -> Path:
    folder = Path(os.environ.get("FILTERSPEAK_TEST_ARTIFACTS", REPO / "test-artifacts")) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's tests."""
    missing = (
        None if CHROMIUM.exists() else f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`, as .ci/run does)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or 'Playwright for Python is missing: pip install -e ".[test]"'
    if missing:
        if os.environ.get("CI"):  # CI installs both: there a missing browser is a failure, not a skip
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


class Watched:
    """A page whose console errors, page errors and requests are recorded."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, file: Path) -> None:
        self.page.goto(file.as_uri(), wait_until="load")

    def check_clean(self, what: str) -> None:
        assert self.errors == [], what
        assert [url for url in self.requests if not url.startswith("file://")] == [], what
        broken = self.page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        assert broken == [], what


def check_pages(browser, site: Path, shots: Path) -> None:
    """Every page loads cleanly and is photographed."""
    for page_name in PAGES:
        watched = Watched(browser)
        watched.open(site / page_name)
        watched.check_clean(page_name)
        assert watched.page.evaluate("document.images.length") > 0 or page_name in ("index.html", "failures.html"), page_name
        watched.page.screenshot(path=str(shots / f"{page_name.removesuffix('.html')}.png"), full_page=False)
        watched.context.close()


def _cards(page) -> list[dict]:
    return page.evaluate(
        """Array.from(document.querySelectorAll('#filter-list .filter-card')).map(c => ({
            filter: Number(c.dataset.filter), selectivity: Number(c.dataset.selectivity),
            phrases: c.dataset.phrases, hidden: c.hidden}))"""
    )


def _a_partial_phrase(cards: list[dict]) -> str:
    """A phrase some cards match and others do not, the rarest such (the search matches substrings)."""
    phrases = {p for card in cards for p in card["phrases"].split("|") if p}
    counts = {p: sum(p in card["phrases"] for card in cards) for p in phrases}
    partial = sorted((n, p) for p, n in counts.items() if 0 < n < len(cards))
    assert partial, "no phrase is on some cards but not all"
    return partial[0][1]


def check_search_and_sort(browser, site: Path) -> None:
    watched = Watched(browser)
    watched.open(site / "filters.html")
    page = watched.page
    cards = _cards(page)
    assert len(cards) > 1 and not any(card["hidden"] for card in cards)
    phrase = _a_partial_phrase(cards)

    page.fill("#filter-search", phrase.upper())  # case-insensitive
    shown = [card for card in _cards(page) if not card["hidden"]]
    assert shown and all(phrase in card["phrases"] for card in shown)
    assert len(shown) < len(cards)
    assert page.inner_text("#filter-count").strip() == f"{len(shown)} of {len(cards)} filters"
    page.fill("#filter-search", "")
    assert not any(card["hidden"] for card in _cards(page))

    page.select_option("#filter-sort", "filter")
    ids = [card["filter"] for card in _cards(page)]
    assert ids == sorted(ids) and len(ids) == len(cards)
    page.select_option("#filter-sort", "selectivity")
    selectivities = [card["selectivity"] for card in _cards(page)]
    assert selectivities == sorted(selectivities, reverse=True)
    watched.check_clean("filters.html after search and sort")
    watched.context.close()


def check_contribution_link(browser, site: Path) -> None:
    """The first decision's first contribution bar opens its filter's card, in view and targeted."""
    watched = Watched(browser)
    watched.open(site / "decisions.html")
    page = watched.page
    link = page.locator(".decision-card a.bar-link").first
    href = link.get_attribute("href")
    assert href is not None and href.startswith("filters.html#filter-")
    anchor = href.split("#", 1)[1]
    link.click()
    page.wait_for_url(f"**/{href}")
    page.wait_for_load_state("load")
    assert page.url.endswith(href)
    card = page.locator(f"#{anchor}")
    assert card.count() == 1 and card.is_visible()
    box = card.bounding_box()
    header = page.evaluate("document.querySelector('header.top').getBoundingClientRect().bottom")
    assert box is not None and header - 1 <= box["y"] < VIEWPORT["height"], (box, header)  # in view, not under the sticky header
    assert card.evaluate("c => c.matches(':target')")
    watched.check_clean("filters.html opened from a contribution bar")
    watched.context.close()


def check_site(browser, site: Path, shots: Path) -> None:
    check_pages(browser, site, shots)
    check_search_and_sort(browser, site)
    check_contribution_link(browser, site)


def test_hand_made_report_in_a_browser(browser, tmp_path):
    write_pages(tiny_site(tmp_path), tmp_path)
    check_site(browser, tmp_path, artifacts("report-hand-made"))


@pytest.mark.slow
def test_a_builds_report_in_a_browser(browser, small_store):
    from filterspeak.api.publish import publish_report
    from filterspeak.storage.paths import StorePaths

    store, _build = small_store
    index = publish_report(StorePaths.at(store))
    assert isinstance(index, Path) and index.name == "index.html" and index.is_file()
    check_site(browser, index.parent, artifacts("report"))
