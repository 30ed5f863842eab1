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
from contextlib import closing
from dataclasses import dataclass
from datetime import date
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


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staff]:
    work = tmp_path_factory.mktemp("staff")
    database_url = f"sqlite:///{work / 'store.db'}"
    store = Store(database_url)
    receipt = fill(store)
    Auth(store).create_user("alex", PASSWORD)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "STAFF_PORT": str(port),
           "STAFF_HOST": "127.0.0.1"}
    log = open(work / "staff.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.staff"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/login", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, (work / "staff.log").read_text()
                time.sleep(0.1)
        yield Staff(url, database_url, store, receipt)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
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


def test_patient_text_is_inert_in_the_list_and_dashboard(client) -> None:
    for path in ("/feedback", "/"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- the dashboard and suppression ---------------------------------------------------------


def test_dashboard_charts_and_small_number_suppression(client) -> None:
    page = client.get("/").text
    assert page.count('<svg class="chart" role="img"') >= 8
    assert "<title id=" in page and "<desc id=" in page
    # age 25-34: 6 people; age 65-74: 2 people -> "<5" and no percentages
    about = page[page.index("Age band"):]
    about = about[:about.index("</table>")]
    assert re.search(r"25 to 34</th><td>6</td><td>6</td><td>100%</td><td>0%</td>", about)
    assert re.search(r"65 to 74</th><td>&lt;5</td><td>&lt;5</td><td>-</td><td>-</td>", about)
    # FFT: don't know counts in the denominator (NHS England): 6 positive of 9 = 67%
    assert "<strong>67%</strong> positive" in page


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
    assert any(r["question_key"] == "age_band" for r in rows)


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
    assert "&lt;5" in page
    assert "<svg" in page


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
