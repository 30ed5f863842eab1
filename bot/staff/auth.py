"""Staff accounts, sessions, CSRF tokens and the wrong-password limit.

* Passwords: ``hashlib.scrypt`` (n=2**14, r=8, p=1, 16-byte random salt per user, 32-byte
  key), stored as ``scrypt$n$r$p$salt$key`` (hex); compared in constant time.
* Sessions: a random token in an HttpOnly, SameSite=Strict cookie; only its SHA-256 is
  stored. A session ends 8 hours after its last request or 24 hours after login.
* Each session has its own CSRF token, required in every POST form.
* Wrong passwords: 5 failures for one user name within 15 minutes lock that name for the rest
  of the window, whether or not the user exists (so the reply never says which).
* Roles: every account is ``engagement`` unless made ``safeguarding``; a session carries its
  user's role, read afresh on every request, so a changed role applies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, insert, select, update

from bot.staff.models import (
    ENGAGEMENT,
    ROLES,
    SAFEGUARDING,
    staff_login_failures,
    staff_sessions,
    staff_users,
)
from bot.store import Store

SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2**14, 8, 1, 32
IDLE_SECONDS = 8 * 3600
ABSOLUTE_SECONDS = 24 * 3600
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 12
NAME_MAX = 64


class AccountError(ValueError):
    """A bad user name or password for a new account."""


@dataclass(frozen=True)
class StaffSession:
    user_id: int
    name: str
    csrf_token: str
    role: str = ENGAGEMENT

    @property
    def safeguarding(self) -> bool:
        """May see the safeguarding review queue (``/needs-attention``)."""
        return self.role == SAFEGUARDING


@dataclass(frozen=True)
class StaffUser:
    name: str
    role: str
    created_on: date


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                         p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        found = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n),
                               r=int(r), p=int(p), dklen=len(bytes.fromhex(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found.hex(), key)


# A hash of nothing anyone knows: checked for unknown names so both cases take as long.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def normalise_name(name: str) -> str:
    return (name or "").strip().lower()[:NAME_MAX]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Auth:
    """Accounts and sessions in the store's database; ``clock`` gives seconds (tests)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock())

    # --- accounts ------------------------------------------------------------------------------

    def create_user(self, name: str, password: str, role: str | None = None) -> None:
        """Create an account, or set a new password for an existing one (ending its sessions).

        ``role`` is ``engagement`` or ``safeguarding``; None makes a new account
        ``engagement`` and leaves an existing account's role as it was.
        """
        clean = normalise_name(name)
        if not clean or len(name.strip()) > NAME_MAX or not clean.isprintable() or " " in clean:
            raise AccountError("user names are 1 to 64 characters with no spaces")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
        if role is not None and role not in ROLES:
            raise AccountError(f"the role is one of {', '.join(ROLES)}")
        values = {"password_hash": hash_password(password)}
        if role is not None:
            values["role"] = role
        with self.store.engine.begin() as db:
            found = db.execute(select(staff_users.c.id).where(staff_users.c.name == clean))
            user_id = found.scalar_one_or_none()
            if user_id is None:
                db.execute(insert(staff_users).values(name=clean, created_on=self.store.today(),
                                                      **{"role": ENGAGEMENT, **values}))
            else:
                db.execute(update(staff_users).where(staff_users.c.id == user_id)
                           .values(**values))
                db.execute(delete(staff_sessions).where(staff_sessions.c.user_id == user_id))

    def users(self) -> list[StaffUser]:
        """Every account with its role, by name (no password hashes)."""
        query = select(staff_users.c.name, staff_users.c.role, staff_users.c.created_on
                       ).order_by(staff_users.c.name)
        with self.store.engine.connect() as db:
            return [StaffUser(row.name, row.role, row.created_on) for row in db.execute(query)]

    # --- logging in ----------------------------------------------------------------------------

    def locked(self, name: str) -> bool:
        since = self._now() - FAILURE_WINDOW_SECONDS
        query = select(func.count()).select_from(staff_login_failures).where(
            staff_login_failures.c.name == normalise_name(name),
            staff_login_failures.c.failed_at > since)
        with self.store.engine.connect() as db:
            return db.execute(query).scalar_one() >= MAX_FAILURES

    def login(self, name: str, password: str) -> str | None:
        """A new session token, or None (wrong name or password). Check :meth:`locked` first."""
        clean = normalise_name(name)
        with self.store.engine.connect() as db:
            row = db.execute(select(staff_users.c.id, staff_users.c.password_hash)
                             .where(staff_users.c.name == clean)).first()
        good = verify_password(password or "", row.password_hash if row else _DUMMY_HASH)
        now = self._now()
        if row is None or not good:
            with self.store.engine.begin() as db:
                db.execute(insert(staff_login_failures).values(name=clean, failed_at=now))
                db.execute(delete(staff_login_failures).where(
                    staff_login_failures.c.failed_at <= now - FAILURE_WINDOW_SECONDS))
            return None
        token = secrets.token_urlsafe(32)
        with self.store.engine.begin() as db:
            db.execute(delete(staff_login_failures).where(staff_login_failures.c.name == clean))
            db.execute(delete(staff_sessions).where(
                (staff_sessions.c.last_seen_at <= now - IDLE_SECONDS)
                | (staff_sessions.c.created_at <= now - ABSOLUTE_SECONDS)))
            db.execute(insert(staff_sessions).values(
                token_hash=token_digest(token), user_id=row.id,
                csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now))
        return token

    def session(self, token: str | None) -> StaffSession | None:
        """The live session for this cookie value (its idle clock restarts), or None."""
        if not token or len(token) > 200:
            return None
        digest = token_digest(token)
        now = self._now()
        query = (select(staff_sessions, staff_users.c.name, staff_users.c.role)
                 .join(staff_users, staff_users.c.id == staff_sessions.c.user_id)
                 .where(staff_sessions.c.token_hash == digest))
        with self.store.engine.begin() as db:
            row = db.execute(query).first()
            if row is None:
                return None
            if row.last_seen_at <= now - IDLE_SECONDS or row.created_at <= now - ABSOLUTE_SECONDS:
                db.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == digest))
                return None
            db.execute(update(staff_sessions).where(staff_sessions.c.token_hash == digest)
                       .values(last_seen_at=now))
        return StaffSession(row.user_id, row.name, row.csrf_token, row.role)

    def logout(self, token: str | None) -> None:
        if token:
            with self.store.engine.begin() as db:
                db.execute(delete(staff_sessions)
                           .where(staff_sessions.c.token_hash == token_digest(token)))


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())
