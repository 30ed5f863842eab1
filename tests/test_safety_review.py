"""The human follow-up of safety flags: the needs-attention queue (bot.safety.review), the
safeguarding role in the staff app, retention, migration 0006, and the content-free e-mail
alert (bot.safety.alert) against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import ipaddress
import logging
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, DateTime, create_engine, inspect, text
from sqlalchemy.pool import NullPool
from store_fixtures import (  # noqa: F401  (fixtures)
    Clock,
    clock_fixture,
    postgres_url_fixture,
    store_fixture,
    store_url_fixture,
)

from bot.anonymiser import Anonymised
from bot.cli import main
from bot.erasure import audit_log
from bot.launch import free_port
from bot.safety import alert, review
from bot.safety.kinds import RISK_KINDS
from bot.safety.models import safety_reviews
from bot.settings import SmtpSettings
from bot.staff.auth import Auth
from bot.store import AuditRow, Store, alembic_config, metadata, migrate
from tests.test_staff_app import PASSWORD, csrf, running_app

WARD_TEXT = "The night nurse on [WARD] shouts at the old man in bed 4 and leaves him wet"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ALERT_TO = "safeguarding-team@example.nhs.uk"
REVIEW_COLUMNS = {"id", "kind", "service", "language", "day", "text", "acknowledged_by",
                  "acknowledged_on"}


def trust_file(folder: Path, **safeguarding) -> Path:
    """A trust settings file with one service, and these safeguarding settings."""
    path = folder / "trust.yml"
    path.write_text(yaml.safe_dump({
        "trust_name": {"en": "Test NHS Trust"},
        "services": [{"key": "inpatient", "name": {"en": "Stay on a ward"}}],
        "pals": {"phone": "0300 000 0001", "email": "pals@example.nhs.uk"},
        "engagement_team": {"phone": "0300 000 0002", "email": "team@example.nhs.uk"},
        "safeguarding": {"review_days": 30, **safeguarding},
    }), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_alerts(monkeypatch, tmp_path: Path) -> None:
    """No SMTP and no alert address unless a test sets them; a fresh alert window."""
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.setenv("PATIENT_VOICE_TRUST_SETTINGS", str(trust_file(tmp_path)))
    monkeypatch.setattr(alert, "ALERTER", alert.Alerter())


def keep(store: Store, kind: str = "adult_at_risk", text: str = WARD_TEXT, **given) -> int:
    fields = {"service": "inpatient", "language": "en", **given}
    return review.keep_for_review(store, kind=kind, text=Anonymised(text, ()), **fields)


# --- the queue ------------------------------------------------------------------------------


def test_kept_reviews_are_listed_newest_first(store: Store, clock: Clock) -> None:
    first = keep(store)
    clock.day = date(2024, 3, 2)
    second = review.keep_for_review(store, kind="child_at_risk", service=None,
                                    language="pl", text="Dziecko jest bite")
    found = review.open_reviews(store)
    assert [r.id for r in found] == [second, first]
    assert found[1] == review.Review(first, "adult_at_risk", "inpatient", "en",
                                     date(2024, 3, 1), WARD_TEXT)
    assert (found[0].service, found[0].language, found[0].day) == (None, "pl", date(2024, 3, 2))
    assert found[0].kind_name == "Child at risk" and found[1].kind_name == "Adult at risk"
    assert review.all_reviews(store) == found and review.count_open(store) == 2
    assert review.all_reviews(store, acknowledged=True) == []
    assert review.all_reviews(store, limit=1) == found[:1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].text = "changed"  # type: ignore[misc]


def test_every_kind_can_be_kept_and_has_a_name(store: Store) -> None:
    """The migration's check constraint allows every kind the detector knows."""
    for kind in RISK_KINDS:
        keep(store, kind)
        assert kind in review.KIND_NAMES and "_" not in review.kind_name(kind)
    assert sorted(r.kind for r in review.open_reviews(store)) == sorted(RISK_KINDS)


def test_unknown_kinds_and_bad_values_are_refused(store: Store) -> None:
    for kind in ("harmless", "", "ADULT_AT_RISK"):
        with pytest.raises(ValueError):
            keep(store, kind)
    with pytest.raises(TypeError):
        review.keep_for_review(store, kind="adult_at_risk", service=None, language="en",
                               text=None)  # type: ignore[arg-type]
    for bad in ({"language": ""}, {"language": "x" * 9}, {"service": "s" * 65}):
        with pytest.raises(ValueError):
            keep(store, **bad)
    assert review.open_reviews(store) == []


def test_text_is_capped_at_5000_characters(store: Store) -> None:
    keep(store, text="a" * 4_000 + "b" * 2_000)
    [found] = review.open_reviews(store)
    assert len(found.text) == review.MAX_TEXT == 5_000
    assert found.text == "a" * 4_000 + "b" * 1_000


def test_the_table_has_no_sender_response_receipt_or_time_columns(store: Store) -> None:
    inspector = inspect(store.engine)
    columns = inspector.get_columns("safety_reviews")
    assert {c["name"] for c in columns} == REVIEW_COLUMNS
    assert {c.name for c in safety_reviews.columns} == REVIEW_COLUMNS
    for column in columns:
        assert not re.search(r"sender|response|receipt|phone|email|time|_at$", column["name"])
        assert not isinstance(column["type"], DateTime), column["name"]
    assert inspector.get_foreign_keys("safety_reviews") == []  # joined to nothing


def test_acknowledge_records_the_name_and_day_with_an_audit_line(
    store: Store, clock: Clock
) -> None:
    review_id = keep(store)
    clock.day = date(2024, 3, 4)
    assert review.acknowledge(store, review_id, staff_name="sam")
    [done] = review.all_reviews(store, acknowledged=True)
    assert (done.acknowledged_by, done.acknowledged_on) == ("sam", date(2024, 3, 4))
    assert done.day == date(2024, 3, 1) and review.open_reviews(store) == []
    [line] = audit_log(store)
    assert (line.happened_on, line.action, line.actor, line.count) == (
        date(2024, 3, 4), "safety_review_acknowledged", "staff", 1)
    # twice is harmless: the first acknowledgement stays, no second audit line
    assert not review.acknowledge(store, review_id, staff_name="jo")
    assert review.all_reviews(store)[0].acknowledged_by == "sam"
    assert not review.acknowledge(store, 999_999, staff_name="sam")
    assert len(audit_log(store)) == 1
    with pytest.raises(ValueError):
        review.acknowledge(store, review_id, staff_name=" ")


def test_acknowledgement_and_audit_line_are_one_transaction(store: Store, monkeypatch) -> None:
    """An audit line the database refuses takes the acknowledgement with it."""
    review_id = keep(store)
    monkeypatch.setattr(review, "audit_row", lambda *_: AuditRow(
        happened_on=store.today(), action="not_an_action", actor="staff", count=1))
    with pytest.raises(Exception, match="(?i)constraint|check"):
        review.acknowledge(store, review_id, staff_name="sam")
    assert [r.id for r in review.open_reviews(store)] == [review_id]
    assert audit_log(store) == []


def test_purge_deletes_only_old_reviews_and_audits(store: Store, clock: Clock) -> None:
    today = date(2024, 3, 1)
    for days_ago in (45, 31, 30, 0):
        clock.day = today - timedelta(days=days_ago)
        keep(store, text=f"kept {days_ago} days ago")
    clock.day = today - timedelta(days=31)
    oldest = review.all_reviews(store)[-1].id
    assert review.acknowledge(store, oldest, staff_name="sam")  # acknowledged or not
    clock.day = today
    assert review.purge_reviews(store, older_than_days=30, dry_run=True) == 2
    assert len(review.all_reviews(store)) == 4 and len(audit_log(store)) == 1
    assert review.purge_reviews(store, older_than_days=30) == 2
    assert [r.text for r in review.all_reviews(store)] == ["kept 0 days ago",
                                                            "kept 30 days ago"]
    line = audit_log(store)[-1]
    assert (line.action, line.actor, line.count) == ("safety_review_purged", "system", 2)
    assert review.purge_reviews(store, older_than_days=30) == 0
    with pytest.raises(ValueError):
        review.purge_reviews(store, older_than_days=0)


def test_patient_voice_purge_does_answers_contacts_and_reviews(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("PATIENT_VOICE_TRUST_SETTINGS",
                       str(trust_file(tmp_path, review_days=10)))
    url = f"sqlite:///{tmp_path / 'purge.db'}"
    store = Store(url, today=lambda: date.today() - timedelta(days=11))
    keep(store)
    store._today = date.today
    keep(store, text="from today")
    assert main(["purge", "--dry-run", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "would delete 0 responses, 0 contact requests" in out
    assert "1 messages kept for safeguarding review" in out
    assert main(["purge", "--database-url", url]) == 0
    assert "deleted 0 responses" in capsys.readouterr().out
    assert [r.text for r in review.all_reviews(store)] == ["from today"]
    assert [(e.action, e.count) for e in audit_log(store)] == [("purge", 0),
                                                               ("safety_review_purged", 1)]
    store.close()


# --- migration 0006 -------------------------------------------------------------------------


def test_migrate_from_0005_adds_the_queue_the_role_and_the_audit_actions(store_url) -> None:
    migrate(store_url, "0005")
    engine = create_engine(store_url, future=True, poolclass=NullPool)
    try:
        with engine.begin() as db:
            db.execute(text("INSERT INTO staff_users (name, password_hash, created_on) "
                            "VALUES ('old', 'x', '2024-01-01')"))
        assert "safety_reviews" not in inspect(engine).get_table_names()
        assert main(["migrate", "--database-url", store_url]) == 0
        inspector = inspect(engine)
        assert {c["name"] for c in inspector.get_columns("safety_reviews")} == REVIEW_COLUMNS
        assert "role" in {c["name"] for c in inspector.get_columns("staff_users")}
        with engine.connect() as db:
            assert db.execute(text("SELECT role FROM staff_users")).scalar_one() == "engagement"
            context = MigrationContext.configure(db, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        for table in ("safety_reviews", "staff_users", "audit_log"):
            model = {c.name for c in metadata.tables[table].constraints
                     if isinstance(c, CheckConstraint)}
            assert {c["name"] for c in inspector.get_check_constraints(table)} == model
        store = Store(store_url)
        keep(store)
        assert review.acknowledge(store, review.open_reviews(store)[0].id, staff_name="old")
        store.close()
        command.downgrade(alembic_config(store_url), "0005")
        inspector = inspect(engine)
        assert "safety_reviews" not in inspector.get_table_names()
        assert "role" not in {c["name"] for c in inspector.get_columns("staff_users")}
        migrate(store_url)
        assert "safety_reviews" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# --- roles and the command line -------------------------------------------------------------


def create_user(url: str, monkeypatch, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return main(["staff", "create-user", *args, "--password-stdin", "--database-url", url])


def test_create_user_with_a_role_and_list_users(tmp_path: Path, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    assert create_user(url, monkeypatch, "Sam", "--role", "safeguarding") == 0
    assert create_user(url, monkeypatch, "alex") == 0
    assert create_user(url, monkeypatch, "jo", "--role", "admin") == 2
    capsys.readouterr()
    assert main(["staff", "list-users", "--database-url", url]) == 0
    today = date.today().isoformat()
    assert capsys.readouterr().out.splitlines() == [f"alex\tengagement\t{today}",
                                                     f"sam\tsafeguarding\t{today}"]
    assert create_user(url, monkeypatch, "sam") == 0  # a new password keeps the role
    store = Store(url)
    auth = Auth(store)
    assert {u.name: u.role for u in auth.users()} == {"alex": "engagement",
                                                      "sam": "safeguarding"}
    session = auth.session(auth.login("sam", PASSWORD))
    assert session.role == "safeguarding" and session.safeguarding
    assert not auth.session(auth.login("alex", PASSWORD)).safeguarding
    assert create_user(url, monkeypatch, "sam", "--role", "engagement") == 0
    assert {u.name: u.role for u in auth.users()}["sam"] == "engagement"
    store.close()


# --- the staff app --------------------------------------------------------------------------


class App:
    def __init__(self, url: str, store: Store):
        self.url = url
        self.store = store

    def login(self, name: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        form = client.get("/login")
        reply = client.post("/login", data={"name": name, "password": PASSWORD,
                                            "csrf_token": csrf(form.text)})
        assert reply.status_code == 303, reply.text
        return client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The real staff app (``python -m bot.staff``) with a safeguarding and an engagement
    user; each test keeps the reviews it needs."""
    work = tmp_path_factory.mktemp("attention")
    database_url = f"sqlite:///{work / 'store.db'}"
    store = Store(database_url)
    auth = Auth(store)
    auth.create_user("sam", PASSWORD, role="safeguarding")
    auth.create_user("alex", PASSWORD)
    settings = str(trust_file(work, review_days=30))
    try:
        with running_app(work, database_url, PATIENT_VOICE_TRUST_SETTINGS=settings) as (url, _):
            yield App(url, store)
    finally:
        store.close()


def test_a_safeguarding_user_sees_the_queue_and_acknowledges(app: App) -> None:
    before = [e.action for e in audit_log(app.store)].count("safety_review_acknowledged")
    review_id = keep(app.store, text=WARD_TEXT + " " + XSS)
    polish = review.keep_for_review(app.store, kind="child_at_risk", service="service_other",
                                    language="pl", text="Sąsiad bije dziecko")
    with closing(app.login("sam")) as client:
        home = client.get("/").text
        assert 'href="/needs-attention"' in home
        page = client.get("/needs-attention")
        assert page.status_code == 200
        item = page.text.split(f'id="r-{review_id}"')[1].split("</li>")[0]
        assert "Adult at risk" in item and "Stay on a ward" in item and "English" in item
        assert date.today().isoformat() in item and "night nurse on [WARD]" in item
        assert "&lt;script&gt;" in item and "<script" not in page.text
        other = page.text.split(f'id="r-{polish}"')[1].split("</li>")[0]
        assert "Child at risk" in other and "Somewhere else" in other and "Polish" in other
        assert 'lang="pl"' in other
        reply = client.post(f"/needs-attention/{review_id}/acknowledge",
                            data={"csrf_token": csrf(page.text)})
        assert reply.status_code == 303
        assert reply.headers["location"] == "/needs-attention?done=1"
        after = client.get(reply.headers["location"]).text
        assert "The message was acknowledged with your name" in after
        assert f"Acknowledged by sam on {date.today().isoformat()}" in after
        again = client.post(f"/needs-attention/{review_id}/acknowledge",
                            data={"csrf_token": csrf(after)})
        assert again.headers["location"] == "/needs-attention?done=0"
        gone = client.post("/needs-attention/99999999999/acknowledge",
                           data={"csrf_token": csrf(after)})
        assert gone.headers["location"] == "/needs-attention?done=0"
    done = next(r for r in review.all_reviews(app.store) if r.id == review_id)
    assert (done.acknowledged_by, done.acknowledged_on) == ("sam", date.today())
    after = [e.action for e in audit_log(app.store)].count("safety_review_acknowledged")
    assert after == before + 1


def test_an_engagement_user_gets_403_and_no_link(app: App) -> None:
    review_id = keep(app.store, text="Only safeguarding may read this")
    with closing(app.login("alex")) as client:
        home = client.get("/")
        assert home.status_code == 200 and "/needs-attention" not in home.text
        page = client.get("/needs-attention")
        assert page.status_code == 403
        assert "Only safeguarding may read this" not in page.text
        assert "/needs-attention" not in page.text and "safeguarding role" in page.text
        reply = client.post(f"/needs-attention/{review_id}/acknowledge",
                            data={"csrf_token": csrf(home.text)})
        assert reply.status_code == 403
    assert review_id in {r.id for r in review.open_reviews(app.store)}


def test_acknowledging_needs_the_csrf_token_and_a_login(app: App) -> None:
    review_id = keep(app.store)
    with closing(app.login("sam")) as client:
        for data in ({}, {"csrf_token": "forged"}):
            reply = client.post(f"/needs-attention/{review_id}/acknowledge", data=data)
            assert reply.status_code == 403
    with httpx.Client(base_url=app.url, follow_redirects=False) as anonymous:
        assert anonymous.get("/needs-attention").headers["location"] == "/login"
        reply = anonymous.post(f"/needs-attention/{review_id}/acknowledge")
        assert reply.status_code == 303 and reply.headers["location"] == "/login"
    assert review_id in {r.id for r in review.open_reviews(app.store)}


def test_the_needs_attention_page_is_accessible(app: App) -> None:
    """axe-core: no WCAG 2.0-2.2 A/AA violations, with open and acknowledged reviews."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, run_axe

    require_browser()
    from playwright.sync_api import sync_playwright

    artifacts = Path(__file__).resolve().parent.parent / "var" / "test-artifacts" / "staff"
    artifacts.mkdir(parents=True, exist_ok=True)
    acknowledged = keep(app.store, text="Seen already")
    review.acknowledge(app.store, acknowledged, staff_name="sam")
    keep(app.store, "threat_to_others", text="He said he will hurt the staff on [WARD]")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(app.url + "/login")
            page.get_by_label("User name").fill("sam")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state()
            page.get_by_role("link", name="Needs attention").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Recently acknowledged").is_visible()
            run_axe(page, artifacts, "needs-attention")
            page.get_by_role("button", name=re.compile("Acknowledge message 1")).click()
            page.wait_for_load_state()
            assert page.get_by_role("status").is_visible()
            run_axe(page, artifacts, "needs-attention-acknowledged")
        finally:
            browser.close()


# --- the e-mail alert -----------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.logins: list[str] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd)
        self.envelopes.append(envelope)
        self.arrived.set()
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, data) -> AuthResult:
        self.logins.append(data.login.decode())
        return AuthResult(success=data.password == b"smtp-secret")


def smtp_env(monkeypatch, tmp_path: Path, port: int, **extra: str) -> None:
    monkeypatch.setenv("PATIENT_VOICE_TRUST_SETTINGS",
                       str(trust_file(tmp_path, alert_email=ALERT_TO)))
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TIMEOUT_SECONDS": "5",
           "SMTP_FROM": "patient-voice@example.nhs.uk", **extra}
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free loopback port."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def assert_no_content(body: str) -> None:
    for secret in ("nurse", "[WARD]", "adult", "Adult at risk", "inpatient",
                   "Stay on a ward", "English", date.today().isoformat()):
        assert secret.lower() not in body.lower(), secret


def test_one_alert_without_content_arrives_and_a_second_flag_sends_none(
    store: Store, inbox, monkeypatch, tmp_path: Path
) -> None:
    handler, port = inbox
    smtp_env(monkeypatch, tmp_path, port)
    keep(store)
    assert handler.arrived.wait(10), "no alert arrived"
    alert.ALERTER.wait(10)
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [ALERT_TO]
    assert envelope.mail_from == "patient-voice@example.nhs.uk"
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "A message in patient-voice needs review"
    body = mail.get_content()
    assert "needs review" in body and "staff app" in body
    assert_no_content(mail["Subject"] + body)
    keep(store, "child_at_risk", text="A second flag in the same ten minutes")
    alert.ALERTER.wait(10)
    time.sleep(0.5)
    assert len(handler.envelopes) == 1  # covered by the first e-mail
    assert len(review.open_reviews(store)) == 2


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (what SSL_CERT_FILE then trusts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = time.time()
    from datetime import datetime, timezone

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.fromtimestamp(now - 60, timezone.utc))
            .not_valid_after(datetime.fromtimestamp(now + 3600, timezone.utc))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_alert_uses_starttls_and_logs_in(monkeypatch, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(),
                            tls_context=server_tls, require_starttls=True,
                            authenticator=handler.authenticate, auth_required=True)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        settings = SmtpSettings(host="127.0.0.1", port=controller.port,
                                sender="patient-voice@example.nhs.uk", starttls=True,
                                user="pv-alerts", password="smtp-secret", timeout=5)
        alert.send(ALERT_TO, settings)
    finally:
        controller.stop()
    assert handler.logins == ["pv-alerts"]
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [ALERT_TO]


def test_an_unreachable_smtp_server_is_logged_without_content(
    store: Store, monkeypatch, tmp_path: Path, caplog
) -> None:
    smtp_env(monkeypatch, tmp_path, free_port())  # nothing listens there
    caplog.set_level(logging.INFO)
    keep(store)  # no exception
    alert.ALERTER.wait(10)
    failures = [r for r in caplog.records if "alert e-mail not sent" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.WARNING
    assert "ConnectionRefusedError" in failures[0].getMessage()
    for record in caplog.records:
        assert_no_content(record.getMessage())
        assert ALERT_TO not in record.getMessage()
    keep(store)  # the failed e-mail covered nothing: the next flag tries again
    alert.ALERTER.wait(10)
    assert len([r for r in caplog.records if "alert e-mail not sent" in r.getMessage()]) == 2
    assert len(review.open_reviews(store)) == 2


def test_keeping_a_review_never_waits_for_the_mail_server(
    store: Store, monkeypatch, tmp_path: Path
) -> None:
    smtp_env(monkeypatch, tmp_path, 25)
    release, sending = threading.Event(), threading.Event()

    def slow(to: str, smtp: SmtpSettings) -> None:
        sending.set()
        release.wait(10)

    monkeypatch.setattr(alert, "ALERTER", alert.Alerter(sender=slow))
    started = time.monotonic()
    review_id = keep(store)
    assert time.monotonic() - started < 2
    assert sending.wait(5) and review_id in {r.id for r in review.open_reviews(store)}
    release.set()
    alert.ALERTER.wait(10)


def test_one_alert_per_ten_minutes_per_process() -> None:
    now, sent = [1000.0], []
    alerter = alert.Alerter(clock=lambda: now[0], sender=lambda to, smtp: sent.append(to))
    smtp = SmtpSettings("127.0.0.1", 25, "pv@example.nhs.uk", False, "", "", 5)
    assert alerter.alert(ALERT_TO, smtp)
    now[0] += alert.WINDOW_SECONDS - 1
    assert not alerter.alert(ALERT_TO, smtp)
    now[0] += 2
    assert alerter.alert(ALERT_TO, smtp)
    alerter.wait(5)
    assert sent == [ALERT_TO, ALERT_TO]


def test_no_alert_without_an_address_or_smtp_host(store: Store, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(alert, "ALERTER", alert.Alerter(sender=lambda to, smtp: calls.append(to)))
    keep(store)  # the autouse fixture: no SMTP_HOST, no alert_email
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    keep(store)  # SMTP but no address
    alert.ALERTER.wait(5)
    assert calls == [] and len(review.open_reviews(store)) == 2


def test_unreadable_smtp_settings_lose_no_flag(store: Store, monkeypatch, tmp_path: Path,
                                               caplog) -> None:
    smtp_env(monkeypatch, tmp_path, 25, SMTP_PORT="not a port")
    keep(store)
    assert len(review.open_reviews(store)) == 1
    assert any("alert not started (ValueError)" in r.getMessage() for r in caplog.records)
