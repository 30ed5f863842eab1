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
    PendingText,
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
    "text_en",
    "translation_state",
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
            None,
            "not_needed",
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
            None,
            "pending",
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


# --- translations ----------------------------------------------------------------------------


def translation_of(store, response_id: str, key: str) -> tuple:
    [answer] = [a for a in store.answers_for(response_id) if a.question_key == key]
    return answer.language, answer.text, answer.text_en, answer.translation_state


def test_english_text_is_its_own_translation(store):
    response_id = store.start_response(language="en", channel="web")
    store.save_answer(response_id, "comment", text=anon("Kind staff"))
    store.save_answer(response_id, "overall", choices=["good"])
    assert translation_of(store, response_id, "comment") == (
        "en",
        "Kind staff",
        "Kind staff",
        "not_needed",
    )
    assert translation_of(store, response_id, "overall") == ("en", None, None, "not_needed")
    assert store.count_pending() == 0 and store.pending_translations() == []


def test_text_in_another_language_waits_for_translation(store):
    response_id = store.start_response(language="pl", channel="web")
    store.save_answer(response_id, "overall", choices=["good"])
    store.save_answer(response_id, "comment", text=anon("Miła obsługa"))
    assert translation_of(store, response_id, "overall") == ("pl", None, None, "not_needed")
    assert translation_of(store, response_id, "comment") == ("pl", "Miła obsługa", None, "pending")
    [pending] = store.pending_translations()
    assert pending == PendingText(pending.answer_id, "pl", "Miła obsługa")
    assert isinstance(pending.answer_id, int) and store.count_pending() == 1


@pytest.mark.parametrize(
    ("chosen", "written", "stored", "state"),
    [
        ("ur", "en", "en", "not_needed"),
        ("ur", "en-GB", "en-GB", "not_needed"),
        ("en", "pl", "pl", "pending"),
        ("cy", None, "cy", "pending"),
        ("en", None, "en", "not_needed"),
    ],
)
def test_save_answer_language_overrides_the_response_language(
    store, chosen, written, stored, state
):
    response_id = store.start_response(language=chosen, channel="sms")
    store.save_answer(response_id, "comment", text=anon("text"), language=written)
    language, _, text_en, translation_state = translation_of(store, response_id, "comment")
    assert (language, translation_state) == (stored, state)
    assert text_en == ("text" if state == "not_needed" else None)
    assert store.get_response(response_id).language == chosen


def test_save_answer_rejects_an_empty_language(store):
    response_id = store.start_response(language="en", channel="web")
    with pytest.raises(ValueError):
        store.save_answer(response_id, "comment", text=anon("text"), language=" ")
    assert store.answers_for(response_id) == []


def test_set_translation_stores_anonymised_english(store):
    response_id = store.start_response(language="ur", channel="web")
    store.save_answer(response_id, "comment", text=anon("original [PHONE]"))
    [pending] = store.pending_translations()
    with pytest.raises(TypeError):
        store.set_translation(pending.answer_id, "Call me on 07700 900123")
    assert store.count_pending() == 1
    assert "Call me on 07700 900123" not in table_values(store.url)
    assert store.set_translation(pending.answer_id, anon("Call me on [PHONE]")) is True
    assert translation_of(store, response_id, "comment") == (
        "ur",
        "original [PHONE]",
        "Call me on [PHONE]",
        "done",
    )
    assert store.count_pending() == 0 and store.pending_translations() == []
    # already done: a second translation changes nothing
    assert store.set_translation(pending.answer_id, anon("other")) is False
    assert translation_of(store, response_id, "comment")[2] == "Call me on [PHONE]"
    assert store.export_rows()[0]["text_en"] == "Call me on [PHONE]"
    assert store.export_rows()[0]["translation_state"] == "done"


def test_set_translation_does_not_land_on_a_changed_or_withdrawn_answer(store):
    response_id = store.start_response(language="pl", channel="web")
    store.save_answer(response_id, "comment", text=anon("pierwszy"))
    [old] = store.pending_translations()
    store.save_answer(response_id, "comment", text=anon("drugi"))
    assert store.set_translation(old.answer_id, anon("first"), source_text="pierwszy") is False
    assert translation_of(store, response_id, "comment") == ("pl", "drugi", None, "pending")
    assert store.set_translation(old.answer_id, anon("second"), source_text="drugi") is True
    store.delete_response(response_id)
    assert store.set_translation(old.answer_id, anon("second")) is False
    assert store.set_translation(10**6, anon("nothing")) is False


def test_replacing_a_translated_answer_makes_it_pending_again(store):
    response_id = store.start_response(language="pl", channel="web")
    store.save_answer(response_id, "comment", text=anon("pierwszy"))
    [pending] = store.pending_translations()
    store.set_translation(pending.answer_id, anon("first"))
    store.save_answer(response_id, "comment", text=anon("drugi"))
    assert translation_of(store, response_id, "comment") == ("pl", "drugi", None, "pending")
    store.save_answer(response_id, "comment", text=anon("third"), language="en")
    assert translation_of(store, response_id, "comment") == ("en", "third", "third", "not_needed")
    store.save_answer(response_id, "comment", choices=["nothing"])
    assert translation_of(store, response_id, "comment") == ("pl", None, None, "not_needed")


def test_pending_translations_oldest_first_with_a_limit(store):
    ids = []
    for language in ("pl", "ur", "en", "ar", "so"):
        response_id = store.start_response(language=language, channel="web")
        store.save_answer(response_id, "comment", text=anon(f"text in {language}"))
        ids.append(response_id)
    assert store.count_pending() == 4
    assert [p.language for p in store.pending_translations()] == ["pl", "ur", "ar", "so"]
    assert [p.text for p in store.pending_translations(limit=2)] == ["text in pl", "text in ur"]
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            store.pending_translations(limit=bad)


def test_the_database_refuses_an_unknown_translation_state(store):
    response_id = store.start_response(language="pl", channel="web")
    store.save_answer(response_id, "comment", text=anon("tekst"))
    with pytest.raises(Exception) as caught:  # IntegrityError on both databases
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE answers SET translation_state = 'lost'"))
    assert "constraint" in str(caught.value).lower()
    assert store.count_pending() == 1


def test_migration_0002_brings_old_answers_in_line_and_downgrades(store_url):
    migrate(store_url, "0001")
    engine = create_engine(store_url, future=True, poolclass=NullPool)
    old_answers = [
        ("pl", "comment", "'Dzięki'"),
        ("pl", "overall", "NULL"),
        ("en", "comment", "'Thanks'"),
        ("en-GB", "comment", "'Cheers'"),
        ("eng", "comment", "'?'"),
    ]
    try:
        with engine.begin() as connection:
            for number, (language, key, value) in enumerate(old_answers):
                connection.execute(
                    text(
                        "INSERT INTO responses (id, created_on, status, language, channel) "
                        f"VALUES ('r{number}', '2024-01-01', 'complete', '{language}', 'web')"
                    )
                )
                connection.execute(
                    text(
                        "INSERT INTO answers (response_id, question_key, text, language, "
                        f"channel, answered_on) VALUES ('r{number}', '{key}', {value}, "
                        f"'{language}', 'web', '2024-01-01')"
                    )
                )
        migrate(store_url)
        store = Store(store_url)
        try:
            found = [store.answers_for(f"r{n}")[0] for n in range(len(old_answers))]
            assert [(a.text, a.text_en, a.translation_state) for a in found] == [
                ("Dzięki", None, "pending"),
                (None, None, "not_needed"),
                ("Thanks", "Thanks", "not_needed"),
                ("Cheers", "Cheers", "not_needed"),
                ("?", None, "pending"),
            ]
        finally:
            store.close()
        command.downgrade(alembic_config(store_url), "0001")
        columns = {c["name"] for c in inspect(engine).get_columns("answers")}
        assert columns == ANSWER_COLUMNS - {"text_en", "translation_state"}
        assert count(store_url, "answers") == len(old_answers)
        migrate(store_url)
        assert {c["name"] for c in inspect(engine).get_columns("answers")} == ANSWER_COLUMNS
    finally:
        engine.dispose()


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
        "text_en": None,
        "translation_state": "not_needed",
        "language": "en",
        "channel": "sms",
        "service": "ae",
        "respondent": None,
        "themes": [],
        "sentiment": None,
        "themes_corrected": False,
    }
    assert rows[1]["choices"] == "good; quick" and rows[2]["text"] == "Diolch"
    assert (rows[2]["language"], rows[2]["text_en"], rows[2]["translation_state"]) == (
        "cy",
        None,
        "pending",
    )
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


def test_update_response_can_clear_service_and_respondent(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'clear.db'}")
    rid = store.start_response(language="en", channel="rest")
    store.update_response(rid, service="maternity", respondent="helper")
    store.save_answer(rid, "rating", choices=["good"])
    store.update_response(rid, clear=("service", "respondent"))
    row = store.get_response(rid)
    assert (row.service, row.respondent) == (None, None)
    assert store.answers_for(rid)[0].service is None
    with pytest.raises(ValueError):
        store.update_response(rid, clear=("language",))


def test_iter_export_rows_is_lazy_and_reads_a_batch_at_a_time(store, clock):
    import types

    from sqlalchemy import event, select

    from bot.store import ResponseRow

    for n in range(30):  # several responses a day, so the keyset must break ties by id
        clock.day = date(2024, 1, 1 + n % 7)
        rid = store.start_response(language="en", channel="web")
        store.update_response(rid, service="maternity" if n % 3 == 0 else "ae")
        store.save_answer(rid, "overall", choices=["good"])
        store.save_answer(rid, "comment", text=anon(f"comment {n}"))
    everything = store.export_rows()
    assert len(everything) == 60
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "FROM responses" in statement or "FROM answers" in statement:
            reads.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        rows = store.iter_export_rows(batch=4)
        assert isinstance(rows, types.GeneratorType) and reads == []  # nothing read yet
        first = next(rows)
        assert len(reads) == 2  # 4 responses and their answers, not the other 26
        assert [first, *rows] == everything
        assert len(reads) == 2 * 8  # 30 responses in batches of 4
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    maternity = [r for r in everything if r["service"] == "maternity"]
    assert list(store.iter_export_rows(service="maternity", batch=3)) == maternity
    within = select(ResponseRow.id).where(ResponseRow.service == "maternity")
    assert list(store.iter_export_rows(within=within, batch=1)) == maternity
    days = [r for r in everything if "2024-01-02" <= r["created_on"] <= "2024-01-03"]
    assert store.export_rows(since=date(2024, 1, 2), until=date(2024, 1, 3)) == days
    with pytest.raises(ValueError):
        next(store.iter_export_rows(batch=0))
