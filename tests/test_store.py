"""bot.store on SQLite and (with TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    UniqueConstraint,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.pool import NullPool
from store_fixtures import (  # noqa: F401  (fixtures)
    clock_fixture,
    postgres_url_fixture,
    store_fixture,
    store_url_fixture,
)

import bot.store as store_module
from bot.anonymiser import Anonymised
from bot.store import (
    AnswerRecord,
    Store,
    UnknownResponse,
    alembic_config,
    metadata,
    migrate,
    normalise_receipt_code,
    receipt_hash,
)

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"^PV-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$")

RESPONSE_COLUMNS = {
    "id",
    "created_on",
    "status",
    "language",
    "channel",
    "service",
    "respondent",
    "receipt_hash",
}
ANSWER_COLUMNS = {
    "id",
    "response_id",
    "question_key",
    "choices",
    "text",
    "language",
    "channel",
    "service",
    "respondent",
    "answered_on",
}


def anon(value: str) -> Anonymised:
    return Anonymised(text=value, tags=())


def table_values(url: str) -> list[str]:
    """Every cell of both tables, as text."""
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            cells = []
            for table in ("responses", "answers"):
                for row in connection.execute(text(f"SELECT * FROM {table}")):
                    cells.extend(str(value) for value in row)
            return cells
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


# --- responses -------------------------------------------------------------------------------


def test_start_response_makes_a_random_id_and_stores_only_the_day(store, clock):
    first = store.start_response(language="en", channel="web")
    second = store.start_response(language="cy", channel="whatsapp")
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    record = store.get_response(first)
    assert record.id == first
    assert record.created_on == clock.day and type(record.created_on) is date
    assert (record.status, record.language, record.channel) == ("in_progress", "en", "web")
    assert (record.service, record.respondent, record.has_receipt) == (None, None, False)


def test_update_response_sets_only_the_given_fields(store):
    response_id = store.start_response(language="en", channel="web")
    store.update_response(response_id, service="maternity")
    store.update_response(response_id, respondent="helper")
    store.update_response(response_id, language="pl")
    record = store.get_response(response_id)
    assert (record.language, record.channel) == ("pl", "web")
    assert (record.service, record.respondent) == ("maternity", "helper")


def test_update_response_rejects_an_unknown_respondent(store):
    response_id = store.start_response(language="en", channel="web")
    with pytest.raises(ValueError):
        store.update_response(response_id, respondent="doctor")
    assert store.get_response(response_id).respondent is None


def test_update_response_copies_service_and_respondent_to_saved_answers(store):
    response_id = store.start_response(language="en", channel="web")
    store.update_response(response_id, service="ae")
    store.save_answer(response_id, "overall", choices=["good"])
    store.update_response(response_id, service="maternity", respondent="patient", language="ur")
    [answer] = store.answers_for(response_id)
    assert (answer.service, answer.respondent, answer.language) == ("maternity", "patient", "en")


# --- answers ---------------------------------------------------------------------------------


def test_save_answer_copies_the_response_context(store, clock):
    response_id = store.start_response(language="cy", channel="sms")
    store.update_response(response_id, service="ae", respondent="patient")
    clock.day = date(2024, 3, 2)
    store.save_answer(response_id, "overall", choices=["good", "kind staff"])
    store.save_answer(response_id, "comment", text=anon("The nurse [NAME] was kind"))
    assert store.answers_for(response_id) == [
        AnswerRecord(
            response_id,
            "overall",
            ["good", "kind staff"],
            None,
            "cy",
            "sms",
            "ae",
            "patient",
            date(2024, 3, 2),
        ),
        AnswerRecord(
            response_id,
            "comment",
            None,
            "The nurse [NAME] was kind",
            "cy",
            "sms",
            "ae",
            "patient",
            date(2024, 3, 2),
        ),
    ]


def test_save_answer_replaces_an_earlier_answer(store, clock):
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "overall", choices=["poor"])
    store.save_answer(response_id, "comment", text=anon("first"))
    clock.day = date(2024, 3, 5)
    store.save_answer(response_id, "overall", choices=["good"])
    store.save_answer(response_id, "comment", text=anon("second"))
    answers = store.answers_for(response_id)
    assert [(a.question_key, a.choices, a.text) for a in answers] == [
        ("overall", ["good"], None),
        ("comment", None, "second"),
    ]
    assert {a.answered_on for a in answers} == {date(2024, 3, 5)}
    assert count(store.url, "answers") == 2


def test_save_answer_refuses_plain_text(store):
    response_id = store.start_response(language="en", channel="web")
    with pytest.raises(TypeError):
        store.save_answer(response_id, "comment", text="Call me on 07700 900123")
    with pytest.raises(TypeError):
        store.save_answer(response_id, "overall", choices="good")
    with pytest.raises(TypeError):
        store.save_answer(response_id, "overall", choices=["good", 3])
    assert store.answers_for(response_id) == []
    assert "Call me on 07700 900123" not in table_values(store.url)


def test_delete_answer(store):
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "overall", choices=["good"])
    store.save_answer(response_id, "comment", text=anon("fine"))
    store.delete_answer(response_id, "overall")
    store.delete_answer(response_id, "overall")  # nothing left to delete: no error
    store.delete_answer("0" * 32, "overall")
    assert [a.question_key for a in store.answers_for(response_id)] == ["comment"]


@pytest.mark.parametrize(
    "operation",
    [
        lambda s, rid: s.update_response(rid, service="ae"),
        lambda s, rid: s.save_answer(rid, "overall", choices=["good"]),
        lambda s, rid: s.save_answer(rid, "comment", text=anon("hi")),
        lambda s, rid: s.complete_response(rid),
    ],
    ids=["update_response", "save_choices", "save_text", "complete_response"],
)
def test_unknown_response_id_raises(store, operation):
    with pytest.raises(UnknownResponse) as caught:
        operation(store, "f" * 32)
    assert isinstance(caught.value, KeyError)
    assert count(store.url, "answers") == 0


def test_unknown_response_id_reads_as_missing(store):
    assert store.get_response("f" * 32) is None
    assert store.answers_for("f" * 32) == []
    assert store.delete_response("f" * 32) is False


# --- completion, receipts and withdrawal -----------------------------------------------------


def test_complete_response_returns_a_code_and_stores_only_its_hash(store):
    response_id = store.start_response(language="en", channel="web")
    code = store.complete_response(response_id)
    assert CODE.match(code)
    record = store.get_response(response_id)
    assert (record.status, record.has_receipt) == ("complete", True)
    cells = table_values(store.url)
    assert hashlib.sha256(code.encode()).hexdigest() in cells
    assert not any(code[3:] in cell for cell in cells)


def test_complete_response_can_record_a_stop(store):
    response_id = store.start_response(language="en", channel="web")
    assert CODE.match(store.complete_response(response_id, status="stopped"))
    assert store.get_response(response_id).status == "stopped"
    with pytest.raises(ValueError):
        store.complete_response(response_id, status="in_progress")


def test_complete_response_draws_again_when_a_code_is_taken(store, monkeypatch):
    codes = iter(["PV-AAAAAA", "PV-AAAAAA", "PV-AAAAAA", "PV-BBBBBB"])
    monkeypatch.setattr(store_module, "new_receipt_code", lambda: next(codes))
    first = store.start_response(language="en", channel="web")
    second = store.start_response(language="en", channel="web")
    assert store.complete_response(first) == "PV-AAAAAA"
    assert store.complete_response(second) == "PV-BBBBBB"
    assert store.withdraw("PV-BBBBBB") and store.get_response(first) is not None


def test_new_receipt_codes_use_the_alphabet():
    codes = {store_module.new_receipt_code() for _ in range(200)}
    assert len(codes) > 190 and all(CODE.match(code) for code in codes)


@pytest.mark.parametrize(
    "typed",
    ["PV-7K3M9Q", "pv 7k3m9q", "pv7k3m9q", "  Pv-7k3-m9q ", "7k3m9q", "PV - 7K3 M9Q", "pv\t7K3M9Q"],
)
def test_withdraw_accepts_messy_forms_of_the_code(store, monkeypatch, typed):
    monkeypatch.setattr(store_module, "new_receipt_code", lambda: "PV-7K3M9Q")
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "overall", choices=["good"])
    store.complete_response(response_id)
    assert store.withdraw(typed) is True
    assert store.get_response(response_id) is None
    assert count(store.url, "answers") == 0
    assert store.withdraw(typed) is False


@pytest.mark.parametrize("typed", ["PV-7K3M9R", "PV-7K3M9", "hello", "", "PV-7K3M9Q0", "PV-7K3M90"])
def test_withdraw_with_a_wrong_code_deletes_nothing(store, monkeypatch, typed):
    monkeypatch.setattr(store_module, "new_receipt_code", lambda: "PV-7K3M9Q")
    response_id = store.start_response(language="en", channel="web")
    store.complete_response(response_id)
    assert store.withdraw(typed) is False
    assert store.get_response(response_id) is not None


def test_normalise_receipt_code():
    assert normalise_receipt_code("pv 7k3m9q") == "PV-7K3M9Q"
    assert normalise_receipt_code("PVPV2345") == "PV-PV2345"
    assert normalise_receipt_code("PV2345") == "PV-PV2345"
    assert normalise_receipt_code("2345") is None
    assert normalise_receipt_code("PV-O0I1LQ") is None
    assert receipt_hash("pv-7k3m9q") == hashlib.sha256(b"PV-7K3M9Q").hexdigest()
    assert receipt_hash("nonsense") is None


# --- deletion --------------------------------------------------------------------------------


def test_delete_response_takes_its_answers(store):
    keep = store.start_response(language="en", channel="web")
    store.save_answer(keep, "overall", choices=["good"])
    gone = store.start_response(language="en", channel="web")
    store.save_answer(gone, "overall", choices=["poor"])
    store.save_answer(gone, "comment", text=anon("bad"))
    assert store.delete_response(gone) is True
    assert store.get_response(gone) is None and store.answers_for(gone) == []
    assert count(store.url, "answers") == 1
    assert store.delete_response(gone) is False


def test_database_cascades_deletes_too(store):
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "overall", choices=["good"])
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM responses"))
    assert count(store.url, "answers") == 0


# --- export rows -----------------------------------------------------------------------------


def test_export_rows_join_filter_and_order(store, clock):
    clock.day = date(2024, 3, 2)
    later = store.start_response(language="cy", channel="web")
    store.update_response(later, service="maternity", respondent="helper")
    store.save_answer(later, "overall", choices=["good", "quick"])
    store.save_answer(later, "comment", text=anon("Diolch"))
    clock.day = date(2024, 3, 1)
    earlier = store.start_response(language="en", channel="sms")
    store.update_response(earlier, service="ae")
    store.save_answer(earlier, "overall", choices=["poor"])
    code = store.complete_response(earlier)

    rows = store.export_rows()
    assert [(r["response_id"], r["question_key"]) for r in rows] == [
        (earlier, "overall"),
        (later, "overall"),
        (later, "comment"),
    ]
    assert rows[0] == {
        "response_id": earlier,
        "status": "complete",
        "created_on": "2024-03-01",
        "answered_on": "2024-03-01",
        "question_key": "overall",
        "choices": "poor",
        "text": None,
        "language": "en",
        "channel": "sms",
        "service": "ae",
        "respondent": None,
    }
    assert rows[1]["choices"] == "good; quick" and rows[2]["text"] == "Diolch"
    assert code not in str(rows)
    assert store.export_rows(since=date(2024, 3, 2)) == rows[1:]
    assert store.export_rows(until=date(2024, 3, 1)) == rows[:1]
    assert store.export_rows(service="maternity") == rows[1:]
    assert store.export_rows(since=date(2024, 3, 1), until=date(2024, 3, 1), service="ae") == [
        rows[0]
    ]
    assert store.export_rows(since=date(2024, 3, 3)) == []


# --- schema and migrations -------------------------------------------------------------------


def test_schema_holds_no_contact_details_and_no_times(store):
    inspector = inspect(store.engine)
    columns = {table: inspector.get_columns(table) for table in ("responses", "answers")}
    assert {c["name"] for c in columns["responses"]} == RESPONSE_COLUMNS
    assert {c["name"] for c in columns["answers"]} == ANSWER_COLUMNS
    for table_columns in columns.values():
        for column in table_columns:
            assert not re.search(r"phone|sender|number|tel|email|mobile|name", column["name"])
            assert not isinstance(column["type"], DateTime), column["name"]
    assert {c.name for c in metadata.tables["responses"].columns} == RESPONSE_COLUMNS
    assert {c.name for c in metadata.tables["answers"].columns} == ANSWER_COLUMNS


def test_migrated_schema_matches_the_models(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    inspector = inspect(store.engine)
    for table in metadata.sorted_tables:
        model_checks = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        model_uniques = {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == model_checks
        assert {c["name"] for c in inspector.get_unique_constraints(table.name)} == model_uniques
    [foreign_key] = inspector.get_foreign_keys("answers")
    assert foreign_key["name"] == "fk_answers_response_id_responses"
    assert foreign_key["options"].get("ondelete") == "CASCADE"


def test_migrations_upgrade_and_downgrade(store_url):
    migrate(store_url)
    migrate(store_url)  # already at head: nothing to do
    engine = create_engine(store_url, future=True, poolclass=NullPool)
    try:
        assert {"responses", "answers"} <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(store_url), "base")
        assert not {"responses", "answers"} & set(inspect(engine).get_table_names())
        migrate(store_url)
        assert {"responses", "answers"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_alembic_command_line_from_the_repository_root(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", "bot/alembic.ini", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    store = Store(url)
    assert store.get_response(store.start_response(language="en", channel="web")) is not None
    store.close()


def test_store_creates_the_sqlite_folder(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'var' / 'deeper' / 'pv.db'}")
    store.close()
    assert (tmp_path / "var" / "deeper" / "pv.db").is_file()


def test_store_refuses_in_memory_sqlite():
    with pytest.raises(ValueError):
        Store("sqlite://")


def test_core_modules_do_not_import_rasa():
    code = (
        "import sys, bot.store, bot.export, bot.cli\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk')]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
