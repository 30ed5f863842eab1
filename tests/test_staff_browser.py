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
import random
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.erasure import audit_log
from bot.questions import FLOW
from bot.staff.auth import Auth
from bot.store import Store
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


def log_in(page: Any, staff: Staff, check: bool = True) -> None:  # noqa: F811
    page.goto(staff.url + "/")
    assert page.url.endswith("/login")
    if check:
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
    for title in ("FFT % negative by service", "FFT % positive by service",
                  "Age band: responses"):
        assert page.get_by_role("img", name=title).count() == 1, title
    assert page.get_by_role("img", name="Responses by month").get_attribute(
        "aria-labelledby").endswith("-desc")
    # a suppressed row: the hatched marker and "<5", and the text alternative says so
    chart = page.locator("svg.chart", has=page.locator("title", has_text="Responses by month"))
    assert "Mar 2024: fewer than 5" in chart.locator("desc").text_content()
    assert chart.locator('rect[fill^="url(#hatch"]').count() == 1
    # the data table opens from the keyboard
    first = page.locator("details").first
    assert not first.locator("table").is_visible()
    page.keyboard.press("Tab")  # skip link
    while page.evaluate("() => document.activeElement.tagName") != "SUMMARY":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert first.locator("table").is_visible()
    assert page.get_by_role("table", name="FFT by month and service: % positive / % negative "
                                          "(number of FFT answers)").is_visible()
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
    assert pages(page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4")) == 1
    axe(page, "report")


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


def test_wrong_passwords_lock_the_name_in_the_browser(page: Any, staff: Staff) -> None:  # noqa: F811
    Auth(staff.store).create_user("robin", PASSWORD)
    page.goto(staff.url + "/login")
    for password in ["wrong password!"] * 5 + [PASSWORD]:
        page.get_by_label("User name").fill("robin")
        page.get_by_label("Password").fill(password)
        with page.expect_response(lambda r: r.request.method == "POST") as reply:
            page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        if password != PASSWORD:
            assert reply.value.status == 401
            assert page.get_by_role("alert").get_by_text("Wrong user name or password.") \
                .is_visible()
    assert reply.value.status == 429  # even the right password, once locked
    assert page.get_by_role("alert").get_by_text("Too many wrong passwords").is_visible()
    assert page.url.endswith("/login")
    axe(page, "login-locked")
    page.goto(staff.url + "/")
    assert page.url.endswith("/login")  # no session


FORGE = """([how, form]) => {
    const token = document.querySelector(form + ' input[name="csrf_token"]');
    if (how === "missing") token.remove(); else token.value = "forged-" + token.value;
}"""


def test_posts_with_a_forged_or_missing_csrf_token_are_refused_in_the_browser(
        page: Any, staff: Staff) -> None:  # noqa: F811
    log_in(page, staff, check=False)
    before = len(audit_log(staff.store))
    for how, form, button in (("forged", ".exports", "Summary report"),
                              ("missing", ".exports", "Summary report"),
                              ("forged", ".logout", "Log out alex")):
        page.goto(staff.url + "/")
        page.evaluate(FORGE, [how, form])
        with page.expect_response(lambda r: r.request.method == "POST") as reply:
            page.get_by_role("button", name=button).click()
        assert reply.value.status == 403, (how, button)
        assert page.get_by_text("The form was out of date").is_visible()
    assert len(audit_log(staff.store)) == before  # nothing exported
    page.goto(staff.url + "/")
    assert page.url == staff.url + "/"  # still logged in: log out was refused too


INJECTED = """() => [document.querySelectorAll("script").length,
    document.querySelectorAll("img").length, document.querySelectorAll("[onerror]").length]"""


def test_patient_text_is_inert_on_the_dashboard_and_in_the_report(
        page: Any, staff: Staff) -> None:  # noqa: F811
    """XSS in a comment shows as text on the dashboard and in the report, and runs nowhere
    (the page fixture fails on any dialog; CSP is bypassed, so escaping alone must hold)."""
    log_in(page, staff, check=False)
    for where in ("dashboard", "report"):
        if where == "report":
            page.get_by_role("button", name="Summary report").click()
            page.wait_for_url("**/export")
        quote = page.locator("blockquote", has_text="onerror=alert(1)")
        assert quote.count() == 1, where
        assert quote.inner_text().strip() == XSS, where
        assert page.evaluate(INJECTED) == [0, 0, 0], where
        page.wait_for_timeout(200)  # time for an onerror that should never come


def test_no_page_without_login(page: Any, staff: Staff) -> None:  # noqa: F811
    for path in ("/", "/feedback", "/withdraw", "/feedback/1/themes"):
        page.goto(staff.url + path)
        assert page.url.endswith("/login")



# --- the one-page report with realistic data ----------------------------------------------

QDC = ["Staff manner & personal attributes", "Waiting times", "Communication & involvement",
       "Access to treatment or medication", "Care received", "Environment, facilities & "
       "equipment", "Food & drink provision & facilities", "Transport to/ from services",
       "Admission, discharge & transfer arrangements", "Staffing levels & responsiveness",
       "Parking", "Privacy, dignity & respect"]
SERVICES = ["emergency", "outpatients", "inpatient", "maternity", "mental_health", "community",
            "paediatrics", "radiology_and_diagnostic_imaging", "sexual_health", "dermatology"]
LANGUAGES = ["en"] * 6 + ["pl", "uk", "ar", "ro", "pa", "ur", "so", "bn"]
LONG = ("The midwives were kind and explained everything, but we waited nearly four hours in "
        "the corridor before anyone could see us, and nobody told us why or how long it would "
        "be; the room was cold, the chairs were broken and my partner had to stand all night. ")


def pages(pdf: bytes) -> int:
    """Pages in a PDF: its /Type /Page objects (not the /Pages tree)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def realistic(store: Store, responses: int = 600) -> None:
    """Responses over 18 months, ten services, eight languages, every option of every
    "about you" question (some groups under 5), all barriers, twelve themes and long comments,
    inserted in one transaction."""
    from sqlalchemy import insert

    from bot.store import AnswerRow, AnswerThemesRow, ResponseRow

    pick = random.Random(7)
    options = {q.key: q.options for q in FLOW}
    about = ["age_band", "ethnic_group", "religion", "sexual_orientation", "gender_identity",
             "long_term_condition", "condition_impact", "communication_needs", "housing"]
    rows, answers, themes = [], [], []
    for n in range(responses):
        rid, day = f"{n:032x}", date(2024 + (n % 18) // 12, (n % 18) % 12 + 1, 1 + n % 28)
        language, service = pick.choice(LANGUAGES), pick.choice(SERVICES)
        rows.append(dict(id=rid, created_on=day, status="complete", language=language,
                         channel=pick.choice(["web", "sms", "whatsapp", "voice"]),
                         service=service, respondent=pick.choice(["patient", "helper"])))
        given = {"rating": [pick.choice(options["rating"])],
                 "barriers": pick.sample(options["barriers"][:-1], pick.randint(0, 3)),
                 "about_you": ["yes"]}
        for key in about:
            # every option at least once (the first responses), then at random
            values = options[key]
            given[key] = [values[n % len(values)] if n < 60 else pick.choice(values)]
        for k, (key, value) in enumerate(given.items()):
            answers.append(dict(id=n * 20 + k + 1, response_id=rid, question_key=key,
                                choices=value, text=None, text_en=None, language=language,
                                channel="web", service=service, answered_on=day))
        for k, key in enumerate(("rating_reason", "improve"), start=18):
            text = (LONG * 3)[: pick.randint(40, 600)] + f" ({n})"
            answers.append(dict(id=n * 20 + k, response_id=rid, question_key=key, text=text,
                                text_en=text, choices=None, language=language, channel="web",
                                service=service, answered_on=day))
            themes.append(dict(answer_id=n * 20 + k, themes=pick.sample(QDC, 2),
                               sentiment=pick.randint(1, 5), model_version="test",
                               text_digest="0" * 64, themed_on=day))
    with store.engine.begin() as db:
        db.execute(insert(ResponseRow.__table__), rows)
        db.execute(insert(AnswerRow.__table__), answers)
        db.execute(insert(AnswerThemesRow.__table__), themes)


def test_report_with_realistic_data_prints_on_one_a4_page(page: Any, tmp_path: Path) -> None:
    from bot.export import write_html_report
    from bot.staff.queries import Filters, summarise

    store = Store(f"sqlite:///{tmp_path / 'realistic.db'}")
    try:
        realistic(store)
        summary = summarise(store, Filters())
    finally:
        store.close()
    about = [t for k, t in summary.tables.items() if k.startswith("about_")]
    assert all(t.rows for t in about) and sum(len(t.rows) for t in about) >= 50
    assert len(summary.tables["fft_by_service"].rows) == 10
    assert len(summary.tables["fft_by_month"].rows) == 18
    out = io.StringIO()
    write_html_report(summary, out, trust_name="Example NHS Foundation Trust")
    (ARTIFACTS / "report-realistic.html").write_text(out.getvalue(), encoding="utf-8")
    page.set_viewport_size({"width": 725, "height": 1054})  # A4 inside the 9 mm margins
    page.set_content(out.getvalue())
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "report-realistic-print.png"), full_page=True)
    pdf = page.pdf(path=str(ARTIFACTS / "report-realistic.pdf"), format="A4")
    assert pages(pdf) == 1, f"the report prints on {pages(pdf)} A4 pages, not one"
