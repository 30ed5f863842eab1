"""Configuration in one place: environment variables plus one trust settings file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.safety.kinds import REVIEWED_BY_DEFAULT, RISK_KINDS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRUST_FILE = PROJECT_ROOT / "config" / "trust.yml"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'patient_voice.db'}"


class SettingsError(ValueError):
    """The trust settings file is missing something the bot needs."""


@dataclass(frozen=True)
class Contact:
    phone: str
    email: str


@dataclass(frozen=True)
class Service:
    key: str
    names: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


@dataclass(frozen=True)
class Safeguarding:
    """The trust's safeguarding team and what it asks the bot to keep for review."""

    phone: str = ""  # shown to patients for an adult at risk ({safeguarding_phone})
    email: str = ""
    review_kinds: tuple[str, ...] = REVIEWED_BY_DEFAULT  # kept in the needs-attention queue
    review_days: int = 30  # flagged messages are purged after this many days
    alert_email: str = ""  # optional: a content-free e-mail when something needs review


@dataclass(frozen=True)
class TrustSettings:
    trust_names: dict[str, str]
    services: tuple[Service, ...]
    pals: Contact
    engagement_team: Contact
    retention_days: int
    contact_days: int = 90
    # Optional: names the anonymiser removes from free text (bot/anonymiser.py).
    staff_names: tuple[str, ...] = ()
    ward_names: tuple[str, ...] = ()
    site_names: tuple[str, ...] = ()
    safeguarding: Safeguarding = Safeguarding()

    def trust_name(self, language: str) -> str:
        return self.trust_names.get(language) or self.trust_names["en"]

    def service_keys(self) -> list[str]:
        return [service.key for service in self.services]


def _names(value: object, where: str) -> dict[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not value.get("en"):
        raise SettingsError(f"{where} needs an 'en' name")
    return {str(k): str(v) for k, v in value.items()}


def _contact(raw: dict, key: str) -> Contact:
    entry = raw.get(key) or {}
    if not entry.get("phone") or not entry.get("email"):
        raise SettingsError(f"{key} needs a phone and an email")
    return Contact(phone=str(entry["phone"]), email=str(entry["email"]))


def _name_list(raw: dict, key: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise SettingsError(f"{key} must be a list of names")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _safeguarding(raw: dict) -> Safeguarding:
    entry = raw.get("safeguarding") or {}
    if not isinstance(entry, dict):
        raise SettingsError("safeguarding must be a mapping")
    kinds = entry.get("review_kinds", list(REVIEWED_BY_DEFAULT))
    if not isinstance(kinds, list) or not set(map(str, kinds)) <= set(RISK_KINDS):
        raise SettingsError(f"safeguarding.review_kinds must be some of {', '.join(RISK_KINDS)}")
    days = int(entry.get("review_days", 30))
    if days < 1:
        raise SettingsError("safeguarding.review_days must be at least 1")
    return Safeguarding(
        phone=str(entry.get("phone") or ""),
        email=str(entry.get("email") or ""),
        review_kinds=tuple(str(kind) for kind in kinds),
        review_days=days,
        alert_email=str(entry.get("alert_email") or ""),
    )


def parse_trust_settings(raw: dict) -> TrustSettings:
    services = tuple(
        Service(key=str(item["key"]), names=_names(item.get("name"), f"service {item.get('key')}"))
        for item in raw.get("services") or []
    )
    if not services:
        raise SettingsError("the trust settings need at least one service")
    if "other" in {service.key for service in services}:
        raise SettingsError("'other' is added by the bot; do not list it as a service")
    return TrustSettings(
        trust_names=_names(raw.get("trust_name"), "trust_name"),
        services=services,
        pals=_contact(raw, "pals"),
        engagement_team=_contact(raw, "engagement_team"),
        retention_days=int((raw.get("retention") or {}).get("answers_days", 730)),
        contact_days=int((raw.get("retention") or {}).get("contact_days", 90)),
        staff_names=_name_list(raw, "staff_names"),
        ward_names=_name_list(raw, "ward_names"),
        site_names=_name_list(raw, "site_names"),
        safeguarding=_safeguarding(raw),
    )


def trust_settings_path() -> Path:
    return Path(os.environ.get("PATIENT_VOICE_TRUST_SETTINGS", DEFAULT_TRUST_FILE))


@lru_cache(maxsize=4)
def _load_trust_settings(path: str, mtime: float) -> TrustSettings:
    with open(path, encoding="utf-8") as handle:
        return parse_trust_settings(yaml.safe_load(handle) or {})


def trust_settings() -> TrustSettings:
    """The trust settings, re-read when the file changes."""
    path = trust_settings_path()
    return _load_trust_settings(str(path), path.stat().st_mtime)


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def translation_interval() -> float:
    """Seconds between background translation runs in the bot server; 0 turns them off."""
    return float(os.environ.get("TRANSLATION_INTERVAL_SECONDS", "600"))


def themes_interval() -> float:
    """Seconds between background theming runs in the bot server; 0 turns them off."""
    return float(os.environ.get("THEMES_INTERVAL_SECONDS", "300"))


def contacts_enabled() -> bool:
    """Ask for co-production contact details only when they can be encrypted (CONTACT_KEY)."""
    return bool(os.environ.get("CONTACT_KEY"))


@dataclass(frozen=True)
class SmtpSettings:
    """Where content-free safeguarding alerts are sent from (environment, not trust file)."""

    host: str
    port: int
    sender: str
    starttls: bool
    user: str
    password: str
    timeout: float


def smtp_settings() -> SmtpSettings | None:
    """SMTP for alerts, or None when ``SMTP_HOST`` is unset (alerts off)."""
    host = os.environ.get("SMTP_HOST", "")
    if not host:
        return None
    return SmtpSettings(
        host=host,
        port=int(os.environ.get("SMTP_PORT", "25")),
        sender=os.environ.get("SMTP_FROM", "patient-voice@localhost"),
        starttls=os.environ.get("SMTP_STARTTLS", "") in ("1", "true", "yes", "on"),
        user=os.environ.get("SMTP_USER", ""),
        password=os.environ.get("SMTP_PASSWORD", ""),
        timeout=float(os.environ.get("SMTP_TIMEOUT_SECONDS", "10")),
    )
