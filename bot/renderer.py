"""Turn a response key into what the patient reads on their channel.

Rasa's ``nlg`` endpoint calls this for every bot message. It picks the language, fills
the trust's details, and draws choices as buttons (web and REST) or as a numbered list
(SMS and WhatsApp, where buttons do not exist and "1" is easiest to type).
"""

from __future__ import annotations

import json
import logging

from bot.catalogue import Catalogue, CatalogueError, catalogue
from bot.questions import BY_RESPONSE_KEY, Question, option_labels
from bot.settings import TrustSettings, trust_settings

log = logging.getLogger(__name__)

# Channels that cannot show buttons get a numbered list in the text.
NUMBERED_CHANNELS = frozenset({"twilio_sms", "twilio_whatsapp", "sms", "whatsapp"})
# Only these arguments from the action may fill placeholders; everything else that
# rides along in Rasa's NLG request is ignored.
ALLOWED_ARGUMENTS = ("receipt", "language_name")


def trust_params(settings: TrustSettings, language: str) -> dict[str, str]:
    return {
        "trust_name": settings.trust_name(language),
        "pals_phone": settings.pals.phone,
        "pals_email": settings.pals.email,
        "engagement_phone": settings.engagement_team.phone,
        "engagement_email": settings.engagement_team.email,
        "contact_days": str(settings.contact_days),
        # A trust without its own safeguarding line in the settings: PALS passes concerns on.
        "safeguarding_phone": settings.safeguarding.phone or settings.pals.phone,
    }


def choose_payload(value: str) -> str:
    return "/choose" + json.dumps({"option": value}, separators=(",", ":"))


def render(
    key: str,
    *,
    language: str,
    channel: str,
    params: dict[str, str] | None = None,
    settings: TrustSettings | None = None,
    easy_read: bool = False,
) -> dict:
    """The NLG reply for ``key``: ``{"text": ..., "buttons": [...]}``."""
    settings = settings or trust_settings()
    words = catalogue(language)
    filled = {**trust_params(settings, words.code), **(params or {})}
    text = words.message(key, easy_read=easy_read, **filled)
    item = BY_RESPONSE_KEY.get(key)
    reply = {"text": text, "buttons": []} if item is None else _question(
        item, text, words, settings, channel, easy_read)
    # Rasa passes extra keys on to the output channel: the web chat marks each message
    # with its language and direction so screen readers pronounce it (WCAG 3.1.2).
    return {**reply, "lang": words.code, "dir": words.direction, "key": key}


def _question(
    item: Question, text: str, words: Catalogue, settings: TrustSettings, channel: str,
    easy_read: bool = False,
) -> dict:
    if item.kind == "text":
        text = f"{text}\n{words.message('hint_text', easy_read=easy_read)}"
        options = {"skip": words.choice("skip")}
        payloads = {"skip": "/skip"}
    else:
        if item.kind == "multi":
            text = f"{text}\n{words.message('hint_multi', easy_read=easy_read)}"
        options = option_labels(item, words, settings)
        payloads = {value: choose_payload(value) for value in options}
    if channel in NUMBERED_CHANNELS:
        if item.kind == "text":
            return {"text": text, "buttons": []}
        lines = [f"{number} {label}" for number, label in enumerate(options.values(), 1)]
        return {"text": "\n".join([text, *lines]), "buttons": []}
    buttons = [{"title": label, "payload": payloads[v]} for v, label in options.items()]
    return {"text": text, "buttons": buttons}


def render_nlg_request(body: dict) -> dict:
    """Answer Rasa's NLG callback: ``{"response", "arguments", "tracker", "channel"}``."""
    key = str(body.get("response") or "")
    arguments = body.get("arguments") or {}
    slots = (body.get("tracker") or {}).get("slots") or {}
    language = str(arguments.get("language") or slots.get("language") or "en")
    channel = str((body.get("channel") or {}).get("name") or "")
    params = {k: str(arguments[k]) for k in ALLOWED_ARGUMENTS if arguments.get(k)}
    easy_read = arguments.get("easy_read") is True
    try:
        return render(key, language=language, channel=channel, params=params,
                      easy_read=easy_read)
    except CatalogueError:
        # Rasa's NLG schema needs a string; an empty one sends nothing rather than failing.
        log.warning("no text for response key %s", key[:64])
        return {"text": "", "buttons": []}
