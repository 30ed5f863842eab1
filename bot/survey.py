"""The feedback conversation as one small state machine.

Why not Rasa forms: the conversation must let a patient say help, repeat, skip, back,
stop or start again at any of 20-odd steps, interrupt with a danger message and carry
on, and change an answer they gave earlier. With forms that means a rule or story per
command per slot; here it is one table (``bot.questions.FLOW``) and one function per
command, all tested without a model. Rasa still does what it is good at: it understands
the message (NLU intents), routes it (rules to ``action_survey``) and speaks through the
NLG endpoint, so every reply is a key in ``languages/``.

The state kept in the tracker holds choice values and question keys only, never the
patient's free text: that goes straight through the anonymiser into the store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial

from sqlalchemy.exc import SQLAlchemyError

from bot.anonymiser import AnonymisationError, Anonymised, anonymise
from bot.catalogue import (
    DEFAULT_LANGUAGE,
    Catalogue,
    available_languages,
    catalogue,
    contains_any,
    normalise_words,
)
from bot.contacts import ContactKeyMissing, delete_contact, save_contact
from bot.erasure import withdraw as withdraw_response
from bot.language_id import identify
from bot.questions import (
    ASIDES,
    CONFIRM_STOP,
    LANGUAGE,
    OFFER_LANGUAGE,
    QUESTIONS,
    SAFETY_CHECK,
    Question,
    next_question,
    option_labels,
)
from bot.safety import review
from bot.safety.detector import NO_RISK, Risk, detector, phrase_hit
from bot.settings import TrustSettings, trust_settings
from bot.store import Store

log = logging.getLogger(__name__)

MAX_TEXT = 5000  # characters stored of one free-text answer (after anonymising)
MAX_MESSAGE = 20_000  # characters of a message looked at at all; a guard, not a limit
# Channels we know; anything else a client claims is stored as "unknown".
KNOWN_CHANNELS = frozenset({"rest", "cmdline", "web", "twilio_sms", "twilio_whatsapp"})
# NLU intent -> command. "go_back" because Rasa reserves the intent "back" for itself.
COMMAND_INTENTS = {
    "help": "help", "repeat": "repeat", "skip": "skip", "go_back": "back", "stop": "stop",
    "start_again": "start_again", "withdraw": "withdraw", "change_language": "change_language",
}
ASIDE_KEYS = frozenset(q.key for q in ASIDES)
COMMAND_CONFIDENCE = 0.8
SAFETY_CONFIDENCE = 0.6
_RECEIPT = re.compile(r"\bPV[\s\-]*([A-Z0-9]{6})\b", re.IGNORECASE)
_PAYLOAD = re.compile(r"^\s*/\w+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_GARBLING = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but CR
_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\+)\s*")


@dataclass(frozen=True)
class Message:
    """What the patient sent, as Rasa understood it."""

    text: str
    intent: str | None = None
    confidence: float = 0.0
    option: str | None = None  # value from a button payload /choose{"option": ...}


@dataclass(frozen=True)
class Reply:
    """One message to send: a key in ``languages/`` and its placeholders."""

    key: str
    params: dict[str, str] = field(default_factory=dict)
    language: str | None = None  # None: the conversation's language


@dataclass
class SurveyState:
    """Where the patient is. Serialised into the tracker's ``survey`` slot."""

    current: str | None = None
    history: list[str] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)
    stored: list[str] = field(default_factory=list)
    response_id: str | None = None
    resume: str | None = None
    finished: bool = False
    language: str = DEFAULT_LANGUAGE
    offered: list[str] = field(default_factory=list)
    pending_language: str | None = None
    easy_read: bool = False
    contact_id: int | None = None  # the row in contact_requests made in this visit, if any

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: object) -> SurveyState:
        """Rebuild from the slot; anything malformed starts a fresh conversation."""
        if not isinstance(raw, dict):
            return cls()
        try:
            state = cls(
                current=_key_or_none(raw.get("current")),
                history=[_key(k) for k in raw.get("history", [])],
                choices={_key(k): [str(v) for v in vs] for k, vs in raw.get("choices", {}).items()},
                stored=[_key(k) for k in raw.get("stored", [])],
                response_id=_id_or_none(raw.get("response_id")),
                resume=_key_or_none(raw.get("resume")),
                finished=bool(raw.get("finished", False)),
                language=_language(raw.get("language", DEFAULT_LANGUAGE)),
                offered=[_language(code) for code in raw.get("offered", [])],
                pending_language=_language_or_none(raw.get("pending_language")),
                easy_read=raw.get("easy_read") is True,
                contact_id=_int_or_none(raw.get("contact_id")),
            )
        except (TypeError, ValueError, AttributeError):
            return cls()
        return state


def _key(value: object) -> str:
    if not isinstance(value, str) or value not in QUESTIONS:
        raise ValueError("unknown question")
    return value


def _key_or_none(value: object) -> str | None:
    return None if value is None else _key(value)


def _language(value: object) -> str:
    if value not in available_languages():
        raise ValueError("unknown language")
    return str(value)


def _language_or_none(value: object) -> str | None:
    return None if value is None else _language(value)


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("bad contact id")
    return value


def _id_or_none(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ValueError("bad response id")
    return value


def clean_text(text: object) -> str:
    """Printable text (control characters removed), at most MAX_MESSAGE characters."""
    if not isinstance(text, str):
        return ""
    return _CONTROL.sub(" ", without_surrogates(text[:MAX_MESSAGE])).strip()


def without_surrogates(text: str) -> str:
    """Lone UTF-16 halves (an emoji cut in two by a client) become "?": they are not text,
    and the sentence-vector engine cannot read them."""
    return text.encode("utf-8", "replace").decode("utf-8")


def readable(message: Message) -> Message:
    """The message with control characters removed.

    NLU read the raw text. When that held control characters (a terminal escape, NUL),
    its intent is a guess about bytes nobody meant to type, so only a danger intent is
    kept (a false alarm costs a signposting message; a missed one could cost a life);
    words, numbers and buttons still work on the cleaned text.
    """
    text = message.text if isinstance(message.text, str) else ""
    garbled = bool(_GARBLING.search(text[:MAX_MESSAGE]))
    intent = message.intent if not garbled or message.intent == "danger" else None
    confidence = message.confidence if intent is not None else 0.0
    return Message(clean_text(text), intent, confidence, message.option)


def known_channel(channel: object) -> str:
    return channel if isinstance(channel, str) and channel in KNOWN_CHANNELS else "unknown"


def is_complaint(message: Message, words: Catalogue, *, trust_intent: bool = True) -> bool:
    by_intent = trust_intent and message.intent == "complaint" and (
        message.confidence >= SAFETY_CONFIDENCE)
    return by_intent or contains_any(message.text, words.complaint_words)


def is_payload(text: str) -> bool:
    """``/intent{...}`` messages come from buttons or tampering, never as typed answers."""
    return bool(_PAYLOAD.match(text))


class Survey:
    """Runs one turn of the conversation: ``handle(state, message) -> replies``."""

    def __init__(
        self,
        store: Store,
        settings: TrustSettings | None = None,
        anonymiser: Callable[[str], Anonymised] = anonymise,
        assess: Callable[..., Risk] | None = None,
        alerts: bool = True,
    ) -> None:
        self.store = store
        self._settings = settings
        self.anonymise = anonymiser
        # A copy for the safeguarding team keeps the trust's own ward and site names (a place
        # they can act on; not a person); people's names, numbers and addresses still go.
        self.anonymise_for_review: Callable[[str], Anonymised] = (
            partial(anonymise, ward_names=(), site_names=()) if anonymiser is anonymise
            else anonymiser)
        self._assess = assess  # bot.safety.detector's by default (loaded when first needed)
        self.alerts = alerts  # e-mail the safeguarding team when a message is kept for review

    @property
    def settings(self) -> TrustSettings:
        """Fixed settings (tests) or the trust file, re-read when it changes."""
        return self._settings or trust_settings()

    def risk(self, message: Message, *, plain_answer: bool) -> Risk:
        """The danger in a message, by the safety detector, before anything else.

        A message that plainly picks an offered choice ("No settled home"), or a button's
        payload, is an answer: only a danger phrase turns it into a danger signal.
        """
        by_intent = message.intent == "danger" and message.confidence >= SAFETY_CONFIDENCE
        try:
            return self._risk(message, plain_answer=plain_answer, by_intent=by_intent)
        except Exception as error:  # noqa: BLE001 - safety must not fail with the models
            # Phrases and NLU still work without the models: recall first, so either is
            # treated as urgent (and the general help is given).
            log.error("safety detector failed (%s); phrases and NLU only", type(error).__name__)
            found = phrase_hit(message.text) or (by_intent and not plain_answer)
            return Risk(True, signals=("phrase",), urgent=True) if found else NO_RISK

    def _risk(self, message: Message, *, plain_answer: bool, by_intent: bool) -> Risk:
        assess = self._assess or detector().assess
        if not (plain_answer or is_payload(message.text)):
            return assess(message.text, intent_danger=by_intent)
        if not phrase_hit(message.text):
            return NO_RISK
        found = assess(message.text)  # for the kind
        return Risk(True, found.kind, found.confidence, ("phrase",), urgent=True)

    # -- the turn -------------------------------------------------------------------

    def handle(
        self, state: SurveyState, message: Message, *, language: str, channel: str,
        easy_read: bool | None = None,
    ) -> list[Reply]:
        """Answer one message. ``easy_read`` (from the web chat's switch) is remembered."""
        if easy_read is not None:
            state.easy_read = easy_read
        message = readable(message)
        if state.current is None and language in available_languages():
            state.language = language
        turn = _Turn(self, state, message, known_channel(channel))
        answer = turn.is_choice_answer()
        risk = self.risk(message, plain_answer=answer)
        # Beside urgent danger, only complaint words count: NLU reads "he hits my daughter"
        # as a complaint too, and PALS is not the help that person needs first.
        complaint = is_complaint(message, turn.words,
                                 trust_intent=not answer and not risk.urgent)
        if risk.danger:
            return turn.safety(risk, complaint=complaint)
        return [Reply("pals_info")] * complaint + turn.run(complaint=complaint)


@dataclass
class _Turn:
    """One message being handled; keeps the many small steps readable."""

    survey: Survey
    state: SurveyState
    message: Message
    channel: str

    @property
    def store(self) -> Store:
        return self.survey.store

    @property
    def language(self) -> str:
        return self.state.language

    @property
    def words(self) -> Catalogue:
        """The words of the question being asked (an offer is made in the offered language)."""
        if self.state.current == OFFER_LANGUAGE.key and self.state.pending_language:
            return catalogue(self.state.pending_language)
        return catalogue(self.state.language)

    @cached_property
    def spoken(self) -> str | None:
        """The language the message is written in, when it is long and clear enough."""
        return None if is_payload(self.message.text) else identify(self.message.text)

    def run(self, *, complaint: bool = False) -> list[Reply]:
        fresh = self.state.current is None
        if fresh:
            self.state.current = LANGUAGE.key  # first of all: which language
        question = QUESTIONS[self.state.current]
        command = self.command(question)
        if command == "withdraw":
            return self.withdraw()
        if fresh:
            return self.offer_language() or [self.ask()]
        if self.state.finished:
            return self.after_finish(command)
        # After PALS details, a choice question is asked again; a complaint written as a
        # free-text answer is kept as the answer.
        if question.kind != "text" and complaint:
            return [self.ask()]
        if command:
            return getattr(self, f"do_{command}")(question)
        if question.kind == "text":
            return self.answer_text(question)
        return self.answer_choice(question)

    # -- safety ---------------------------------------------------------------------

    def safety(self, risk: Risk, *, complaint: bool = False) -> list[Reply]:
        """The help that fits the kind, in the language written in; then carry on or stop.

        Urgent (a danger phrase, or the detector sure enough): kind words first, the help,
        what happens to the message, then carry on or stop; the message is not stored as
        an answer. Not urgent (the detector between its two thresholds, or the survey's NLU
        alone): most such messages are feedback ("more buses" was once read as danger), so
        the help is shown and the turn goes on as usual: an answer is kept, the visit moves
        on. Recall first, without stopping every visit that only looks like danger.
        """
        fresh = self.state.current is None
        spoken = self.spoken or self.language
        nlu_only = risk.signals == ("intent",)  # the models' kind is a guess: general help
        help_key = f"safety_{risk.kind}" if risk.kind and not nlu_only else "signpost_danger"
        pals = [Reply("pals_info")] * complaint
        if not risk.urgent:
            return [Reply(help_key, language=spoken), *pals, *self.run(complaint=complaint)]
        if fresh and self.spoken:
            self.state.language = self.spoken  # the very first message: its language
        replies = [Reply("safety_intro", language=spoken), Reply(help_key, language=spoken),
                   self.follow_up(risk, spoken), *pals]
        if self.state.finished:
            return replies
        self.remember_place(fresh)
        self.state.current = SAFETY_CHECK.key
        return [*replies, self.ask()]

    def remember_place(self, fresh: bool) -> None:
        """Where "carry on" goes back to: the question, or the language menu at the start."""
        current = self.state.current
        if fresh:  # nothing chosen yet: the language menu, as at any start
            self.state.resume = LANGUAGE.key
        elif current in (LANGUAGE.key, OFFER_LANGUAGE.key) and self.state.resume is None:
            self.state.resume = LANGUAGE.key  # at the start: the language menu again
            self.state.pending_language = None
        elif current not in ASIDE_KEYS:
            self.state.resume = current

    def follow_up(self, risk: Risk, language: str) -> Reply:
        """Say honestly what happens next: kept for the safeguarding team, or not."""
        wanted = risk.kind in self.survey.settings.safeguarding.review_kinds
        if wanted and self.keep_for_review(risk.kind or "", language):
            return Reply("safety_kept_for_review", language=language)
        return Reply("safety_not_kept", language=language)

    def keep_for_review(self, kind: str, language: str) -> bool:
        """An anonymised copy for the needs-attention queue; nothing if that cannot be done."""
        text = self.message.text
        if not text or is_payload(text):
            return False
        try:
            cleaned = self.survey.anonymise_for_review(text)
            service = (self.state.choices.get("service") or [None])[0]
            review.keep_for_review(self.store, kind=kind, service=service, language=language,
                                   text=cleaned.text, alert_team=self.survey.alerts)
        except AnonymisationError:
            log.error("anonymiser failed; a %s message was not kept for review", kind)
            return False
        except (SQLAlchemyError, ValueError, TypeError) as error:
            log.error("a %s message was not kept for review (%s)", kind, type(error).__name__)
            return False
        return True

    def after_safety_check(self, choice: str) -> list[Reply]:
        if choice == "carry_on":
            return self.back_from_aside()
        if self.state.response_id is None:
            return self.finish_without_saving()
        return self.finish("stopped")

    # -- understanding ------------------------------------------------------------

    def is_choice_answer(self) -> bool:
        """True when the message picks one of the current question's choices."""
        if self.state.current is None or self.state.finished:
            return False
        question = QUESTIONS[self.state.current]
        return question.kind != "text" and self.parse_choice(question) is not None

    def command(self, question: Question) -> str | None:
        text = normalise_words(self.message.text)
        if _RECEIPT.search(self.message.text) and self.first_word_is("withdraw"):
            return "withdraw"
        if question.kind != "text" and self.parse_choice(question) is not None:
            return None
        for words in (self.words, catalogue(DEFAULT_LANGUAGE)):  # English always works
            for name, phrases in words.commands.items():
                if text in phrases and not is_payload(self.message.text):
                    return name
        command = COMMAND_INTENTS.get(self.message.intent or "")
        if command is None or self.message.confidence < COMMAND_CONFIDENCE:
            return None
        if question.kind == "text" and not is_payload(self.message.text):
            return None  # on a free-text question only exact words or a button count
        return command

    def first_word_is(self, command: str) -> bool:
        text = normalise_words(_RECEIPT.sub("", self.message.text))
        return text in self.words.commands.get(command, ()) or text in catalogue(
            DEFAULT_LANGUAGE).commands.get(command, ())

    def labels(self, question: Question) -> dict[str, str]:
        return option_labels(question, self.words, self.survey.settings)

    def known_words(self, value: str) -> tuple[str, ...]:
        """Typed words that pick ``value``: this language's, then English's."""
        if value in available_languages():
            language = catalogue(value)
            return (normalise_words(language.english_name), value)
        english = catalogue(DEFAULT_LANGUAGE)
        return self.words.choice_words.get(value, ()) + english.choice_words.get(value, ())

    def parse_choice(self, question: Question) -> list[str] | None:
        """Choice values picked by a button, numbers ("1 3"), labels or known words."""
        labels = self.labels(question)
        values = list(labels)
        if self.message.option is not None:
            return [self.message.option] if self.message.option in labels else None
        if is_payload(self.message.text):
            return None
        picked = self.numbers(values) or self.by_words(self.message.text, labels)
        if picked is None and question.kind == "multi":
            pieces = [p for p in _SPLIT.split(self.message.text) if p.strip()]
            found = [self.by_words(p, labels) for p in pieces]
            picked = [v[0] for v in found if v] if found and all(found) else None
        if not picked or (question.kind == "choice" and len(picked) != 1):
            return None
        return _without_exclusive(list(dict.fromkeys(picked)), question.exclusive)

    def numbers(self, values: list[str]) -> list[str] | None:
        tokens = [t for t in normalise_words(self.message.text).split()
                  if t not in self.words.and_words]
        numbers = [self.words.number_words.get(t) or (int(t) if t.isdecimal() else None)
                   for t in tokens]
        if not numbers or None in numbers or not all(1 <= n <= len(values) for n in numbers):
            return None
        return [values[n - 1] for n in numbers]

    def by_words(self, text: str, labels: dict[str, str]) -> list[str] | None:
        said = normalise_words(text)
        exact = [v for v, label in labels.items() if normalise_words(label) == said]
        if len(exact) == 1:
            return exact
        known = [v for v in labels if said in self.known_words(v)]
        return known if len(known) == 1 else None

    # -- asking ---------------------------------------------------------------------

    def ask(self, key: str | None = None) -> Reply:
        question = QUESTIONS[key or self.state.current]
        if question.key == OFFER_LANGUAGE.key:
            offered = self.words
            return Reply(question.response_key, {"language_name": offered.name}, offered.code)
        return Reply(question.prompt_for(self.state.choices), language=self.language)

    def not_understood(self) -> list[Reply]:
        return self.offer_language() or [Reply("not_understood"), self.ask()]

    def offer_language(self) -> list[Reply] | None:
        """Written in another of our languages? Offer to carry on in it (once per language)."""
        spoken = self.spoken
        if spoken is None or spoken == self.language or spoken in self.state.offered:
            return None
        self.state.offered.append(spoken)
        self.state.pending_language = spoken
        if self.state.current not in ASIDE_KEYS:
            self.state.resume = self.state.current
        self.state.current = OFFER_LANGUAGE.key
        return [self.ask()]

    def back_from_aside(self) -> list[Reply]:
        """Return to the question the patient was on (the welcome at the very start)."""
        self.state.current, self.state.resume = self.state.resume or "welcome", None
        return [self.ask()]

    # -- answers --------------------------------------------------------------------

    def answer_choice(self, question: Question) -> list[Reply]:
        picked = self.parse_choice(question)
        if picked is None:
            return self.not_understood()
        if question.key == "welcome":
            return self.begin() if picked == ["start"] else self.finish_without_saving()
        if question.key == CONFIRM_STOP.key:
            return self.confirm_stop(picked[0])
        if question.key == SAFETY_CHECK.key:
            return self.after_safety_check(picked[0])
        if question.key == LANGUAGE.key:
            return self.choose_language(picked[0])
        if question.key == OFFER_LANGUAGE.key:
            return self.answer_offer(picked[0])
        self.state.choices[question.key] = picked
        self.remember(question, choices=picked)
        extra = [Reply("involvement_contact")] if question.key == "involvement" and picked == [
            "yes"] else []
        return extra + self.advance(question)

    def answer_text(self, question: Question) -> list[Reply]:
        text = self.message.text
        if not text or is_payload(text):
            return self.not_understood()
        if question.key == "contact_details":
            return self.keep_contact(text, question)
        try:
            cleaned = self.survey.anonymise(text)
        except AnonymisationError:
            log.error("anonymiser failed; answer to %s not stored", question.key)
            self.forget(question.key)  # an earlier answer to it must not stand in
            return [Reply("answer_not_saved"), *self.advance(question)]
        cleaned = Anonymised(cleaned.text[:MAX_TEXT], cleaned.tags)
        self.remember(question, text=cleaned, language=self.spoken or self.language)
        following = self.advance(question)
        return following if self.state.finished else (self.offer_language() or following)

    def keep_contact(self, details: str, question: Question) -> list[Reply]:
        """Contact details go, encrypted, to a table with no link to the answers."""
        self.drop_contact()  # typed again after going back: keep only the latest
        try:
            self.state.contact_id = save_contact(self.store, details, language=self.language,
                                                 keep_days=self.survey.settings.contact_days)
        except ContactKeyMissing:
            log.error("contact details not kept: CONTACT_KEY missing or invalid")
            return [Reply("answer_not_saved"), *self.advance(question)]
        return [Reply("contact_saved"), *self.advance(question)]

    def drop_contact(self) -> None:
        """Delete this visit's contact details (deleted answers, start again, changed mind)."""
        if self.state.contact_id is not None:
            delete_contact(self.store, self.state.contact_id)
            self.state.contact_id = None

    def remember(self, question: Question, **answer: object) -> None:
        rid = self.state.response_id
        if question.key == "respondent":
            self.store.update_response(rid, respondent=answer["choices"][0])
        if question.key == "service":
            self.store.update_response(rid, service=answer["choices"][0])
        self.store.save_answer(rid, question.key, **answer)  # type: ignore[arg-type]
        if question.key not in self.state.stored:
            self.state.stored.append(question.key)

    def forget(self, key: str) -> None:
        self.state.choices.pop(key, None)
        if key in self.state.stored:
            self.store.delete_answer(self.state.response_id, key)
            self.state.stored.remove(key)
        if key in ("service", "respondent"):
            self.store.update_response(self.state.response_id, clear=(key,))

    def advance(self, question: Question) -> list[Reply]:
        """Move past ``question``; answers to questions that no longer apply are dropped."""
        self.state.history.append(question.key)
        for key in list(self.state.stored):
            if not QUESTIONS[key].applies(self.state.choices):
                self.forget(key)
        if not QUESTIONS["contact_details"].applies(self.state.choices):
            self.drop_contact()
        following = next_question(question.key, self.state.choices)
        if following is None:
            return self.finish("complete")
        self.state.current = following.key
        return [self.ask()]

    def begin(self) -> list[Reply]:
        self.state.response_id = self.store.start_response(
            language=self.language, channel=self.channel[:32]
        )
        self.state.current = next_question("welcome", self.state.choices).key
        return [self.ask()]

    def finish(self, status: str) -> list[Reply]:
        receipt = self.store.complete_response(self.state.response_id, status=status)
        self.state.finished = True
        opening = [] if status == "complete" else [Reply("stopped_kept")]
        return [*opening, Reply("thanks", {"receipt": receipt}), Reply("signpost_end")]

    def finish_without_saving(self) -> list[Reply]:
        self.state.finished = True
        return [Reply("stopped_nothing_saved")]

    # -- commands -------------------------------------------------------------------

    def do_help(self, question: Question) -> list[Reply]:
        return [Reply("help"), self.ask()]

    def do_repeat(self, question: Question) -> list[Reply]:
        return [self.ask()]

    def do_skip(self, question: Question) -> list[Reply]:
        if not question.skippable:
            return [Reply("cannot_skip"), self.ask()]
        if question.stored:
            self.forget(question.key)
        if question.key == "contact_details":
            self.drop_contact()
        return self.advance(question)

    def do_back(self, question: Question) -> list[Reply]:
        if question.key in ASIDE_KEYS:
            return self.back_from_aside()
        if not self.state.history:
            return [Reply("back_at_start"), self.ask()]
        self.state.current = self.state.history.pop()
        return [self.ask()]

    def do_stop(self, question: Question) -> list[Reply]:
        if self.state.response_id is None:
            return self.finish_without_saving()
        if question.key not in ASIDE_KEYS:  # from an aside: back to where the visit was
            self.state.resume = question.key
        if question.key != CONFIRM_STOP.key:
            self.state.current = CONFIRM_STOP.key
        return [self.ask()]

    def confirm_stop(self, choice: str) -> list[Reply]:
        if choice == "keep":
            return self.finish("stopped")
        if choice == "delete":
            self.drop_contact()
            self.store.delete_response(self.state.response_id)
            self.state.finished = True
            return [Reply("stopped_deleted")]
        return self.back_from_aside()

    def choose_language(self, code: str) -> list[Reply]:
        changed = code != self.state.language
        self.state.language = code
        if self.state.response_id is not None:
            self.store.update_response(self.state.response_id, language=code)
        said = [Reply("language_changed", language=code)] if changed and (
            self.state.resume is not None) else []
        return said + self.back_from_aside()

    def answer_offer(self, choice: str) -> list[Reply]:
        code, self.state.pending_language = self.state.pending_language, None
        if choice == "yes" and code:
            return self.choose_language(code)
        if self.state.resume is None:  # at the very start: show every language
            self.state.current = LANGUAGE.key
            return [self.ask()]
        return self.back_from_aside()

    def do_change_language(self, question: Question) -> list[Reply]:
        if question.key not in ASIDE_KEYS:
            self.state.resume = question.key
        self.state.current = LANGUAGE.key
        return [self.ask()]

    def do_start_again(self, question: Question) -> list[Reply]:
        cleared = self.state.response_id is not None and not self.state.finished
        if cleared:
            self.drop_contact()
            self.store.delete_response(self.state.response_id)
        fresh = SurveyState(current="welcome", language=self.state.language)
        self.state.__dict__.update(fresh.__dict__)
        return [Reply("started_again")] * cleared + [self.ask()]

    def do_withdraw(self, question: Question) -> list[Reply]:
        return self.withdraw()

    def withdraw(self) -> list[Reply]:
        found = _RECEIPT.search(self.message.text)
        if not found:
            reply = Reply("withdraw_how")
        elif withdraw_response(self.store, found.group(0), actor="patient"):
            reply = Reply("withdrawn")
        else:
            reply = Reply("withdraw_not_found")
        follow = [Reply("finished")] if self.state.finished else [self.ask()]
        return [reply, *follow]

    def after_finish(self, command: str | None) -> list[Reply]:
        if command == "start_again":
            return self.do_start_again(QUESTIONS[self.state.current])
        return [Reply("finished")]


def _without_exclusive(picked: list[str], exclusive: tuple[str, ...]) -> list[str]:
    """"Nothing" together with real choices means the real choices."""
    rest = [value for value in picked if value not in exclusive]
    return rest or picked[:1]
