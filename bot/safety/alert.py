"""An optional e-mail to the safeguarding team that a message needs review: with no content.

Sent only when the trust settings name ``safeguarding.alert_email`` and ``SMTP_HOST`` is set
(``bot.settings.smtp_settings``). The e-mail says that a message needs review and to log in
to the staff app, and nothing else: not the kind of risk, not the text, not the service, not
the language, not the day. E-mail leaves the trust's control, so it carries nothing about
the patient; the queue itself is behind the staff app's login and the safeguarding role.

Sending never blocks or fails the caller (the bot, mid-conversation): it runs in a
background thread with ``SMTP_TIMEOUT_SECONDS``, and a failure is logged by its exception's
type only, never raised.

**Coalescing**: at most one e-mail per :data:`WINDOW_SECONDS` (10 minutes) per process. A
flag within the window of an earlier e-mail sends none: the earlier e-mail already sent
the team to the queue, where they see every open message, this one too. If the earlier
e-mail could not be sent, the window is given back, so the next flag tries again.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage

from bot.settings import SmtpSettings, smtp_settings, trust_settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 600.0
SUBJECT = "A message in patient-voice needs review"
BODY = (
    "A message in patient-voice needs review.\n\n"
    "Please log in to the patient-voice staff app and open \"Needs attention\".\n"
)


def message(to: str, sender: str) -> EmailMessage:
    """The alert e-mail: the same fixed words every time, nothing about any patient."""
    mail = EmailMessage()
    mail["Subject"] = SUBJECT
    mail["From"] = sender
    mail["To"] = to
    mail.set_content(BODY)
    return mail


def send(to: str, smtp: SmtpSettings) -> None:
    """Send the alert now (blocking), with STARTTLS and a login when they are set."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message(to, smtp.sender))


class Alerter:
    """Sends alerts in a background thread, at most one per ``window`` seconds."""

    def __init__(
        self,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sender: Callable[[str, SmtpSettings], None] = send,
    ):
        self._window = window
        self._clock = clock
        self._sender = sender
        self._lock = threading.Lock()
        self._started: float | None = None  # when the last e-mail of this window was begun
        self._thread: threading.Thread | None = None

    def alert(self, to: str, smtp: SmtpSettings) -> bool:
        """Start sending the alert unless one was begun within the window; True if begun."""
        with self._lock:
            now = self._clock()
            if self._started is not None and now - self._started < self._window:
                return False
            thread = threading.Thread(target=self._send, args=(to, smtp, now),
                                      name="safeguarding-alert", daemon=True)
            thread.start()  # its failure path waits for this lock, so sees the lines below
            self._started, self._thread = now, thread
        return True

    def _send(self, to: str, smtp: SmtpSettings, started: float) -> None:
        try:
            self._sender(to, smtp)
        except Exception as error:  # noqa: BLE001 - never raised: the flag is already kept
            log.warning("safeguarding alert e-mail not sent (%s); the message is in the "
                        "needs-attention queue", type(error).__name__)
            with self._lock:
                if self._started == started:  # not covered after all: the next flag tries
                    self._started = None
        else:
            log.info("safeguarding alert e-mail sent")

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the e-mail being sent, if any (tests; a clean shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


ALERTER = Alerter()  # one per process: the window is per process


def needs_review() -> bool:
    """Tell the safeguarding team, without content, that a message needs review.

    Does nothing (False) unless ``safeguarding.alert_email`` and ``SMTP_HOST`` are set, or
    when an e-mail was begun in the last 10 minutes (see the module's docstring). Never
    raises and never waits for the mail server.
    """
    try:
        to = trust_settings().safeguarding.alert_email
        smtp = smtp_settings()
        return bool(to and smtp) and ALERTER.alert(to, smtp)
    except Exception as error:  # noqa: BLE001 - bad settings, no thread: the flag is kept
        log.warning("safeguarding alert not started (%s)", type(error).__name__)
        return False
