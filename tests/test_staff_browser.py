"""The staff app in real headless Chromium (Debian's, driven by Playwright).

Logs in, filters, sees the charts, downloads every export, corrects a comment's themes with
the plain form, and runs axe-core (web/node_modules, from the lock file) with zero WCAG
2.0-2.2 A/AA violations on the login page, the dashboard, the feedback list and the
correction page (also showing an error). Screenshots go to var/test-artifacts/staff/.

Needs /usr/bin/chromium, the Python package playwright and web/node_modules/axe-core
(`.ci/install-web.sh`). Missing any of them: skipped locally, a failure in CI.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, run_axe
from tests.test_staff_app import PASSWORD, XSS, Staff, staff  # noqa: F401  (the server)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "test-artifacts" / "staff"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab; CSP is bypassed only so that axe can be injected (the app has no JS)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True,
                                  accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    yield tab
    context.close()
    assert not errors, f"JavaScript ran: {errors}"


def axe(page: Any, name: str) -> None:
    run_axe(page, ARTIFACTS, name)


def log_in(page: Any, staff: Staff) -> None:  # noqa: F811
    page.goto(staff.url + "/")
    assert page.url.endswith("/login")
    axe(page, "login")
    page.get_by_label("User name").fill("alex")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url == staff.url + "/", page.content()[:3000]


def test_dashboard_charts_and_accessibility(page: Any, staff: Staff) -> None:  # noqa: F811
    log_in(page, staff)
    charts = page.locator('svg.chart[role="img"]')
    assert charts.count() >= 8
    assert page.locator("svg.chart title").first.text_content() == "Responses by month"
    page.get_by_text("Show the data as a table").first.click()
    assert page.locator("table").first.is_visible()
    axe(page, "dashboard")
    page.set_viewport_size({"width": 320, "height": 800})
    width, wide = page.evaluate("""() => [document.documentElement.scrollWidth,
        [...document.querySelectorAll("main *")].filter(e => e.getBoundingClientRect().right > 325
            && !e.closest(".table-wrap")).slice(0, 5).map(e => e.tagName + "." + e.className)]""")
    assert width <= 330, f"the dashboard does not reflow at 320 px ({width}): {wide}"
    page.screenshot(path=str(ARTIFACTS / "dashboard-320px.png"), full_page=True)


def test_filter_the_list_and_download_every_export(page: Any, staff: Staff) -> None:  # noqa: F811
    log_in(page, staff)
    page.get_by_role("link", name="Feedback").click()
    page.wait_for_url("**/feedback")
    assert page.get_by_text(XSS).count() == 1  # shown as text, not run
    page.get_by_label("Service").select_option("outpatients")
    page.get_by_label("Search the comments").fill("czekałem")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/feedback?*")
    assert page.locator("#result-count").inner_text().startswith("1 comment,")
    assert page.get_by_text("Długo czekałem na wizytę").is_visible()
    axe(page, "feedback-filtered")
    page.goto(staff.url + "/feedback")
    axe(page, "feedback")
    downloads = {}
    for fmt, name in (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("json", "JSON")):
        with page.expect_download() as info:
            page.get_by_role("button", name=name, exact=True).click()
        path = ARTIFACTS / f"export.{fmt}"
        info.value.save_as(path)
        downloads[fmt] = path.read_bytes()
    assert downloads["csv"].startswith(b"\xef\xbb\xbf")
    assert json.loads(downloads["json"])
    from openpyxl import load_workbook

    assert load_workbook(io.BytesIO(downloads["xlsx"])).sheetnames == ["Summary", "Answers"]
    page.get_by_role("button", name="Summary report").click()
    page.wait_for_url("**/export")
    assert page.get_by_role("heading", name="What patients told us").count() == 1
    assert page.locator("svg").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4")


def test_correct_themes_without_javascript(page: Any, staff: Staff) -> None:  # noqa: F811
    log_in(page, staff)
    page.goto(staff.url + "/feedback?service=maternity")
    page.get_by_role("link", name="Correct themes and sentiment of comment 1").click()
    page.wait_for_url("**/feedback/*/themes?service=maternity")
    themes = page.get_by_role("group", name="Themes (choose one or more)")
    assert themes.get_by_role("checkbox").count() >= 2
    axe(page, "correct-themes")
    for box in themes.get_by_role("checkbox").all():
        box.uncheck()
    page.get_by_role("button", name="Save correction").click()
    assert page.get_by_role("alert").get_by_text("Choose at least one theme.").is_visible()
    axe(page, "correct-themes-error")
    themes.get_by_label("Waiting times").check()
    page.get_by_role("group", name="Sentiment").get_by_label("4: Negative").check()
    page.get_by_role("button", name="Save correction").click()
    page.wait_for_url("**/feedback?service=maternity&saved=*")
    assert page.get_by_role("status").get_by_text("The correction was saved").is_visible()
    corrected = page.locator("li.comment", has_text="Corrected by staff")
    assert corrected.count() == 1 and "Sentiment: Negative" in corrected.inner_text()
    assert corrected.locator(".themes li").all_inner_texts() == ["Waiting times"]
    axe(page, "feedback-after-correction")
    page.set_viewport_size({"width": 320, "height": 800})
    corrected.get_by_role("link", name="Correct themes").click()
    page.wait_for_url("**/feedback/*/themes?service=maternity")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 330, f"the correction page does not reflow at 320 px ({width})"


def test_no_page_without_login(page: Any, staff: Staff) -> None:  # noqa: F811
    for path in ("/", "/feedback", "/withdraw", "/feedback/1/themes"):
        page.goto(staff.url + path)
        assert page.url.endswith("/login")

