"""The staff app over HTTP: a real server (``python -m bot.staff``) on a free loopback port,
against a temporary SQLite store filled through Store, save_answer and save_themes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from bot.anonymiser import anonymise
from bot.erasure import audit_log
from bot.launch import free_port
from bot.staff.auth import Auth
from bot.staff.models import staff_sessions
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORMULA = "=SUM(A1:A9)*2"


@dataclass
class Staff:
    url: str
    database_url: str
    store: Store
    receipt: str
    log: Path | None = None  # the server's output (audit lines)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def login(self, client: httpx.Client | None = None, name: str = "alex",
              password: str = PASSWORD) -> httpx.Client:
        client = client or self.client()
        form = client.get("/login")
        token = csrf(form.text)
        reply = client.post("/login", data={"name": name, "password": password,
                                            "csrf_token": token})
        assert reply.status_code == 303, reply.text
        return client


def shown(html: str) -> int:
    """The number of comments the list says it found."""
    return int(re.search(r'<p id="result-count">(\d+) comments?[,.]', html).group(1))


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def fill(store: Store) -> str:
    """Responses in two months and two services; returns one receipt code."""
    receipt = ""
    plan = [  # (day, service, rating, language, text, age band)
        *[(date(2024, 2, 3 + i), "maternity", "very_good", "en", f"Kind midwives {i}",
           "age_25_34") for i in range(6)],
        (date(2024, 3, 1), "maternity", "poor", "en", XSS, "age_65_74"),
        (date(2024, 3, 2), "outpatients", "dont_know", "en", FORMULA, "age_65_74"),
        (date(2024, 3, 3), "outpatients", "very_poor", "pl", "Długo czekałem na wizytę", None),
    ]
    for day, service, rating, language, text, age in plan:
        store._today = lambda day=day: day
        rid = store.start_response(language=language, channel="web")
        store.update_response(rid, service=service, respondent="patient")
        store.save_answer(rid, "rating", choices=[rating])
        store.save_answer(rid, "rating_reason", text=anonymise(text))
        store.save_answer(rid, "barriers", choices=["travel"] if "midwives" in text else ["cost"])
        if age:
            store.save_answer(rid, "about_you", choices=["yes"])
            store.save_answer(rid, "age_band", choices=[age])
        receipt = store.complete_response(rid)
    for answer in store.unthemed_answers(100):
        waiting = "Waiting" if "wizyt" in answer.text or answer.text.startswith("=") else None
        themes = ["Staff manner & personal attributes"] if waiting is None else ["Waiting times"]
        store.save_themes(answer.answer_id, themes, 1 if waiting is None else 5, "test")
    store._today = date.today
    return receipt


@contextmanager
def running_app(work: Path, database_url: str, **env: str) -> Iterator[tuple[str, Path]]:
    """``python -m bot.staff`` on a free loopback port: yields its URL and its log file."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "STAFF_PORT": str(port),
           "STAFF_HOST": "127.0.0.1", "THEMES_MODEL": str(work / "no-model.joblib"), **env}
    log_path = work / "staff.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.staff"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/login", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, log_path.read_text()
                time.sleep(0.1)
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staff]:
    """The app on a small store, without a themes model (themes come from the store)."""
    work = tmp_path_factory.mktemp("staff")
    database_url = f"sqlite:///{work / 'store.db'}"
    store = Store(database_url)
    receipt = fill(store)
    Auth(store).create_user("alex", PASSWORD)
    try:
        with running_app(work, database_url) as (url, log):
            yield Staff(url, database_url, store, receipt, log)
    finally:
        store.close()


@pytest.fixture
def client(staff: Staff) -> Iterator[httpx.Client]:
    logged_in = staff.login()
    yield logged_in
    logged_in.close()


def export(client: httpx.Client, fmt: str, **filters: str) -> httpx.Response:
    token = csrf(client.get("/feedback").text)
    reply = client.post("/export", data={"csrf_token": token, "format": fmt, **filters})
    assert reply.status_code == 200, reply.text
    return reply


# --- login, sessions, CSRF, headers -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/feedback", "/withdraw", "/?service=maternity",
                                  "/feedback?q=kind"])
def test_every_page_needs_a_login(staff: Staff, path: str) -> None:
    with staff.client() as anonymous:
        reply = anonymous.get(path)
        assert reply.status_code == 303 and reply.headers["location"] == "/login"
        assert "midwives" not in reply.text
    with staff.client() as anonymous:
        for post in ("/export", "/withdraw", "/logout"):
            reply = anonymous.post(post, data={"format": "csv"})
            assert reply.status_code == 303 and reply.headers["location"] == "/login"
    with staff.client() as anonymous:  # static css is public
        assert anonymous.get("/static/staff.css").status_code == 200


def test_login_sets_a_strict_cookie_and_security_headers(staff: Staff) -> None:
    with staff.client() as client:
        form = client.get("/login")
        reply = client.post("/login", data={"name": "Alex", "password": PASSWORD,
                                            "csrf_token": csrf(form.text)})
        assert reply.status_code == 303
        cookie = [v for k, v in reply.headers.multi_items()
                  if k == "set-cookie" and v.startswith("pv_staff=")][0]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = client.get("/")
        assert page.status_code == 200
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text.replace("&lt;script", "")


def test_login_needs_its_csrf_token(staff: Staff) -> None:
    with staff.client() as client:
        client.get("/login")
        reply = client.post("/login", data={"name": "alex", "password": PASSWORD})
        assert reply.status_code == 403


def test_wrong_passwords_lock_the_name_without_saying_if_it_exists(staff: Staff) -> None:
    Auth(staff.store).create_user("sam", PASSWORD)
    for name in ("sam", "nobody-here"):
        with staff.client() as client:
            for _ in range(5):
                form = client.get("/login")
                reply = client.post("/login", data={"name": name, "password": "wrong password!",
                                                    "csrf_token": csrf(form.text)})
                assert reply.status_code == 401
                assert "Wrong user name or password" in reply.text
            form = client.get("/login")
            reply = client.post("/login", data={"name": name, "password": PASSWORD,
                                                "csrf_token": csrf(form.text)})
            assert reply.status_code == 429, name  # even the right password, for both
            assert "Too many wrong passwords" in reply.text


def test_posts_without_the_session_csrf_token_are_refused(staff: Staff, client) -> None:
    for data in ({"format": "csv"}, {"format": "csv", "csrf_token": "forged"}):
        assert client.post("/export", data=data).status_code == 403
        assert client.post("/withdraw", data={**data, "code": staff.receipt}).status_code == 403
    assert client.get("/").status_code == 200  # still logged in


def test_sessions_expire_when_idle_and_absolutely(staff: Staff) -> None:
    for column, age in (("last_seen_at", 8 * 3600 + 5), ("created_at", 24 * 3600 + 5)):
        with closing(staff.login()) as client:
            assert client.get("/").status_code == 200
            with staff.store.engine.begin() as db:
                db.execute(update(staff_sessions).values(
                    **{column: staff_sessions.c[column] - age}))
            assert client.get("/").status_code == 303


def test_logout_ends_the_session(staff: Staff) -> None:
    with closing(staff.login()) as client:
        token = csrf(client.get("/").text)
        cookie = client.cookies.get("pv_staff")
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
        client.cookies.set("pv_staff", cookie)
        assert client.get("/").status_code == 303


# --- the list, filters and search ---------------------------------------------------------


def test_feedback_list_filters_and_search(client) -> None:
    page = client.get("/feedback").text
    assert shown(page) == 9
    assert "Długo czekałem na wizytę" in page and "translation pending" in page
    assert shown(client.get("/feedback", params={"q": "czekałem"}).text) == 1
    assert shown(client.get("/feedback", params={"q": "midwives"}).text) == 6
    assert shown(client.get("/feedback", params={"service": "outpatients"}).text) == 2
    assert shown(client.get("/feedback", params={"rating": "dont_know"}).text) == 1
    assert shown(client.get("/feedback", params={"barrier": "cost"}).text) == 3
    assert shown(client.get("/feedback", params={"language": "pl"}).text) == 1
    assert shown(client.get("/feedback", params={"theme": "Waiting times"}).text) == 1
    assert shown(client.get("/feedback", params={"sentiment": "5"}).text) == 1
    march = client.get("/feedback", params={"since": "2024-03-01", "until": "2024-03-02"}).text
    assert shown(march) == 2
    assert shown(client.get("/feedback", params={"q": "100%_"}).text) == 0


def test_search_ignores_case_in_every_script(client, tmp_path: Path) -> None:
    """SQLite's lower() folds only ASCII: the search folds case with str.casefold."""
    from bot.staff.queries import Filters, export_rows, feedback_page, summarise

    for q in ("DŁUGO CZEKAŁEM", "długo czekałem", "WIZYTĘ"):
        assert shown(client.get("/feedback", params={"q": q}).text) == 1, q
    store = Store(f"sqlite:///{tmp_path / 'search.db'}")
    try:
        for language, text in (("uk", "Дуже довго чекали на лікаря"), ("pl", "Źle i ŻMUDNIE"),
                               ("de", "Die Straße war gesperrt"), ("en", "Fine")):
            rid = store.start_response(language=language, channel="web")
            store.save_answer(rid, "rating_reason", text=anonymise(text))
        for q, found in (("ДОВГО ЧЕКАЛИ", 1), ("ЛІКАРЯ", 1), ("źle i żmudnie", 1),
                         ("ŹLE", 1), ("STRASSE", 1), ("straße", 1), ("лікарі", 0)):
            f = Filters(q=q)
            assert feedback_page(store, f).total == found, q
            assert summarise(store, f).responses == found, q
            assert len({r["response_id"] for r in export_rows(store, f)}) == found, q
    finally:
        store.close()


def test_patient_text_is_inert_in_the_list_and_dashboard(client) -> None:
    for path in ("/feedback", "/"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- the dashboard and suppression ---------------------------------------------------------


def table_rows(html: str, caption: str) -> dict[str, list[str]]:
    """The rows of the first table with this caption: {row header: [cells]} (HTML as is)."""
    start = html.index(f"<caption>{caption}</caption>")
    body = html[start:html.index("</table>", start)]
    return {label: re.findall(r"<td>(.*?)</td>", cells) for label, cells in
            re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', body)}


def chart_desc(html: str, title: str) -> str:
    """The text alternative (desc) of the chart with this title."""
    found = re.search(rf'<title id="(chart\d+)-title">{re.escape(title)}</title>'
                      rf'<desc id="\1-desc">(.*?)</desc>(.*?)</svg>', html)
    assert found, title
    return found.group(2)


# The small store: February 6 responses (maternity), March 3 (1 maternity, 2 outpatients);
# languages en 8 and pl 1; age bands 25 to 34 (6) and 65 to 74 (2). Every count from 1 to 4
# reads "<5" and nothing rests on it, in every table, chart and the report.
SMALL_ROWS = {  # caption: {row: cells}
    "Responses by month": {"Feb 2024": ["6", "67%"], "Mar 2024": ["&lt;5", "-"]},
    "FFT by month": {"Feb 2024": ["6", "6", "100%", "0%"],
                     "Mar 2024": ["&lt;5", "&lt;5", "-", "-"]},
    "FFT by service": {"Maternity": ["7", "7", "86%", "14%"],
                       "Outpatient appointment": ["&lt;5", "&lt;5", "-", "-"]},
    "Language": {"en": ["8", "89%"], "pl": ["&lt;5", "-"]},
    "Age band": {"25 to 34": ["6", "6", "100%", "0%"], "65 to 74": ["&lt;5", "&lt;5", "-", "-"]},
}


def test_dashboard_charts_and_small_number_suppression(client) -> None:
    page = client.get("/").text
    assert page.count('<svg class="chart" role="img"') == 12  # 10 + 2 "about you"
    assert "<title id=" in page and "<desc id=" in page
    for caption, rows in SMALL_ROWS.items():
        assert table_rows(page, caption) == rows, caption
    # FFT by month and service: "% positive / % negative (n)", "<5" below 5 answers
    matrix = table_rows(page, "FFT by month and service: % positive / % negative (number of "
                              "FFT answers)")
    assert matrix == {"Feb 2024": ["100% / 0% (6)", "none"], "Mar 2024": ["&lt;5", "&lt;5"]}
    assert re.search(r'<th scope="col">Month</th><th scope="col">Maternity</th>'
                     r'<th scope="col">Outpatient appointment</th>', page)
    # charts: FFT % positive and % negative by month and by service, "about you" charts;
    # a suppressed row draws only the hatched marker and reads "fewer than 5"
    for title, desc in (
            ("Responses by month", "Feb 2024: 6; Mar 2024: fewer than 5"),
            ("FFT % positive by month", "Feb 2024: 100%; Mar 2024: not shown (fewer than 5 "
                                        "answers)"),
            ("FFT % negative by service", "Maternity: 14%; Outpatient appointment: not shown "
                                          "(fewer than 5 answers)"),
            ("FFT % positive by service", "Maternity: 86%; Outpatient appointment: not shown "
                                          "(fewer than 5 answers)"),
            ("Language", "en: 8; pl: fewer than 5"),
            ("Age band: responses", "25 to 34: 6; 65 to 74: fewer than 5"),
            ("Who answered: responses", "Patient: 9")):
        assert chart_desc(page, title) == desc, title
    svg = page[page.index('<title id="chart'):]
    svg = svg[svg.index("Responses by month"):svg.index("</svg>")]
    assert svg.count("<rect") == 3 and 'fill="url(#hatch' in svg  # bar, pattern, marker
    assert "Nobody in this view answered this question." in page  # e.g. religion
    # FFT: don't know counts in the denominator (NHS England): 6 positive of 9 = 67%
    assert "<strong>9</strong> responses" in page
    assert "<strong>67%</strong> positive" in page and "(of 9 answers" in page


def test_dashboard_of_fewer_than_5_responses_shows_no_exact_count(client) -> None:
    page = client.get("/", params={"service": "outpatients"}).text
    assert "<strong>&lt;5</strong> responses" in page and "(of &lt;5 answers" in page
    assert not re.search(r"<td>[1-4]</td>", page)
    assert "No comments shown" in page  # no quotes from fewer than 5 people


# --- exports ----------------------------------------------------------------------------------


def test_csv_export_has_a_bom_and_neutralised_formulas(staff: Staff, client) -> None:
    before = len(audit_log(staff.store))
    reply = export(client, "csv", service="outpatients")
    assert reply.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert {r["service"] for r in rows} == {"outpatients"}
    texts = [r["text"] for r in rows if r["text"]]
    assert "'" + FORMULA in texts and FORMULA not in texts
    log = audit_log(staff.store)
    assert len(log) == before + 1
    assert (log[-1].action, log[-1].actor, log[-1].count) == ("export", "staff", len(rows))


def test_json_export(client) -> None:
    rows = json.loads(export(client, "json", q="midwives").content)
    assert len({r["response_id"] for r in rows}) == 6
    # "about you" answers never appear in a row export, only counted in the summaries
    assert not any(r["question_key"] in ("age_band", "about_you") for r in rows)
    comments = [r for r in rows if r["question_key"] == "rating_reason"]
    assert {(tuple(r["themes"]), r["sentiment"], r["themes_corrected"]) for r in comments} == {
        (("Staff manner & personal attributes",), 1, False)}


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_row_exports_hold_no_about_you_answers(client, fmt: str) -> None:
    from openpyxl import load_workbook

    from bot.export import ABOUT_YOU_KEYS

    body = export(client, fmt).content
    if fmt == "xlsx":
        text = json.dumps(list(load_workbook(io.BytesIO(body))["Answers"].values), default=str)
    else:
        text = body.decode("utf-8-sig")
    for key in ABOUT_YOU_KEYS:
        assert f'"{key}"' not in text and f",{key}," not in text, key
    assert "age_25_34" not in text and "age_65_74" not in text
    assert "Kind midwives 0" in text and "Waiting times" in text  # the rest is there


def test_xlsx_export_has_neutralised_data_a_summary_and_a_chart(client) -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(export(client, "xlsx").content))
    assert book.sheetnames == ["Summary", "Answers"]
    data = list(book["Answers"].values)
    texts = [row[6] for row in data[1:] if row[6]]
    assert "'" + FORMULA in texts and FORMULA not in texts
    summary = book["Summary"]
    assert len(summary._charts) == 1
    cells = [str(c) for row in summary.values for c in row if c is not None]
    assert "<5" in cells and "Staff manner & personal attributes" in cells


def test_html_report_is_one_printable_page_with_suppression_and_inert_text(client) -> None:
    reply = export(client, "html")
    page = reply.text
    assert "attachment" not in reply.headers.get("content-disposition", "")
    assert "script-src" not in reply.headers["content-security-policy"]
    assert "@media print" in page and "What patients told us" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<svg" in page
    # the same suppression as the dashboard (the report shows these tables in short)
    for caption, rows in (("Language", SMALL_ROWS["Language"]),
                          ("Age band", {"25 to 34": ["6", "6", "100%", "0%"],
                                        "65 to 74": ["&lt;5", "&lt;5", "-", "-"]})):
        assert table_rows(page, caption) == rows, caption
    by_month = page[page.index("<h2>FFT by month</h2>"):]
    assert table_rows(by_month, "Responses, FFT answers, % positive and % negative") == \
        SMALL_ROWS["FFT by month"]
    by_service = page[page.index("<h2>FFT by service</h2>"):]
    assert table_rows(by_service, "Responses, FFT answers, % positive and % negative") == \
        SMALL_ROWS["FFT by service"]
    matrix = page[page.index("<h2>FFT by month and service</h2>"):]
    assert table_rows(matrix, "% positive / % negative (FFT answers)") == {
        "Feb 2024": ["100% / 0% (6)", "none"], "Mar 2024": ["&lt;5", "&lt;5"]}
    assert "<strong>9</strong> responses" in page
    assert not re.search(r"<td>[1-4]</td>", page)


def test_export_rejects_unknown_formats(client) -> None:
    token = csrf(client.get("/").text)
    assert client.post("/export", data={"csrf_token": token, "format": "exe"}).status_code == 400


def test_withdrawal_deletes_and_is_audited(staff: Staff, client) -> None:
    token = csrf(client.get("/withdraw").text)
    reply = client.post("/withdraw", data={"csrf_token": token, "code": "PV-2222AA"})
    assert "No response has that receipt code" in reply.text
    reply = client.post("/withdraw", data={"csrf_token": token, "code": staff.receipt})
    assert "withdrawn" in reply.text
    log = audit_log(staff.store)
    assert (log[-1].action, log[-1].actor, log[-1].count) == ("withdraw", "staff", 1)


def test_cli_create_user_and_exports(tmp_path: Path) -> None:
    from bot.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    fill(store)
    store.close()
    process = subprocess.run([sys.executable, "-m", "bot.cli", "staff", "create-user", "Jo",
                              "--password-stdin", "--database-url", url],
                             input=PASSWORD + "\n", text=True, capture_output=True, cwd=ROOT)
    assert process.returncode == 0, process.stderr
    store = Store(url)
    assert Auth(store).login("jo", PASSWORD)
    store.close()
    assert main(["export", "--format", "xlsx", "-o", str(tmp_path / "a.xlsx"),
                 "--database-url", url]) == 0
    assert main(["export", "--format", "html", "-o", str(tmp_path / "a.html"),
                 "--database-url", url]) == 0
    assert "&lt;script&gt;" in (tmp_path / "a.html").read_text()
    from openpyxl import load_workbook

    assert load_workbook(tmp_path / "a.xlsx").sheetnames == ["Summary", "Answers"]


def test_the_staff_app_imports_neither_rasa_nor_rasa_sdk() -> None:
    code = ("import sys, bot.staff.app, bot.staff.queries, bot.export; "
            "sys.exit(any(m.split('.')[0] in ('rasa', 'rasa_sdk') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# --- theme corrections and streamed exports: a second app, with a themes model and 20,000
# answers, so the tests above keep their small store ---------------------------------------

STAFF_THEME = "Staff manner & personal attributes"
WAITING = "Waiting times"
FOOD = "Food & drink provision & facilities"
TRANSPORT = "Transport to/ from services"
TEA = "The tea trolley lady was so kind"  # a model trained on TRAINING misses its food theme
TRAINING = {  # category: (comment, sentiment) ...
    STAFF_THEME: [("The nurses were kind and caring", 1), ("Lovely friendly midwives", 1),
                  ("Staff were rude to me", 5), ("The doctor listened and was kind", 1),
                  ("Very caring staff on the ward", 1)],
    WAITING: [("I waited four hours to be seen", 4), ("The wait for an appointment was too long",
              4), ("Waiting list of months", 5), ("Long wait in the clinic", 4),
              ("Waited ages in A and E", 4)],
    FOOD: [("The food was cold", 4), ("Nice hot meals and drinks", 2), ("No vegetarian food "
           "options", 4), ("The sandwiches were stale", 4), ("Tea and food were good", 2)],
    TRANSPORT: [("The bus to the hospital never runs", 4), ("No buses in the evening", 4),
                ("Hospital transport was late", 4), ("The shuttle bus was full", 4),
                ("Ambulance transport came late", 4)],
}
BULK_RESPONSES, BULK_PER_RESPONSE = 2_000, 10
BULK_TEXTS = ['=HYPERLINK("http://example.org")', "+44 is not a formula here", "-5 stars",
              "@everyone", "Dziękuję 👍🏽", 'comma, "quote"\nand a new line', "Plain words"]


@dataclass
class Trained(Staff):
    model: Path = Path()
    training_csv: Path = Path()
    tea: int = 0  # the answer id of TEA
    bulk: list[dict] = field(default_factory=list)  # the bulk answers, in export order


def write_training_csv(path: Path) -> Path:
    from bot import themes

    header = [themes.COMMENT_ID, themes.RESPONDENT_ID, themes.QUESTION, themes.ANSWER,
              themes.SENTIMENT, *TRAINING]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, restval="0")
        writer.writeheader()
        for number, (category, comments) in enumerate(
                (c, x) for c, xs in TRAINING.items() for x in xs):
            text, sentiment = comments
            writer.writerow({themes.COMMENT_ID: number, themes.RESPONDENT_ID: number,
                             themes.QUESTION: "rating_reason", themes.ANSWER: text,
                             themes.SENTIMENT: sentiment, category: "1"})
    return path


def bulk_insert(store: Store) -> list[dict]:
    """BULK_RESPONSES x BULK_PER_RESPONSE answers (service "bulk", 2023) in one transaction;
    returns them as export rows in export order (day, response id, answer)."""
    from sqlalchemy import insert

    from bot.store import AnswerRow, ResponseRow

    responses, answers, expected = [], [], []
    for n in range(BULK_RESPONSES):
        rid, day = f"{n:032x}", date(2023, 1, 1) + timedelta(days=n % 365)
        responses.append(dict(id=rid, created_on=day, status="complete", language="en",
                              channel="sms", service="bulk"))
        for k in range(BULK_PER_RESPONSE):
            text = BULK_TEXTS[(n + k) % len(BULK_TEXTS)] if k % 2 else None
            answers.append(dict(response_id=rid, question_key=f"q{k}", text=text, text_en=text,
                                choices=None if text else ["good", "=1+1"], language="en",
                                channel="sms", service="bulk", answered_on=day))
            expected.append({"response_id": rid, "created_on": day.isoformat(),
                             "question_key": f"q{k}", "text": text,
                             "choices": None if text else "good; =1+1"})
    with store.engine.begin() as db:
        db.execute(insert(ResponseRow.__table__), responses)
        db.execute(insert(AnswerRow.__table__), answers)
    return sorted(expected, key=lambda r: (r["created_on"], r["response_id"]))  # stable


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    from bot.cli import main

    work = tmp_path_factory.mktemp("trained")
    database_url = f"sqlite:///{work / 'store.db'}"
    store = Store(database_url)
    receipt = fill(store)
    rid = store.start_response(language="en", channel="web")
    store.update_response(rid, service="wards")
    store.save_answer(rid, "rating_reason", text=anonymise(TEA))
    [tea] = [a.answer_id for a in store.unthemed_answers(100) if a.text == TEA]
    store.save_themes(tea, [STAFF_THEME, TRANSPORT], 1, "test")
    bulk = bulk_insert(store)
    Auth(store).create_user("alex", PASSWORD)
    training_csv, model = write_training_csv(work / "train.csv"), work / "themes.joblib"
    assert main(["themes", "train", "--data", str(training_csv), "--out", str(model),
                 "--database-url", database_url, "--without-corrections"]) == 0
    try:
        with running_app(work, database_url, THEMES_MODEL=str(model)) as (url, log):
            yield Trained(url, database_url, store, receipt, log, model, training_csv, tea, bulk)
    finally:
        store.close()


def comment_id(store: Store, text: str) -> int:
    from sqlalchemy import select

    from bot.store import AnswerRow

    with store.engine.connect() as db:
        return db.execute(select(AnswerRow.id).where(AnswerRow.text == text)).scalar_one()


def correct(client: httpx.Client, answer_id: int, themes: list[str], sentiment: str = "",
            back: str = "") -> httpx.Response:
    token = csrf(client.get(f"/feedback/{answer_id}/themes").text)
    return client.post(f"/feedback/{answer_id}/themes",
                        data={"csrf_token": token, "theme": themes, "sentiment": sentiment,
                              "back": back})


def test_staff_correct_themes_from_the_list(trained: Trained) -> None:
    answer = comment_id(trained.store, "Kind midwives 2")
    with closing(trained.login()) as client:
        listing = client.get("/feedback", params={"service": "maternity", "page": "1"}).text
        link = f'href="/feedback/{answer}/themes?service=maternity"'
        assert link in listing and ">Correct themes<" in listing
        form = client.get(f"/feedback/{answer}/themes", params={"service": "maternity"}).text
        assert "<legend>Themes (choose one or more)</legend>" in form
        assert "<legend>Sentiment</legend>" in form
        # the model's categories, not only the two the store has seen
        for category in TRAINING:
            assert re.search(rf'value="{re.escape(category.replace("&", "&amp;"))}"', form)
        assert re.search(r'<input type="checkbox" id="theme-(\d+)" name="theme" value="Staff '
                         r'manner &amp; personal attributes" checked>\s*<label for="theme-\1">',
                         form)
        assert 'value="1" checked' in form  # the sentiment it has now
        assert 'name="back" value="service=maternity"' in form
        before = len(trained.store.corrections())
        reply = correct(client, answer, [STAFF_THEME, WAITING], "2", back="service=maternity")
        assert reply.status_code == 303
        assert reply.headers["location"] == (
            f"/feedback?service=maternity&saved={answer}#c-{answer}")
        listing = client.get(reply.headers["location"]).text
    saved = trained.store.themes_for(answer)
    assert (saved.themes, saved.sentiment, saved.model_version) == (
        [STAFF_THEME, WAITING], 2, "corrected")
    rows = trained.store.corrections()
    assert len(rows) == before + 1
    assert [(r["FFT answer"], r.get(WAITING), r["Comment sentiment"]) for r in rows
            if r["FFT answer"] == "Kind midwives 2"] == [("Kind midwives 2", "1", "2")]
    item = listing[listing.index(f'id="c-{answer}"'):]
    item = item[:item.index("</li>\n")]
    assert "Corrected by staff" in item and "Sentiment: Positive" in item
    assert f"<li>{WAITING}</li>" in item
    assert "The correction was saved" in listing
    log = trained.log.read_text()
    assert f"action=correct_themes answer={answer} by=alex" in log
    assert "Kind midwives" not in log and WAITING not in log


def test_corrections_need_a_login_and_the_csrf_token(trained: Trained) -> None:
    answer = comment_id(trained.store, "Kind midwives 1")
    path = f"/feedback/{answer}/themes"
    before = trained.store.corrections()
    with trained.client() as anonymous:
        for reply in (anonymous.get(path),
                      anonymous.post(path, data={"theme": [FOOD], "sentiment": "3"})):
            assert reply.status_code == 303 and reply.headers["location"] == "/login"
            assert "midwives" not in reply.text
    with closing(trained.login()) as client:
        for token in (None, "forged"):
            data = {"theme": [FOOD], "sentiment": "3"} | ({"csrf_token": token} if token else {})
            assert client.post(path, data=data).status_code == 403
    assert trained.store.corrections() == before
    assert trained.store.themes_for(answer).themes == [STAFF_THEME]


def test_corrections_refuse_bad_input(trained: Trained) -> None:
    answer = comment_id(trained.store, "Kind midwives 3")
    before = trained.store.corrections()
    with closing(trained.login()) as client:
        reply = correct(client, answer, [FOOD, "Made-up theme"], "3")
        assert reply.status_code == 400 and reply.text.startswith("Unknown theme")
        assert reply.headers["content-type"].startswith("text/plain")
        for bad in ("9", "0", "good", "1.5"):
            reply = correct(client, answer, [FOOD], bad)
            assert reply.status_code == 400 and "Sentiment must be 1" in reply.text
        reply = correct(client, answer, [], "3")  # nothing ticked: the form again, with why
        assert reply.status_code == 400 and "Choose at least one theme." in reply.text
        assert 'role="alert"' in reply.text and "<legend>Themes" in reply.text
        waiting = comment_id(trained.store, "Długo czekałem na wizytę")  # no English yet
        assert client.get(f"/feedback/{waiting}/themes").status_code == 409
        assert f"/feedback/{waiting}/themes" not in client.get("/feedback").text
        for missing in (10**9, 2**70, 0):
            assert client.get(f"/feedback/{missing}/themes").status_code == 404
        assert client.get("/feedback/nothing/themes").status_code == 404
    assert trained.store.corrections() == before


def test_a_web_correction_is_learnt_by_the_next_training(trained: Trained, tmp_path) -> None:
    from bot import themes
    from bot.cli import main

    old = themes.load(trained.model).predict([TEA], ["rating_reason"])[0]
    assert FOOD not in old.themes
    with closing(trained.login()) as client:
        assert correct(client, trained.tea, [FOOD, STAFF_THEME], "2").status_code == 303
    assert any(r["FFT answer"] == TEA and r[FOOD] == "1" for r in trained.store.corrections())
    retrained = tmp_path / "retrained.joblib"
    assert main(["themes", "train", "--data", str(trained.training_csv), "--out", str(retrained),
                 "--database-url", trained.database_url]) == 0
    new = themes.load(retrained).predict([TEA], ["rating_reason"])[0]
    assert FOOD in new.themes and new.sentiment == 2


def test_cli_corrects_a_theme(trained: Trained, capsys, caplog) -> None:
    from bot.cli import main

    answer = comment_id(trained.store, "Kind midwives 4")
    url = ["--database-url", trained.database_url, "--model", str(trained.model)]
    caplog.set_level("INFO", logger="patient_voice.audit")
    assert main(["themes", "correct", str(answer), "--theme", FOOD, "--theme", STAFF_THEME,
                 "--sentiment", "3", *url]) == 0
    assert f"corrected the themes of answer {answer}" in capsys.readouterr().out
    saved = trained.store.themes_for(answer)
    assert (saved.themes, saved.sentiment, saved.model_version) == (
        [FOOD, STAFF_THEME], 3, "corrected")
    audit = [r.getMessage() for r in caplog.records if r.name == "patient_voice.audit"]
    assert len(audit) == 1 and audit[0].startswith(f"action=correct_themes answer={answer} by=cli")
    assert main(["themes", "correct", str(answer), "--theme", "Made-up", *url]) == 2
    assert "Unknown theme" in capsys.readouterr().err
    assert main(["themes", "correct", str(answer), "--theme", FOOD, "--sentiment", "7", *url]) == 2
    assert main(["themes", "correct", "999999", "--theme", FOOD, *url]) == 1
    assert "has no English text" in capsys.readouterr().err
    assert trained.store.themes_for(answer).themes == [FOOD, STAFF_THEME]


def bulk_check(rows: list[dict], expected: list[dict], *, csv_cells: bool) -> None:
    """The bulk rows arrived whole, in order, and (in CSV) neutralised."""
    from bot.export import neutralise_cell

    assert len(rows) == BULK_RESPONSES * BULK_PER_RESPONSE
    for got, want in zip(rows, expected, strict=True):
        for key, value in want.items():
            if csv_cells:
                value = neutralise_cell(value)
            assert got[key] == value, (key, got, want)


def test_large_csv_and_json_exports_stream(trained: Trained) -> None:
    with closing(trained.login()) as client:
        token = csrf(client.get("/feedback").text)
        for fmt in ("csv", "json"):
            form = {"csrf_token": token, "format": fmt, "service": "bulk"}
            with client.stream("POST", "/export", data=form) as reply:
                assert reply.status_code == 200
                assert reply.headers["transfer-encoding"] == "chunked"
                assert "content-length" not in reply.headers
                assert "attachment" in reply.headers["content-disposition"]
                assert reply.headers["cache-control"] == "no-store"
                body = reply.read()
            log = audit_log(trained.store)[-1]
            assert (log.action, log.actor, log.count) == ("export", "staff", 20_000)
            if fmt == "csv":
                assert body.startswith(b"\xef\xbb\xbf") and body.count(b"\xef\xbb\xbf") == 1
                rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
                bulk_check(rows, trained.bulk, csv_cells=True)
                assert "'=HYPERLINK(\"http://example.org\")" in {r["text"] for r in rows}
            else:
                bulk_check(json.loads(body), trained.bulk, csv_cells=False)


def test_cli_writes_a_large_export_as_it_goes(trained: Trained, tmp_path, capsys) -> None:
    from bot.cli import main

    before = len(audit_log(trained.store))
    for fmt in ("csv", "json"):
        out = tmp_path / f"bulk.{fmt}"
        assert main(["export", "--format", fmt, "--service", "bulk", "-o", str(out),
                     "--database-url", trained.database_url]) == 0
        assert "exported 20000 answers from 2000 responses" in capsys.readouterr().err
        if fmt == "csv":
            with open(out, encoding="utf-8-sig", newline="") as handle:
                bulk_check(list(csv.DictReader(handle)), trained.bulk, csv_cells=True)
        else:
            bulk_check(json.loads(out.read_text(encoding="utf-8")), trained.bulk,
                       csv_cells=False)
    log = audit_log(trained.store)
    assert [(e.action, e.count) for e in log[before:]] == [("export", 20_000)] * 2
