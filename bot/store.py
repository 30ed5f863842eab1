"""Where survey responses and answers are kept: SQLite by default, PostgreSQL by URL.

Privacy rules that this module enforces:

* response ids are random (``uuid4().hex``); nothing here takes a sender id or phone number;
* only days are stored (``Date`` columns), never times, as times help re-identify people;
* free text reaches the ``answers`` table only as an :class:`bot.anonymiser.Anonymised` value;
* a receipt code is shown to the patient once and only its sha256 is stored.

The schema is owned by Alembic (``bot/migrations``); :class:`Store` runs ``upgrade head`` when
it starts, so the models below and ``versions/`` must stay in step.

Translation: a free-text answer in English is its own English text (``text_en``, state
``not_needed``); in any other language it waits with state ``pending`` until
``bot.translation.translate_pending`` stores an anonymised English text with
:meth:`Store.set_translation` (state ``done``). The original text is never changed.

Themes (``bot.themes``, migration 0003): ``answer_themes`` holds the QDC themes and sentiment
of an answer's English text (:meth:`Store.save_themes`, :meth:`Store.unthemed_answers`);
``theme_corrections`` keeps staff corrections (:meth:`Store.correct_themes`) with a copy of the
anonymised English text, for :meth:`Store.corrections` and the next training. Both go with
their answer (``ON DELETE CASCADE``), so a withdrawal leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, Engine, Row, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, declarative_base, relationship
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Select

from bot.anonymiser import Anonymised
from bot.export import ABOUT_YOU_KEYS
from bot.settings import database_url

STATUSES = ("in_progress", "complete", "stopped")
FINAL_STATUSES = ("complete", "stopped")
RESPONDENTS = ("patient", "helper")
RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RECEIPT_PREFIX = "PV-"
RECEIPT_LENGTH = 6
_RECEIPT_ATTEMPTS = 8
TRANSLATION_STATES = ("not_needed", "pending", "done")
ENGLISH = "en"
EXPORT_BATCH = 500  # responses read per query by Store.iter_export_rows

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))
metadata = Base.metadata


class UnknownResponse(KeyError):
    """No response has this id (it may have been withdrawn or deleted)."""


class ResponseRow(Base):
    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'complete', 'stopped')", name="status"),
        CheckConstraint("respondent IN ('patient', 'helper')", name="respondent"),
    )

    id = Column(String(32), primary_key=True)
    created_on = Column(Date, nullable=False)
    status = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    channel = Column(String(32), nullable=False)
    service = Column(String(64), nullable=True)
    respondent = Column(String(16), nullable=True)
    receipt_hash = Column(String(64), nullable=True, unique=True)

    answers = relationship("AnswerRow", cascade="all, delete-orphan", order_by="AnswerRow.id")


class AnswerRow(Base):
    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_key", name="uq_answers_response_question"),
        CheckConstraint(
            "translation_state IN ('not_needed', 'pending', 'done')", name="translation_state"
        ),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    response_id = Column(String(32), ForeignKey("responses.id", ondelete="CASCADE"), nullable=False)
    question_key = Column(String(64), nullable=False)
    choices = Column(JSON, nullable=True)
    text = Column(Text, nullable=True)
    language = Column(String(8), nullable=False)
    channel = Column(String(32), nullable=False)
    service = Column(String(64), nullable=True)
    respondent = Column(String(16), nullable=True)
    answered_on = Column(Date, nullable=False)
    text_en = Column(Text, nullable=True)
    translation_state = Column(
        String(16), nullable=False, server_default="not_needed", default="not_needed", index=True
    )


class AnswerThemesRow(Base):
    """The themes and sentiment of one free-text answer (bot.themes, or a staff correction).

    ``text_digest`` is the sha256 of the English text that was themed: when the patient
    replaces the answer, or its translation arrives, the digest no longer matches and
    ``unthemed_answers`` offers the answer again. Deleted with its answer (withdrawal).
    """

    __tablename__ = "answer_themes"
    __table_args__ = (CheckConstraint("sentiment BETWEEN 1 AND 5", name="sentiment"),)

    answer_id = Column(
        Integer,
        ForeignKey("answers.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    themes = Column(JSON, nullable=False)
    sentiment = Column(Integer, nullable=True)
    model_version = Column(String(64), nullable=False)
    text_digest = Column(String(64), nullable=False)
    themed_on = Column(Date, nullable=False)


class ThemeCorrectionRow(Base):
    """A staff correction of an answer's themes, kept for the next training of the model.

    The anonymised English text and the question key are copied so the correction can be
    trained on as it was made; the row goes when its answer goes (withdrawal, deletion).
    """

    __tablename__ = "theme_corrections"
    __table_args__ = (CheckConstraint("sentiment BETWEEN 1 AND 5", name="sentiment"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    answer_id = Column(
        Integer, ForeignKey("answers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    text = Column(Text, nullable=False)
    question_key = Column(String(64), nullable=False)
    themes = Column(JSON, nullable=False)
    sentiment = Column(Integer, nullable=True)
    created_on = Column(Date, nullable=False)


# What the audit log can say happened (a new one needs a migration of the check constraint).
AUDIT_ACTIONS = ("withdraw", "purge", "export", "contact_deleted",
                 "safety_review_acknowledged", "safety_review_purged")


def one_of(column: str, values: Iterable[str]) -> str:
    """The SQL of a check constraint: ``column IN ('a', 'b')``."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


# Withdrawals and purges (bot/erasure.py): what, when, by whom, how many; never content.
class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(one_of("action", AUDIT_ACTIONS), name="audit_action"),
        CheckConstraint("actor IN ('patient', 'staff', 'system')", name="audit_actor"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    happened_on = Column(Date, nullable=False)
    action = Column(String(32), nullable=False)
    actor = Column(String(16), nullable=False)
    count = Column(Integer, nullable=False)


# Co-production contact details (bot/contacts.py): encrypted, no link to any answer.
class ContactRow(Base):
    __tablename__ = "contact_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_on = Column(Date, nullable=False)
    expires_on = Column(Date, nullable=False)
    language = Column(String(8), nullable=False)  # so the team can bring an interpreter
    secret = Column(LargeBinary, nullable=False)


@dataclass(frozen=True)
class ResponseRecord:
    id: str
    created_on: date
    status: str
    language: str
    channel: str
    service: str | None
    respondent: str | None
    has_receipt: bool


@dataclass(frozen=True)
class AnswerRecord:
    response_id: str
    question_key: str
    choices: list[str] | None
    text: str | None
    language: str
    channel: str
    service: str | None
    respondent: str | None
    answered_on: date
    text_en: str | None = None  # the English text, anonymised (None until translated)
    translation_state: str = "not_needed"  # "not_needed" | "pending" | "done"


@dataclass(frozen=True)
class PendingText:
    """A free-text answer waiting for its English translation."""

    answer_id: int
    language: str  # the language the text was written in
    text: str  # the anonymised original text


@dataclass(frozen=True)
class UnthemedAnswer:
    """A free-text answer whose English text has no themes yet (or changed since)."""

    answer_id: int
    question_key: str
    text: str  # the anonymised English text (the original, or its translation)


@dataclass(frozen=True)
class AnswerThemes:
    answer_id: int
    themes: list[str]
    sentiment: int | None  # 1 very positive .. 5 very negative
    model_version: str  # the model's version, or CORRECTED for a staff correction
    themed_on: date


CORRECTED = "corrected"  # model_version of themes set by a staff correction


def text_digest(text: str) -> str:
    """sha256 hex of the text that was themed (to notice a replaced or translated answer)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_themes(themes: Iterable[str]) -> list[str]:
    if isinstance(themes, str):
        raise TypeError("themes must be a list of str, not a str")
    cleaned = list(dict.fromkeys(themes))
    if not all(isinstance(theme, str) and theme.strip() for theme in cleaned):
        raise ValueError("themes must be non-empty category names")
    if any(len(theme) > 200 for theme in cleaned):
        raise ValueError("a theme name is longer than 200 characters")
    return cleaned


def _check_sentiment(sentiment: int | None) -> None:
    if sentiment is None:
        return
    if isinstance(sentiment, bool) or not isinstance(sentiment, int) or not 1 <= sentiment <= 5:
        raise ValueError("sentiment must be 1 (very positive) .. 5 (very negative) or None")


def _english_text(answer: AnswerRow) -> str | None:
    """The anonymised English text of an answer, or None while there is none."""
    if answer.text_en:
        return answer.text_en
    if answer.text and is_english(answer.language):
        return answer.text
    return None


# --- receipt codes ---------------------------------------------------------------------------


def new_receipt_code() -> str:
    """A fresh code such as ``PV-7K3M9Q`` (shown to the patient once, never stored)."""
    body = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return RECEIPT_PREFIX + body


def normalise_receipt_code(code: str) -> str | None:
    """``'pv 7k3m9q'``, ``'PV7K3M9Q'`` or ``'7K3-M9Q'`` -> ``'PV-7K3M9Q'``; None if not a code."""
    compact = re.sub(r"[\s\-_]+", "", str(code)).upper()
    if len(compact) == RECEIPT_LENGTH + 2 and compact.startswith("PV"):
        compact = compact[2:]
    if len(compact) != RECEIPT_LENGTH or any(c not in RECEIPT_ALPHABET for c in compact):
        return None
    return RECEIPT_PREFIX + compact


def receipt_hash(code: str) -> str | None:
    """The sha256 hex digest of the normalised code; None if ``code`` is not a receipt code."""
    normal = normalise_receipt_code(code)
    return hashlib.sha256(normal.encode("ascii")).hexdigest() if normal else None


# --- engines and migrations ------------------------------------------------------------------


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (e.g. ``var/``); other URLs are left alone."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or _is_sqlite_memory(parsed):
        return
    if parsed.database.startswith("file:"):
        return
    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy 2.0-style engine; SQLite gets its folder and ``PRAGMA foreign_keys=ON``."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)
    if _is_sqlite_memory(parsed):
        raise ValueError(
            "in-memory SQLite is not supported (each connection would see its own empty "
            "database); use a file URL such as sqlite:///path/to/test.db"
        )
    ensure_sqlite_folder(url)
    engine = create_engine(url, future=True, poolclass=NullPool)
    event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def alembic_config(url: str | None = None):
    """An Alembic ``Config`` for ``bot/alembic.ini`` that will migrate ``url``."""
    from alembic.config import Config

    here = Path(__file__).resolve().parent
    config = Config(str(here / "alembic.ini"))
    config.set_main_option("script_location", str(here / "migrations"))
    config.attributes["database_url"] = url or database_url()
    config.attributes["configure_logging"] = False
    return config


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default ``database_url()``) up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


# --- the store -------------------------------------------------------------------------------


def _response_record(row: ResponseRow) -> ResponseRecord:
    return ResponseRecord(
        id=row.id,
        created_on=row.created_on,
        status=row.status,
        language=row.language,
        channel=row.channel,
        service=row.service,
        respondent=row.respondent,
        has_receipt=row.receipt_hash is not None,
    )


def _answer_record(row: AnswerRow) -> AnswerRecord:
    return AnswerRecord(
        response_id=row.response_id,
        question_key=row.question_key,
        choices=list(row.choices) if row.choices is not None else None,
        text=row.text,
        language=row.language,
        channel=row.channel,
        service=row.service,
        respondent=row.respondent,
        answered_on=row.answered_on,
        text_en=row.text_en,
        translation_state=row.translation_state,
    )


def _clean_choices(choices: Iterable[str] | None) -> list[str] | None:
    if choices is None:
        return None
    if isinstance(choices, str):
        raise TypeError("choices must be a list of str, not a str")
    cleaned = list(choices)
    if not all(isinstance(choice, str) for choice in cleaned):
        raise TypeError("choices must be a list of str")
    return cleaned


def is_english(language: str) -> bool:
    """``en``, ``EN``, ``en-GB`` and ``en_GB`` are English."""
    return language.replace("_", "-").split("-", 1)[0].lower() == ENGLISH


def _check_anonymised(value: object, name: str) -> None:
    if not isinstance(value, Anonymised):
        raise TypeError(f"{name} must be an Anonymised value from bot.anonymiser.anonymise()")


def _check_respondent(respondent: str | None) -> None:
    if respondent is not None and respondent not in RESPONDENTS:
        raise ValueError(f"respondent must be one of {RESPONDENTS}, not {respondent!r}")


class Store:
    """Responses and answers, one short transaction per call.

    ``today`` is the clock for ``created_on``/``answered_on`` (tests pass a fixed day).
    """

    def __init__(self, url: str | None = None, *, today: Callable[[], date] = date.today):
        self.url = url or database_url()
        self._today = today
        self.engine = make_engine(self.url)
        migrate(self.url)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def session(self) -> Session:
        """A new session on the store's database, for the store's sibling modules
        (erasure, contacts, the staff app) that read or write tables of their own."""
        return Session(self.engine, future=True, expire_on_commit=False)

    def today(self) -> date:
        """The store's clock (a fixed day in tests)."""
        return self._today()

    @staticmethod
    def _response(session: Session, response_id: str) -> ResponseRow:
        row = session.get(ResponseRow, response_id)
        if row is None:
            raise UnknownResponse(response_id)
        return row

    def start_response(self, *, language: str, channel: str) -> str:
        """Open a new response and return its random id."""
        response_id = uuid.uuid4().hex
        row = ResponseRow(
            id=response_id,
            created_on=self._today(),
            status="in_progress",
            language=language,
            channel=channel,
        )
        with self.session() as s, s.begin():
            s.add(row)
        return response_id

    def update_response(
        self,
        response_id: str,
        *,
        language: str | None = None,
        channel: str | None = None,
        service: str | None = None,
        respondent: str | None = None,
        clear: tuple[str, ...] = (),
    ) -> None:
        """Set only the given fields, and empty those named in ``clear`` (a skipped answer).

        A new or cleared service/respondent is copied to the saved answers too.
        """
        _check_respondent(respondent)
        if set(clear) - {"service", "respondent"}:
            raise ValueError("only service and respondent can be cleared")
        given = dict(language=language, channel=channel, service=service, respondent=respondent)
        changes = {key: value for key, value in given.items() if value is not None}
        changes.update({key: None for key in clear})
        with self.session() as s, s.begin():
            row = self._response(s, response_id)
            for key, value in changes.items():
                setattr(row, key, value)
            shared = {k: v for k, v in changes.items() if k in ("service", "respondent")}
            if shared:
                s.execute(
                    update(AnswerRow).where(AnswerRow.response_id == response_id).values(**shared)
                )

    def save_answer(
        self,
        response_id: str,
        question_key: str,
        *,
        choices: list[str] | None = None,
        text: Anonymised | None = None,
        language: str | None = None,
    ) -> None:
        """Insert or replace the answer to ``question_key`` (patients may go back and change it).

        ``text`` must come from ``bot.anonymiser.anonymise()``; a plain ``str`` raises TypeError.
        ``language`` is the language the answer was written in when it is not the response's
        (a patient who chose Urdu may write in English). English text is its own translation
        (state ``not_needed``); text in another language is stored as ``pending`` for
        ``patient-voice translate-pending``. Replacing an answer drops its old translation.
        """
        if text is not None:
            _check_anonymised(text, "text")
        if language is not None and (not isinstance(language, str) or not language.strip()):
            raise ValueError("language must be a language code such as 'en' or 'pl'")
        cleaned = _clean_choices(choices)
        with self.session() as s, s.begin():
            response = self._response(s, response_id)
            query = select(AnswerRow).filter_by(response_id=response_id, question_key=question_key)
            answer = s.execute(query).scalar_one_or_none()
            if answer is None:
                answer = AnswerRow(response_id=response_id, question_key=question_key)
                s.add(answer)
            answer.choices = cleaned
            answer.text = text.text if text is not None else None
            answer.answered_on = self._today()
            for key in ("language", "channel", "service", "respondent"):
                setattr(answer, key, getattr(response, key))
            if language is not None:
                answer.language = language.strip()
            if text is None:
                answer.text_en, answer.translation_state = None, "not_needed"
            elif is_english(answer.language):
                answer.text_en, answer.translation_state = text.text, "not_needed"
            else:
                answer.text_en, answer.translation_state = None, "pending"

    def delete_answer(self, response_id: str, question_key: str) -> None:
        """Forget one answer; nothing happens if there is none."""
        query = select(AnswerRow).filter_by(response_id=response_id, question_key=question_key)
        with self.session() as s, s.begin():
            answer = s.execute(query).scalar_one_or_none()
            if answer is not None:
                s.delete(answer)

    def complete_response(self, response_id: str, *, status: str = "complete") -> str:
        """Close the response (``complete`` or ``stopped``) and return its new receipt code.

        Only the code's hash is stored, so each call makes a new code and the old one stops
        working.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {FINAL_STATUSES}, not {status!r}")
        for _ in range(_RECEIPT_ATTEMPTS):
            code = new_receipt_code()
            try:
                with self.session() as s, s.begin():
                    row = self._response(s, response_id)
                    row.status = status
                    row.receipt_hash = receipt_hash(code)
            except IntegrityError:
                continue  # another response has this code's hash: draw again
            return code
        raise RuntimeError("could not draw an unused receipt code")

    def delete_response(self, response_id: str) -> bool:
        """Delete a response and its answers; False if there was no such response."""
        with self.session() as s, s.begin():
            row = s.get(ResponseRow, response_id)
            if row is None:
                return False
            s.delete(row)
        return True

    def withdraw(self, receipt_code: str) -> bool:
        """Delete the response whose receipt code this is (any case/spacing); False if none."""
        digest = receipt_hash(receipt_code)
        if digest is None:
            return False
        query = select(ResponseRow).where(ResponseRow.receipt_hash == digest)
        with self.session() as s, s.begin():
            row = s.execute(query).scalar_one_or_none()
            if row is None:
                return False
            s.delete(row)
        return True

    def get_response(self, response_id: str) -> ResponseRecord | None:
        """The response as a plain record, or None."""
        with self.session() as s:
            row = s.get(ResponseRow, response_id)
            return _response_record(row) if row is not None else None

    def answers_for(self, response_id: str) -> list[AnswerRecord]:
        """The response's answers in the order first given (empty for an unknown id)."""
        query = select(AnswerRow).filter_by(response_id=response_id).order_by(AnswerRow.id)
        with self.session() as s:
            return [_answer_record(row) for row in s.execute(query).scalars()]

    # --- translation queue ---------------------------------------------------------------------

    def pending_translations(self, limit: int = 100) -> list[PendingText]:
        """Up to ``limit`` answers waiting for an English translation, oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive whole number")
        query = (
            select(AnswerRow.id, AnswerRow.language, AnswerRow.text)
            .where(AnswerRow.translation_state == "pending")
            .order_by(AnswerRow.id)
            .limit(limit)
        )
        with self.session() as s:
            return [
                PendingText(answer_id, language, text)
                for answer_id, language, text in s.execute(query)
            ]

    def set_translation(
        self, answer_id: int, english: Anonymised, *, source_text: str | None = None
    ) -> bool:
        """Store the anonymised English text of a pending answer; its state becomes ``done``.

        ``english`` must come from ``bot.anonymiser.anonymise()``; a plain ``str`` raises
        TypeError. Returns False, and changes nothing, if the answer is no longer pending
        (withdrawn, replaced by the patient or already translated) or, when ``source_text`` is
        given, if its original text is no longer ``source_text`` (so a translation of an older
        answer never lands on a newer one).
        """
        _check_anonymised(english, "english")
        statement = (
            update(AnswerRow)
            .where(AnswerRow.id == answer_id, AnswerRow.translation_state == "pending")
            .values(text_en=english.text, translation_state="done")
        )
        if source_text is not None:
            statement = statement.where(AnswerRow.text == source_text)
        with self.session() as s, s.begin():
            return s.execute(statement).rowcount == 1

    def count_pending(self) -> int:
        """How many answers are waiting for an English translation."""
        query = (
            select(func.count())
            .select_from(AnswerRow)
            .where(AnswerRow.translation_state == "pending")
        )
        with self.session() as s:
            return s.execute(query).scalar_one()

    def export_rows(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        service: str | None = None,
    ) -> list[dict]:
        """Every row of :meth:`iter_export_rows` as a list (small exports and tests).

        Exports of any size should iterate :meth:`iter_export_rows` instead.
        """
        return list(self.iter_export_rows(since=since, until=until, service=service))

    def iter_export_rows(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        service: str | None = None,
        within: Select | None = None,
        batch: int = EXPORT_BATCH,
    ) -> Iterator[dict]:
        """One dict per answer, joined with its response, lazily; see ``bot.export.COLUMNS``.

        The "about you" answers (``bot.export.ABOUT_YOU_KEYS``) are left out: in a row beside
        the day, service, language and text they could single a person out, so they are only
        ever counted in aggregate, small numbers suppressed. Each row carries its answer's
        themes (a list), sentiment and whether staff corrected them, read in the same query
        as the batch's answers.

        ``since``/``until`` are inclusive and filter on the response's ``created_on``;
        ``service`` on the answer's service; ``within`` is a ``select`` of the response ids to
        keep (the staff app's filters). Rows come ordered by the response's day, the response
        id, then the answer id. Dates come back as ISO strings.

        Rows are read ``batch`` responses at a time, each batch in its own short read
        (keyset pagination on the day and id), so memory stays small whatever the range, and
        no read transaction stays open while a slow client downloads: on SQLite an open read
        would keep the bot from saving answers.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError("batch must be a positive whole number")
        conditions = _export_conditions(since, until, service, within)
        after: tuple[date, str] | None = None
        while True:
            responses, answers = self._export_batch(conditions, service, after, batch)
            for response in responses:
                for answer in answers.get(response.id, ()):
                    yield _export_row(answer, response)
            if len(responses) < batch:
                return
            after = (responses[-1].created_on, responses[-1].id)

    def _export_batch(
        self, conditions: list, service: str | None, after: tuple[date, str] | None, batch: int
    ) -> tuple[list, dict[str, list]]:
        """The next ``batch`` matching responses after ``after``, and their answers by id."""
        query = select(*ResponseRow.__table__.c).where(*conditions)
        if after is not None:
            day, last_id = after
            query = query.where(
                or_(
                    ResponseRow.created_on > day,
                    and_(ResponseRow.created_on == day, ResponseRow.id > last_id),
                )
            )
        query = query.order_by(ResponseRow.created_on, ResponseRow.id).limit(batch)
        with self.engine.connect() as db:
            responses = db.execute(query).all()
            if not responses:
                return [], {}
            found = _export_answers([r.id for r in responses])
            if service is not None:
                found = found.where(AnswerRow.service == service)
            answers: dict[str, list] = {}
            for answer in db.execute(found.order_by(AnswerRow.id)):
                answers.setdefault(answer.response_id, []).append(answer)
        return responses, answers

    # --- themes (bot.themes) and staff corrections ---------------------------------------------

    def unthemed_answers(
        self,
        limit: int = 100,
        *,
        question_keys: Iterable[str] | None = None,
        after: int = 0,
    ) -> list[UnthemedAnswer]:
        """Up to ``limit`` answers with an English text and no themes for it, oldest first.

        An answer counts as unthemed when it has no themes yet or its English text changed
        since it was themed (the patient replaced it). Answers still waiting for their
        translation are left out until it arrives. ``question_keys`` limits the questions;
        ``after`` skips answers with an id up to it (to page through).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive whole number")
        query = (
            select(AnswerRow, AnswerThemesRow.text_digest)
            .outerjoin(AnswerThemesRow, AnswerThemesRow.answer_id == AnswerRow.id)
            .where(AnswerRow.text.is_not(None), AnswerRow.id > after)
            .order_by(AnswerRow.id)
        )
        if question_keys is not None:
            query = query.where(AnswerRow.question_key.in_(list(question_keys)))
        found: list[UnthemedAnswer] = []
        with self.session() as s:
            for answer, digest in s.execute(query.execution_options(yield_per=500)):
                english = _english_text(answer)
                if not english or (digest is not None and digest == text_digest(english)):
                    continue
                found.append(UnthemedAnswer(answer.id, answer.question_key, english))
                if len(found) == limit:
                    break
        return found

    def save_themes(
        self,
        answer_id: int,
        themes: Iterable[str],
        sentiment: int | None,
        model_version: str,
        *,
        source_text: str | None = None,
    ) -> bool:
        """Store (or replace) the themes of an answer's current English text.

        Returns False, and changes nothing, if the answer is gone (withdrawn), has no English
        text, or, when ``source_text`` is given, its English text is no longer that text (so
        the themes of an older answer never land on a newer one).
        """
        cleaned = _clean_themes(themes)
        _check_sentiment(sentiment)
        if not isinstance(model_version, str) or not 0 < len(model_version) <= 64:
            raise ValueError("model_version must be 1 to 64 characters")
        with self.session() as s, s.begin():
            answer = s.get(AnswerRow, answer_id)
            english = _english_text(answer) if answer is not None else None
            if english is None or (source_text is not None and english != source_text):
                return False
            self._set_themes(s, answer_id, cleaned, sentiment, model_version, english)
        return True

    def _set_themes(
        self,
        s: Session,
        answer_id: int,
        themes: list[str],
        sentiment: int | None,
        model_version: str,
        english: str,
    ) -> None:
        row = s.get(AnswerThemesRow, answer_id)
        if row is None:
            row = AnswerThemesRow(answer_id=answer_id)
            s.add(row)
        row.themes, row.sentiment, row.model_version = themes, sentiment, model_version
        row.text_digest, row.themed_on = text_digest(english), self._today()

    def themes_for(self, answer_id: int) -> AnswerThemes | None:
        """The themes of an answer, or None if it has none (yet)."""
        with self.session() as s:
            row = s.get(AnswerThemesRow, answer_id)
            if row is None:
                return None
            return AnswerThemes(
                row.answer_id, list(row.themes), row.sentiment, row.model_version, row.themed_on
            )

    def correct_themes(
        self, answer_id: int, themes: Iterable[str], sentiment: int | None = None
    ) -> bool:
        """A staff correction: these are the answer's themes (and sentiment, if given).

        The answer's themes become the corrected ones (``model_version`` ``corrected``), and
        the correction is kept, with a copy of the anonymised English text and the question
        key, for the next ``patient-voice themes train``. A later correction of the same
        answer replaces the earlier one. Withdrawing or deleting the answer deletes both.
        Returns False if there is no such answer or it has no English text yet (waiting for
        its translation). Raises ValueError for a bad theme list or sentiment.
        """
        cleaned = _clean_themes(themes)
        _check_sentiment(sentiment)
        query = select(ThemeCorrectionRow).where(ThemeCorrectionRow.answer_id == answer_id)
        with self.session() as s, s.begin():
            answer = s.get(AnswerRow, answer_id)
            english = _english_text(answer) if answer is not None else None
            if english is None:
                return False
            correction = s.execute(query).scalars().first()
            if correction is None:
                correction = ThemeCorrectionRow(answer_id=answer_id)
                s.add(correction)
            correction.text, correction.question_key = english, answer.question_key
            correction.themes, correction.sentiment = cleaned, sentiment
            correction.created_on = self._today()
            current = s.get(AnswerThemesRow, answer_id)
            if sentiment is None and current is not None:
                sentiment = current.sentiment  # only the themes were corrected
            self._set_themes(s, answer_id, cleaned, sentiment, CORRECTED, english)
        return True

    def corrections(self) -> list[dict[str, str]]:
        """Every staff correction as a row of the labelled CSV format (``bot.themes``).

        ``FFT question`` holds our question key, ``Weight`` is
        ``bot.themes.CORRECTION_WEIGHT``, ``Comment sentiment`` is empty when only the themes
        were corrected, and each corrected theme is a column set to ``"1"``.
        """
        from bot.themes import CORRECTION_WEIGHT, make_row

        query = select(ThemeCorrectionRow).order_by(ThemeCorrectionRow.id)
        with self.session() as s:
            return [
                make_row(
                    row.text,
                    row.question_key,
                    row.themes,
                    row.sentiment,
                    comment_id=f"correction-{row.id}",
                    respondent_id=f"correction-{row.id}",
                    weight=CORRECTION_WEIGHT,
                )
                for row in s.execute(query).scalars()
            ]


def _export_conditions(
    since: date | None, until: date | None, service: str | None, within: Select | None
) -> list:
    """Conditions on ``responses`` for an export (see :meth:`Store.iter_export_rows`)."""
    found = []
    if since is not None:
        found.append(ResponseRow.created_on >= since)
    if until is not None:
        found.append(ResponseRow.created_on <= until)
    if service is not None:  # responses with an answer about the service
        found.append(
            exists().where(AnswerRow.response_id == ResponseRow.id, AnswerRow.service == service)
        )
    if within is not None:
        found.append(ResponseRow.id.in_(within))
    return found


def _export_answers(response_ids: list[str]) -> Select:
    """The answers of these responses with their themes (one outer join, so a batch is one
    query whatever its size), without the "about you" answers, which no row export holds."""
    return (
        select(
            *AnswerRow.__table__.c,
            AnswerThemesRow.themes.label("themes"),
            AnswerThemesRow.sentiment.label("sentiment"),
            AnswerThemesRow.model_version.label("model_version"),
        )
        .outerjoin(AnswerThemesRow, AnswerThemesRow.answer_id == AnswerRow.id)
        .where(
            AnswerRow.response_id.in_(response_ids),
            AnswerRow.question_key.not_in(sorted(ABOUT_YOU_KEYS)),
        )
    )


def _export_row(answer: Row, response: ResponseRow | Row) -> dict:
    """An export row from a row of :func:`_export_answers` and its response."""
    return {
        "response_id": response.id,
        "status": response.status,
        "created_on": response.created_on.isoformat(),
        "answered_on": answer.answered_on.isoformat(),
        "question_key": answer.question_key,
        "choices": "; ".join(answer.choices) if answer.choices is not None else None,
        "text": answer.text,
        "text_en": answer.text_en,
        "translation_state": answer.translation_state,
        "language": answer.language,
        "channel": answer.channel,
        "service": answer.service,
        "respondent": answer.respondent,
        "themes": list(answer.themes or []),
        "sentiment": answer.sentiment,
        "themes_corrected": answer.model_version == CORRECTED,
    }


# The staff app's tables (accounts, sessions) and the safeguarding review queue live with
# their modules but share this metadata, so the schema check and Alembic see one whole schema.
import bot.safety.models  # noqa: E402, F401
import bot.staff.models  # noqa: E402, F401
