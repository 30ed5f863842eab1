"""Filters, the feedback list, export rows and the summary behind the dashboard and report.

Small-number suppression, the same in every table of the dashboard, the report and the XLSX
summary sheet (:class:`Table` makes every cell): a count from 1 to 4 is shown as "<5", and no
percentage resting on fewer than 5 is shown, so nobody can be singled out. FFT percentages
(NHS England's method) count every answer to the FFT question, "Don't know" included, in the
denominator; responses that skipped the question are left out. An FFT percentage is shown
only when at least 5 people answered the FFT question.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date

from sqlalchemy import Text, cast, event, exists, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.questions import BARRIERS, FFT_RATINGS, FLOW
from bot.store import (
    CORRECTED,
    AnswerRow,
    AnswerThemesRow,
    ResponseRow,
    Store,
    is_english,
)

PAGE_SIZE = 25
SMALL = 5  # counts 1..SMALL-1 are suppressed
POSITIVE = ("very_good", "good")
NEGATIVE = ("poor", "very_poor")
SENTIMENTS = {1: "Very positive", 2: "Positive", 3: "Neutral or mixed", 4: "Negative",
              5: "Very negative"}
ABOUT_YOU = (
    ("respondent", "Who answered"),
    ("age_band", "Age band"),
    ("ethnic_group", "Ethnic group (broad)"),
    ("religion", "Religion or belief"),
    ("sexual_orientation", "Sexual orientation"),
    ("gender_identity", "Gender identity same as sex registered at birth"),
    ("long_term_condition", "Long-term condition"),
    ("condition_impact", "Impact of the condition"),
    ("communication_needs", "Communication needs"),
    ("housing", "Housing"),
)
MAX_TEXT = 200
QUOTES = 6
QUOTE_KEYS = ("rating_reason", "barriers_more", "improve")


def label(value: str | None) -> str:
    """``very_good`` -> ``Very good``; empty -> ``Not given``."""
    if not value:
        return "Not given"
    if value.startswith("age_"):  # age_25_34 -> 25 to 34, age_85_plus -> 85 plus
        return value[4:].replace("_", " to ", 1).replace(" to plus", " plus").replace(
            "under to ", "Under ")
    for prefix in ("age_", "religion_", "housing_", "ethnic_"):
        if value.startswith(prefix) and value != prefix:
            value = value[len(prefix):]
    words = value.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def month_label(month: str) -> str:
    return date.fromisoformat(month + "-01").strftime("%b %Y")


def suppressed(count: int) -> bool:
    return 0 < count < SMALL


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    service: str | None = None
    theme: str | None = None
    barrier: str | None = None
    language: str | None = None
    rating: str | None = None
    sentiment: int | None = None
    q: str | None = None

    @classmethod
    def parse(cls, args: Mapping) -> Filters:
        """From query or form fields; values that make no sense are dropped."""

        def text(name: str) -> str | None:
            value = args.get(name)
            value = value.strip()[:MAX_TEXT] if isinstance(value, str) else None
            return value or None

        sentiment = text("sentiment")
        return cls(
            since=_day(text("since")),
            until=_day(text("until")),
            service=text("service"),
            theme=text("theme"),
            barrier=b if (b := text("barrier")) in BARRIERS else None,
            language=text("language"),
            rating=r if (r := text("rating")) in FFT_RATINGS else None,
            sentiment=int(sentiment) if sentiment in ("1", "2", "3", "4", "5") else None,
            q=text("q"),
        )

    def items(self) -> list[tuple[str, str]]:
        """The filters that are set, as form fields."""
        found = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                found.append((f.name, value.isoformat() if isinstance(value, date) else str(value)))
        return found

    def describe(self) -> str:
        parts = [f"{name} {value}" for name, value in self.items()]
        return "; ".join(parts) if parts else "all responses"


def _like(value: str) -> str:
    return f"%{_escape_raw(value)}%"  # folded in SQL, like the text: see casefold


class casefold(FunctionElement):  # noqa: N801 - an SQL function, named like one
    """Unicode case folding in SQL, for a search that ignores case in every script.

    SQLite's own ``lower()`` folds ASCII letters only, so on SQLite this is ``pv_casefold``,
    Python's ``str.casefold`` registered on each connection (:func:`prepare`); elsewhere it
    is ``lower()``, which PostgreSQL applies to every script under a UTF-8 locale.
    """

    type = Text()
    inherit_cache = True
    name = "casefold"


@compiles(casefold)
def _casefold_default(element, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(casefold, "sqlite")
def _casefold_sqlite(element, compiler, **kw) -> str:
    return f"pv_casefold({compiler.process(element.clauses, **kw)})"


def _sqlite_casefold(value):
    return value.casefold() if isinstance(value, str) else value


def _register_casefold(dbapi_connection, record, _proxy) -> None:
    if not record.info.get("pv_casefold"):
        dbapi_connection.create_function("pv_casefold", 1, _sqlite_casefold, deterministic=True)
        record.info["pv_casefold"] = True


def prepare(store: Store) -> None:
    """Give each SQLite connection of ``store`` the ``pv_casefold`` function as it is checked
    out (whatever the pool; connections opened before this call too)."""
    engine = store.engine
    if engine.dialect.name == "sqlite" and not event.contains(engine, "checkout",
                                                              _register_casefold):
        event.listen(engine, "checkout", _register_casefold)


def _json_contains(column, value: str):
    return cast(column, Text).like("%" + _escape_raw(json.dumps(value)) + "%", escape="\\")


def _escape_raw(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _answer_conditions(f: Filters) -> list:
    found = [AnswerRow.text.is_not(None)]
    if f.q:
        pattern = casefold(literal(_like(f.q), Text()))
        found.append(or_(casefold(AnswerRow.text).like(pattern, escape="\\"),
                         casefold(AnswerRow.text_en).like(pattern, escape="\\")))
    if f.theme:
        found.append(_json_contains(AnswerThemesRow.themes, f.theme))
    if f.sentiment:
        found.append(AnswerThemesRow.sentiment == f.sentiment)
    return found


def _choice_exists(question_key: str, value: str):
    return exists(select(AnswerRow.id).where(
        AnswerRow.response_id == ResponseRow.id, AnswerRow.question_key == question_key,
        _json_contains(AnswerRow.choices, value)))


def response_ids(f: Filters):
    """A subquery of the ids of the responses that match the filters."""
    query = select(ResponseRow.id)
    if f.since:
        query = query.where(ResponseRow.created_on >= f.since)
    if f.until:
        query = query.where(ResponseRow.created_on <= f.until)
    if f.service:
        query = query.where(ResponseRow.service == f.service)
    if f.language:
        query = query.where(ResponseRow.language == f.language)
    if f.rating:
        query = query.where(_choice_exists("rating", f.rating))
    if f.barrier:
        query = query.where(_choice_exists("barriers", f.barrier))
    if f.q or f.theme or f.sentiment:
        query = query.where(exists(
            select(AnswerRow.id)
            .outerjoin(AnswerThemesRow, AnswerThemesRow.answer_id == AnswerRow.id)
            .where(AnswerRow.response_id == ResponseRow.id, *_answer_conditions(f))))
    return query


# --- the feedback list ----------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    answer_id: int
    created_on: date
    question_key: str
    text: str
    text_en: str | None
    translation_state: str
    language: str
    channel: str
    service: str | None
    rating: str | None
    themes: list[str]
    sentiment: int | None
    corrected: bool = False  # the themes were set by a staff correction

    @property
    def correctable(self) -> bool:
        """Themes can be corrected once the comment has an English text."""
        return bool(self.text_en) or is_english(self.language)


@dataclass(frozen=True)
class Page:
    comments: list[Comment]
    total: int
    page: int
    pages: int


def _comment_query(where: list):
    return (select(AnswerRow, ResponseRow.created_on, AnswerThemesRow.themes,
                   AnswerThemesRow.sentiment, AnswerThemesRow.model_version)
            .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
            .outerjoin(AnswerThemesRow, AnswerThemesRow.answer_id == AnswerRow.id)
            .where(*where))


def _comments(s, rows) -> list[Comment]:
    """Comments from ``_comment_query`` rows, with the FFT answer of their response."""
    ids = {answer.response_id for answer, *_ in rows}
    ratings = dict(s.execute(select(AnswerRow.response_id, AnswerRow.choices).where(
        AnswerRow.response_id.in_(ids), AnswerRow.question_key == "rating")).all())
    comments = []
    for answer, created_on, themes, sentiment, version in rows:
        rating = ratings.get(answer.response_id)
        comments.append(Comment(
            answer.id, created_on, answer.question_key, answer.text, answer.text_en,
            answer.translation_state, answer.language, answer.channel, answer.service,
            rating[0] if rating else None, list(themes or []), sentiment, version == CORRECTED))
    return comments


def feedback_page(store: Store, f: Filters, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Free-text answers of the matching responses (newest first), one page of them."""
    where = [AnswerRow.response_id.in_(response_ids(f)), *_answer_conditions(f)]
    prepare(store)
    count = (select(func.count()).select_from(AnswerRow)
             .outerjoin(AnswerThemesRow, AnswerThemesRow.answer_id == AnswerRow.id).where(*where))
    with store.session() as s:
        total = s.execute(count).scalar_one()
        pages = max(1, -(-total // size))
        page = min(max(1, page), pages)
        rows = s.execute(_comment_query(where)
                         .order_by(ResponseRow.created_on.desc(), AnswerRow.id.desc())
                         .limit(size).offset((page - 1) * size)).all()
        comments = _comments(s, rows)
    return Page(comments, total, page, pages)


def comment(store: Store, answer_id: int) -> Comment | None:
    """One free-text answer as the list shows it, or None (no such answer, or no text)."""
    with store.session() as s:
        rows = s.execute(_comment_query([AnswerRow.id == answer_id,
                                         AnswerRow.text.is_not(None)])).all()
        found = _comments(s, rows)
    return found[0] if found else None


def export_rows(store: Store, f: Filters) -> list[dict]:
    """Every answer of the matching responses, in ``bot.export.COLUMNS`` shape."""
    return list(iter_export_rows(store, f))


def iter_export_rows(store: Store, f: Filters) -> Iterator[dict]:
    """:func:`export_rows` lazily, a batch of responses at a time (for streamed exports)."""
    prepare(store)
    return store.iter_export_rows(within=response_ids(f) if f.items() else None)


def choices_for_filters(store: Store) -> dict[str, list[str]]:
    """The values seen in the store for the service, language and theme menus."""
    with store.session() as s:
        services = s.execute(select(ResponseRow.service).distinct()).scalars().all()
        languages = s.execute(select(ResponseRow.language).distinct()).scalars().all()
        themes: set[str] = set()
        for value in s.execute(select(AnswerThemesRow.themes)).scalars():
            themes.update(value or [])
    return {"service": sorted(v for v in services if v), "language": sorted(languages),
            "theme": sorted(themes)}


# --- the summary ----------------------------------------------------------------------------


def count_text(count: int) -> str:
    """A count as shown on the dashboard, in the report and the XLSX summary: 1 to 4 -> "<5"."""
    return "<5" if suppressed(count) else str(count)


@dataclass
class Row:
    label: str
    count: int
    share: float | None = None  # of the table's total, for count tables
    rated: int = 0  # FFT tables: people who answered the FFT question
    positive: float | None = None
    negative: float | None = None
    pos: int = 0  # FFT answers "very good" or "good"
    neg: int = 0  # FFT answers "poor" or "very poor"
    parts: list[Row] = field(default_factory=list)  # matrix tables: one FFT row per column


def _merge(name: str, rows: list[Row]) -> Row:
    """One row adding up ``rows`` (FFT counts and percentages recomputed; matrix columns too)."""
    rated, pos, neg = (sum(r.rated for r in rows), sum(r.pos for r in rows),
                       sum(r.neg for r in rows))
    width = max((len(r.parts) for r in rows), default=0)
    parts = [_merge("", [r.parts[i] for r in rows if i < len(r.parts)]) for i in range(width)]
    shares = [r.share for r in rows if r.share is not None]
    return Row(name, sum(r.count for r in rows), sum(shares) if shares else None, rated,
               100 * pos / rated if rated else None, 100 * neg / rated if rated else None,
               pos, neg, parts)


@dataclass
class Table:
    """A table of the dashboard, the report and the XLSX summary, small numbers suppressed.

    ``kind`` is "count" (a count and its share), "fft" (responses, FFT answers, % positive and
    % negative) or "matrix" (FFT rows by ``columns``: each cell "% positive / % negative (n)").
    Every count from 1 to 4 is shown as "<5"; a percentage is shown only when it rests on 5
    or more (its row's count for shares, the FFT answers for FFT percentages).
    """

    key: str
    title: str
    label_header: str
    rows: list[Row]
    kind: str = "count"
    note: str = ""
    columns: list[str] = field(default_factory=list)  # matrix tables: the column headers

    @staticmethod
    def count_text(row: Row) -> str:
        return count_text(row.count)

    def hidden(self, row: Row) -> bool:
        """True when this row's percentages must not be shown."""
        if self.kind in ("fft", "matrix"):
            return row.rated < SMALL or suppressed(row.count)
        return suppressed(row.count)

    @staticmethod
    def pct(value: float | None) -> str:
        return "" if value is None else f"{value:.0f}%"

    @staticmethod
    def fft_cell(row: Row) -> str:
        """A matrix cell: "67% / 8% (12)", "<5" when fewer than 5 answered, "none" for 0."""
        if row.rated == 0:
            return "none"
        if row.rated < SMALL:
            return "<5"
        return f"{row.positive:.0f}% / {row.negative:.0f}% ({row.rated})"

    def cells(self, row: Row) -> list[str]:
        if self.kind == "matrix":
            return [self.fft_cell(part) for part in row.parts]
        if self.kind == "fft":
            hide = self.hidden(row)
            return [self.count_text(row), count_text(row.rated),
                    "-" if hide else self.pct(row.positive),
                    "-" if hide else self.pct(row.negative)]
        return [self.count_text(row), "-" if self.hidden(row) else self.pct(row.share)]

    def headers(self) -> list[str]:
        if self.kind == "matrix":
            return [self.label_header, *self.columns]
        if self.kind == "fft":
            return [self.label_header, "Responses", "FFT answers", "% positive", "% negative"]
        return [self.label_header, "Count", "% of total"]

    # Shorter versions for the one-page report (the dashboard and XLSX show every row).

    def _with(self, rows: list[Row], columns: list[str] | None = None) -> Table:
        return Table(self.key, self.title, self.label_header, rows, self.kind, self.note,
                     self.columns if columns is None else columns)

    def head(self, n: int) -> Table:
        """The first ``n`` rows."""
        return self._with(self.rows[:n])

    def top(self, n: int, others: str) -> Table:
        """The ``n`` largest rows (by responses) and one row ``others`` adding up the rest."""
        if len(self.rows) <= n + 1:
            return self
        ranked = sorted(self.rows, key=lambda r: (-r.count, r.label))
        return self._with([*ranked[:n], _merge(others, ranked[n:])])

    def last(self, n: int, earlier: str) -> Table:
        """The last ``n`` rows, after one row ``earlier`` adding up those before them."""
        if len(self.rows) <= n + 1:
            return self
        return self._with([_merge(earlier, self.rows[:-n]), *self.rows[-n:]])

    def top_columns(self, n: int, others: str) -> Table:
        """A matrix with its ``n`` columns that have the most FFT answers, and ``others``."""
        if len(self.columns) <= n + 1:
            return self
        totals = [sum(r.parts[i].rated for r in self.rows) for i in range(len(self.columns))]
        keep = sorted(sorted(range(len(self.columns)), key=lambda i: -totals[i])[:n])
        rest = [i for i in range(len(self.columns)) if i not in keep]
        rows = [Row(r.label, r.count, parts=[*(r.parts[i] for i in keep),
                                             _merge("", [r.parts[i] for i in rest])])
                for r in self.rows]
        return self._with(rows, [*(self.columns[i] for i in keep), others])


@dataclass
class Summary:
    filters: Filters
    responses: int
    comments: int
    tables: dict[str, Table] = field(default_factory=dict)
    quotes: list[str] = field(default_factory=list)  # a few recent comments, in English

    def overall(self) -> Table:
        return self.tables["fft_overall"]

    @property
    def responses_text(self) -> str:
        return count_text(self.responses)

    @property
    def comments_text(self) -> str:
        return count_text(self.comments)


def _count_table(key, title, header, counter: Counter, *, top=None, order=None, note="",
                 total=None) -> Table:
    total = total if total is not None else sum(counter.values())
    items = ([(k, counter.get(k, 0)) for k in order if counter.get(k, 0)] if order
             else counter.most_common(top))
    rows = [Row(lab, n, 100 * n / total if total else None) for lab, n in items]
    return Table(key, title, header, rows, "count", note)


def _fft_row(name: str, ids: list[str], ratings: Mapping[str, str]) -> Row:
    given = [ratings[i] for i in ids if i in ratings]
    rated = len(given)
    pos = sum(r in POSITIVE for r in given)
    neg = sum(r in NEGATIVE for r in given)
    return Row(name, len(ids), None, rated, 100 * pos / rated if rated else None,
               100 * neg / rated if rated else None, pos, neg)


def summarise(store: Store, f: Filters, settings=None) -> Summary:
    """Everything the dashboard and the report show, for the responses matching ``f``."""
    prepare(store)
    sub = response_ids(f)
    with store.session() as s:
        responses = s.execute(select(ResponseRow.id, ResponseRow.created_on, ResponseRow.service,
                                     ResponseRow.language, ResponseRow.channel,
                                     ResponseRow.respondent).where(ResponseRow.id.in_(sub))).all()
        choices = s.execute(select(AnswerRow.response_id, AnswerRow.question_key,
                                   AnswerRow.choices)
                            .where(AnswerRow.response_id.in_(sub),
                                   AnswerRow.choices.is_not(None))).all()
        themed = s.execute(select(AnswerThemesRow.themes, AnswerThemesRow.sentiment)
                           .join(AnswerRow, AnswerRow.id == AnswerThemesRow.answer_id)
                           .where(AnswerRow.response_id.in_(sub),
                                  AnswerRow.text.is_not(None))).all()
        quotes = s.execute(select(func.coalesce(AnswerRow.text_en, AnswerRow.text))
                           .join(ResponseRow, ResponseRow.id == AnswerRow.response_id)
                           .where(AnswerRow.response_id.in_(sub), AnswerRow.text.is_not(None),
                                  AnswerRow.question_key.in_(QUOTE_KEYS))
                           .order_by(ResponseRow.created_on.desc(), AnswerRow.id.desc())
                           .limit(QUOTES)).scalars().all()
        comments = s.execute(select(func.count()).select_from(AnswerRow).where(
            AnswerRow.response_id.in_(sub), AnswerRow.text.is_not(None))).scalar_one()
    answers: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for response_id, key, values in choices:
        answers[response_id][key] = list(values or [])
    for r in responses:
        if r.respondent:
            answers[r.id]["respondent"] = [r.respondent]
    ratings = {rid: a["rating"][0] for rid, a in answers.items() if a.get("rating")}
    names = _service_names(settings)
    # Quotes only when the filtered view holds enough people: with a narrow filter (one
    # day, a rare language) a quote could be matched to one person.
    quotes = [q for q in quotes if q] if len(responses) >= SMALL else []
    summary = Summary(f, len(responses), comments, quotes=quotes)
    tables = summary.tables

    all_ids = [r.id for r in responses]
    tables["fft_overall"] = Table("fft_overall", "Friends and Family Test, overall", "Responses",
                                  [_fft_row("All responses", all_ids, ratings)], "fft")
    by_month: dict[str, list[str]] = defaultdict(list)
    by_service: dict[str, list[str]] = defaultdict(list)
    by_both: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in responses:
        month, service = r.created_on.strftime("%Y-%m"), names.get(r.service, label(r.service))
        by_month[month].append(r.id)
        by_service[service].append(r.id)
        by_both[month, service].append(r.id)
    months, services = sorted(by_month), sorted(by_service)
    tables["responses_by_month"] = _count_table(
        "responses_by_month", "Responses by month", "Month",
        Counter({month_label(m): len(by_month[m]) for m in months}),
        order=[month_label(m) for m in months])
    tables["fft_by_month"] = Table(
        "fft_by_month", "FFT by month", "Month",
        [_fft_row(month_label(m), by_month[m], ratings) for m in months], "fft")
    tables["fft_by_service"] = Table(
        "fft_by_service", "FFT by service", "Service",
        [_fft_row(name, by_service[name], ratings) for name in services], "fft")
    tables["fft_month_service"] = Table(
        "fft_month_service", "FFT by month and service", "Month",
        [Row(month_label(m), len(by_month[m]),
             parts=[_fft_row(name, by_both.get((m, name), []), ratings) for name in services])
         for m in months], "matrix",
        "Each cell: % positive / % negative (number of FFT answers); \"<5\" when fewer than 5 "
        "answered, \"none\" when nobody did.", services)
    tables["fft_answers"] = _count_table(
        "fft_answers", "Answers to the FFT question", "Answer",
        Counter(label(v) for v in ratings.values()), order=[label(v) for v in FFT_RATINGS])
    theme_counts = Counter(t for themes, _ in themed for t in (themes or []))
    tables["themes"] = _count_table("themes", "Top themes in comments", "Theme", theme_counts,
                                    top=10, total=comments,
                                    note="Share of all comments; a comment can have several.")
    barrier_counts = Counter(label(b) for a in answers.values() for b in a.get("barriers", [])
                             if b != "nothing")
    tables["barriers"] = _count_table(
        "barriers", "What made it hard to get care", "Barrier", barrier_counts, top=12,
        total=len(responses), note="Share of all responses; people can name several.")
    tables["sentiment"] = _count_table(
        "sentiment", "Sentiment of comments", "Sentiment",
        Counter(SENTIMENTS[s] for _, s in themed if s), order=list(SENTIMENTS.values()))
    tables["language"] = _count_table("language", "Language", "Language",
                                      Counter(r.language for r in responses))
    tables["channel"] = _count_table("channel", "Channel", "Channel",
                                     Counter(label(r.channel) for r in responses))
    options = {question.key: question.options for question in FLOW}
    for key, title in ABOUT_YOU:
        groups: dict[str, list[str]] = defaultdict(list)
        for rid, a in answers.items():
            for value in a.get(key, []):
                groups[value].append(rid)
        order = options.get(key, ())  # the order the question offers them in
        ranked = sorted(groups, key=lambda v, order=order: (
            order.index(v) if v in order else len(order), label(v)))
        rows = [_fft_row(label(value), groups[value], ratings) for value in ranked]
        tables[f"about_{key}"] = Table(f"about_{key}", title, "Answer", rows, "fft")
    return summary


def about_you_tables(summary: Summary) -> list[Table]:
    return [summary.tables[f"about_{key}"] for key, _ in ABOUT_YOU]


def _service_names(settings) -> dict[str, str]:
    if settings is None:
        try:
            from bot.settings import trust_settings

            settings = trust_settings()
        except Exception:  # noqa: BLE001 - names are a nicety; keys work too
            return {}
    return {service.key: service.name("en") for service in settings.services}

