"""The conversation key for a phone number: a keyed hash, so the number is never kept.

On SMS and WhatsApp the sender is a phone number. Rasa keys its tracker by the sender id
and the channels keep a little memory per sender (messages already answered, who sent
STOP), so all of these use ``HMAC-SHA256(secret, channel + address)`` instead of the
number. Without the deployment's secret (env ``SENDER_KEY_SECRET``) the key cannot be
turned back into a number, even by trying every UK mobile number, which a plain hash
would allow in minutes.

The secret must stay the same across restarts (a new secret starts every conversation
afresh) and must never be committed. Make one with::

    python -c "import secrets; print(secrets.token_hex(32))"

This module imports neither ``rasa`` nor ``rasa_sdk``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

SECRET_ENV = "SENDER_KEY_SECRET"
MIN_SECRET_LENGTH = 32  # characters; 32 hex characters are 128 bits
# Conversation key prefixes, by channel name: "sms:<64 hex>", "whatsapp:<64 hex>".
PREFIXES = {"twilio_sms": "sms", "twilio_whatsapp": "whatsapp"}


class SenderKeyError(RuntimeError):
    """No usable secret: a channel that needs one must not start."""


def secret_from_env(env: Mapping[str, str] | None = None) -> bytes:
    """The secret from ``SENDER_KEY_SECRET``; raises if it is missing or too short."""
    value = (os.environ if env is None else env).get(SECRET_ENV, "").strip()
    if not value:
        raise SenderKeyError(
            f"{SECRET_ENV} is not set: the SMS and WhatsApp channels need it to key "
            "conversations without keeping phone numbers. Make one with: "
            "python -c \"import secrets; print(secrets.token_hex(32))\"")
    if len(value) < MIN_SECRET_LENGTH:
        raise SenderKeyError(f"{SECRET_ENV} is too short: use at least {MIN_SECRET_LENGTH} "
                             "random characters (secrets.token_hex(32) gives 64)")
    return value.encode("utf-8")


def normalise_address(address: str) -> str:
    """The address as Twilio gives it, without spaces (``+447700900123``, ``whatsapp:+44...``)."""
    return "".join(str(address).split())


class SenderKeys:
    """Makes conversation keys from (channel, address) with one secret."""

    def __init__(self, secret: bytes | str) -> None:
        secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(secret) < MIN_SECRET_LENGTH:
            raise SenderKeyError(f"the sender key secret needs at least {MIN_SECRET_LENGTH} "
                                 "characters")
        self._secret = secret

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SenderKeys:
        return cls(secret_from_env(env))

    def key(self, channel: str, address: str) -> str:
        """``"sms:" + 64 hex`` (or ``"whatsapp:..."``): the same sender gives the same key."""
        prefix = PREFIXES.get(channel, channel)
        message = f"{channel}\x00{normalise_address(address)}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).hexdigest()
        return f"{prefix}:{digest}"

    def __repr__(self) -> str:  # never show the secret
        return "SenderKeys(secret=...)"
