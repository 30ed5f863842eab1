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

from bot.anonymiser import AnonymisationError, Anonymised, anonymise
from bot.catalogue import Catalogue, catalogue, normalise_words
from bot.questions import CONFIRM_STOP, QUESTIONS, Question, next_question, options_for
from bot.settings import TrustSettings
from bot.store import Store

log = logging.getLogger(__name__)

MAX_TEXT = 5000  # characters kept of one free-text answer; the rest is dropped
# NLU intent -> command. "go_back" because Rasa reserves the intent "back" for itself.
COMMAND_INTENTS = {
    "help": "help", "repeat": "repeat", "skip": "skip", "go_back": "back", "stop": "stop",
    "start_again": "start_again", "withdraw": "withdraw",
}
COMMAND_CONFIDENCE = 0.8
COMMAND_MAX_WORDS = 4  # on a free-text question, longer messages are answers
SAFETY_CONFIDENCE = 0.6
_RECEIPT = re.compile(r"\bPV[\s\-]*([A-Z0-9]{6})\b", re.IGNORECASE)
_PAYLOAD = re.compile(r"^\s*/\w+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
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


def _id_or_none(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ValueError("bad response id")
    return value


def clean_text(text: object) -> str:
    """Printable text of at most MAX_TEXT characters (control characters removed)."""
    if not isinstance(text, str):
        return ""
    return _CONTROL.sub(" ", text).strip()[:MAX_TEXT]


def contains_any(text: str, phrases: tuple[str, ...]) -> bool:
    padded = f" {normalise_words(text)} "
    return any(f" {phrase} " in padded for phrase in phrases)


def is_danger(message: Message, words: Catalogue, *, trust_intent: bool = True) -> bool:
    """Danger by NLU or by word list: either is enough. Over-signposting is the safe error."""
    by_intent = trust_intent and message.intent == "danger" and (
        message.confidence >= SAFETY_CONFIDENCE)
    return by_intent or contains_any(message.text, words.danger_words)


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
        settings: TrustSettings,
        anonymiser: Callable[[str], Anonymised] = anonymise,
    ) -> None:
        self.store = store
        self.settings = settings
        self.anonymise = anonymiser

    # -- the turn -------------------------------------------------------------------

    def handle(
        self, state: SurveyState, message: Message, *, language: str, channel: str
    ) -> list[Reply]:
        message = Message(clean_text(message.text), message.intent, message.confidence,
                          message.option)
        words = catalogue(language)
        turn = _Turn(self, state, message, words, language, channel)
        # A message that is plainly one of the offered choices ("No settled home") is an
        # answer, whatever NLU makes of it; the danger word list still applies to it.
        answer = turn.is_choice_answer()
        danger = is_danger(message, words, trust_intent=not answer)
        complaint = is_complaint(message, words, trust_intent=not answer)
        replies = [Reply("signpost_danger")] * danger + [Reply("pals_info")] * complaint
        return replies + turn.run(interrupted=danger or complaint)


@dataclass
class _Turn:
    """One message being handled; keeps the many small steps readable."""

    survey: Survey
    state: SurveyState
    message: Message
    words: Catalogue
    language: str
    channel: str

    @property
    def store(self) -> Store:
        return self.survey.store

    def run(self, *, interrupted: bool) -> list[Reply]:
        fresh = self.state.current is None
        if fresh:
            self.state.current = "welcome"
        question = QUESTIONS[self.state.current]
        command = self.command(question)
        if command == "withdraw":
            return self.withdraw()
        if fresh:
            return [self.ask()]
        if self.state.finished:
            return self.after_finish(command)
        if interrupted and question.kind != "text":
            return [self.ask()]
        if command:
            return getattr(self, f"do_{command}")(question)
        if question.kind == "text":
            return self.answer_text(question)
        return self.answer_choice(question)

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
        for name, phrases in self.words.commands.items():
            if text in phrases and not is_payload(self.message.text):
                return name
        command = COMMAND_INTENTS.get(self.message.intent or "")
        if command is None or self.message.confidence < COMMAND_CONFIDENCE:
            return None
        if question.kind == "text" and (command == "withdraw"
                                        or len(text.split()) > COMMAND_MAX_WORDS):
            return None  # on a free-text question, a guessed command must not eat the answer
        return command

    def first_word_is(self, command: str) -> bool:
        text = normalise_words(_RECEIPT.sub("", self.message.text))
        by_intent = COMMAND_INTENTS.get(self.message.intent or "") == command
        return text in self.words.commands.get(command, ()) or by_intent

    def labels(self, question: Question) -> dict[str, str]:
        values = options_for(question, self.survey.settings)
        services = {s.key: s.name(self.language) for s in self.survey.settings.services}
        return {v: services.get(v) or self.words.choices.get(v, v) for v in values}

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
        numbers = [self.words.number_words.get(t) or (int(t) if t.isdigit() else None)
                   for t in tokens]
        if not numbers or None in numbers or not all(1 <= n <= len(values) for n in numbers):
            return None
        return [values[n - 1] for n in numbers]

    def by_words(self, text: str, labels: dict[str, str]) -> list[str] | None:
        said = normalise_words(text)
        exact = [v for v, label in labels.items() if normalise_words(label) == said]
        if len(exact) == 1:
            return exact
        known = [v for v in labels if said in self.words.choice_words.get(v, ())]
        return known if len(known) == 1 else None

    # -- asking ---------------------------------------------------------------------

    def ask(self, key: str | None = None) -> Reply:
        return Reply(QUESTIONS[key or self.state.current].response_key)

    def not_understood(self) -> list[Reply]:
        return [Reply("not_understood"), self.ask()]

    # -- answers --------------------------------------------------------------------

    def answer_choice(self, question: Question) -> list[Reply]:
        picked = self.parse_choice(question)
        if picked is None:
            return self.not_understood()
        if question.key == "welcome":
            return self.begin() if picked == ["start"] else self.finish_without_saving()
        if question.key == CONFIRM_STOP.key:
            return self.confirm_stop(picked[0])
        self.state.choices[question.key] = picked
        self.remember(question, choices=picked)
        extra = [Reply("involvement_contact")] if question.key == "involvement" and picked == [
            "yes"] else []
        return extra + self.advance(question)

    def answer_text(self, question: Question) -> list[Reply]:
        text = self.message.text
        if not text or is_payload(text):
            return self.not_understood()
        try:
            cleaned = self.survey.anonymise(text)
        except AnonymisationError:
            log.error("anonymiser failed; answer to %s not stored", question.key)
            return [Reply("answer_not_saved"), *self.advance(question)]
        self.remember(question, text=cleaned)
        return self.advance(question)

    def remember(self, question: Question, **answer: object) -> None:
        rid = self.state.response_id
        if question.key == "respondent":
            self.store.update_response(rid, respondent=answer["choices"][0])
        if question.key == "service":
            self.store.update_response(rid, service=answer["choices"][0])
        self.store.save_answer(rid, question.key, **answer)
        if question.key not in self.state.stored:
            self.state.stored.append(question.key)

    def forget(self, key: str) -> None:
        self.state.choices.pop(key, None)
        if key in self.state.stored:
            self.store.delete_answer(self.state.response_id, key)
            self.state.stored.remove(key)
        if key == "service":
            self.store.update_response(self.state.response_id, service=None)
        if key == "respondent":
            self.store.update_response(self.state.response_id, respondent=None)

    def advance(self, question: Question) -> list[Reply]:
        """Move past ``question``; answers to questions that no longer apply are dropped."""
        self.state.history.append(question.key)
        for key in list(self.state.stored):
            if not QUESTIONS[key].applies(self.state.choices):
                self.forget(key)
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
        return self.advance(question)

    def do_back(self, question: Question) -> list[Reply]:
        if question.key == CONFIRM_STOP.key:
            return self.confirm_stop("carry_on")
        if not self.state.history:
            return [Reply("back_at_start"), self.ask()]
        self.state.current = self.state.history.pop()
        return [self.ask()]

    def do_stop(self, question: Question) -> list[Reply]:
        if self.state.response_id is None:
            return self.finish_without_saving()
        if question.key != CONFIRM_STOP.key:
            self.state.resume = question.key
            self.state.current = CONFIRM_STOP.key
        return [self.ask()]

    def confirm_stop(self, choice: str) -> list[Reply]:
        if choice == "keep":
            return self.finish("stopped")
        if choice == "delete":
            self.store.delete_response(self.state.response_id)
            self.state.finished = True
            return [Reply("stopped_deleted")]
        self.state.current, self.state.resume = self.state.resume or "welcome", None
        return [self.ask()]

    def do_start_again(self, question: Question) -> list[Reply]:
        cleared = self.state.response_id is not None and not self.state.finished
        if cleared:
            self.store.delete_response(self.state.response_id)
        fresh = SurveyState(current="welcome")
        self.state.__dict__.update(fresh.__dict__)
        return [Reply("started_again")] * cleared + [self.ask()]

    def do_withdraw(self, question: Question) -> list[Reply]:
        return self.withdraw()

    def withdraw(self) -> list[Reply]:
        found = _RECEIPT.search(self.message.text)
        if not found:
            reply = Reply("withdraw_how")
        elif self.store.withdraw(found.group(0)):
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
