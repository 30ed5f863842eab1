"""The web chat in a real browser: Debian's headless Chromium driven by Playwright.

Against the real Rasa server and bot server on loopback, with a trust's page on another
loopback origin that embeds the widget with one script tag, and the full-page chat:
whole conversations with the keyboard alone (English in the widget, Urdu on the full
page), easy read, audio, the offline message and retry, HTML shown as text, and axe-core
(web/node_modules, from the lock file) with zero WCAG 2.2 A/AA violations. Screenshots go
to var/test-artifacts/web/.

Needs /usr/bin/chromium, the Python package playwright and web/node_modules/axe-core
(`.ci/install-web.sh`). Missing any of them: skipped locally, a failure in CI.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from bot.launch import free_port, running
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, run_axe
from tests.conftest import ensure_model

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "test-artifacts" / "web"
WIDGET_ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
WAIT_MS = 60_000
RECEIPT = re.compile(r"PV-[23456789A-Z]{6}")
pytestmark = pytest.mark.servers


def widget_words(code: str) -> dict[str, str]:
    raw = yaml.safe_load((ROOT / "languages" / f"{code}.yml").read_text(encoding="utf-8"))
    return raw["widget"]


# -- a trust's website on another origin, embedding the widget ---------------------------

TRUST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Maternity - Example NHS Foundation Trust</title>
<style>
body {{ font-family: Arial, sans-serif; margin: 0; color: #212b32; line-height: 1.5; }}
header {{ background: #005eb8; color: #ffffff; padding: 1rem; }}
main {{ padding: 1rem; max-width: 40rem; }}
a {{ color: #005eb8; }}
</style>
</head>
<body>
<header><p>Example NHS Foundation Trust</p></header>
<main>
<h1>Maternity services</h1>
<p>Our midwives care for you before, during and after your baby is born.</p>
<p><a href="#contact">Contact the maternity team</a></p>
</main>
<script src="{bot}/webhooks/web/widget.js" defer></script>
</body>
</html>
"""


class TrustSite:
    def __init__(self, port: int, bot_url: str) -> None:
        page = TRUST_PAGE.format(bot=bot_url).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TrustSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Setup:
    bot_url: str
    trust_url: str
    database_url: str
    browser: Any

    @property
    def chat_url(self) -> str:
        return f"{self.bot_url}/webhooks/web/chat"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_browser()
    from playwright.sync_api import sync_playwright

    ensure_model()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("web_widget")
    database_url = f"sqlite:///{work / 'answers.db'}"
    trust_port, rasa_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "TRANSLATION_INTERVAL_SECONDS": "0",
           "SPEECH_ONLINE": "off", "AUDIO_CACHE_DIR": str(work / "audio"),
           "WEB_ALLOWED_ORIGINS": f"http://127.0.0.1:{trust_port}",
           # Every page here comes from one address; the limits are tested over HTTP.
           "WEB_CLIENT_MESSAGES_PER_MINUTE": "1000", "WEB_SENDER_MESSAGES_PER_MINUTE": "100"}
    with running(log_dir=work, rasa_port=rasa_port, bot_port=free_port(), extra_env=env) as up, \
            TrustSite(trust_port, up.rasa_url) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=WIDGET_ARGS)
        try:
            yield Setup(up.rasa_url, site.url, database_url, browser)
        finally:
            browser.close()


def open_page(setup: Setup, *, bypass_csp: bool) -> Iterator[Any]:
    context = setup.browser.new_context(viewport={"width": 1024, "height": 800},
                                        bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(setup: Setup) -> Iterator[Any]:
    """A fresh tab; the chat page's CSP is bypassed only so that axe can be injected."""
    yield from open_page(setup, bypass_csp=True)


@pytest.fixture
def strict_page(setup: Setup) -> Iterator[Any]:
    """A fresh tab that keeps the chat page's Content-Security-Policy."""
    yield from open_page(setup, bypass_csp=False)


# -- helpers -------------------------------------------------------------------------------


def axe(page: Any, name: str) -> None:
    run_axe(page, ARTIFACTS, name)


def bot_count(page: Any) -> int:
    return page.locator(".pv-bot").count()


def replied(page: Any, action: Callable[[], None]) -> Any:
    """Do ``action``; wait until the bot has answered; the newest bot message."""
    before = bot_count(page)
    action()
    page.wait_for_function(
        """n => document.querySelectorAll('.pv-bot').length > n
               && !document.querySelector('.pv-log').hasAttribute('aria-busy')""",
        arg=before)
    return page.locator(".pv-bot").last


def focused(page: Any) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        return {tag: e.tagName, cls: e.className, text: (e.textContent || "").trim(),
                id: e.id, label: e.labels && e.labels[0] ? e.labels[0].textContent : null};
    }""")


def tab_to(page: Any, title: str, key: str = "Shift+Tab", steps: int = 80) -> None:
    """Move focus with the keyboard alone until the control named ``title`` has it."""
    for _ in range(steps):
        if focused(page)["text"].lstrip("\u00d7 ") == title:
            return
        page.keyboard.press(key)
    raise AssertionError(f"could not reach {title!r} with {key}; focus on {focused(page)}; "
                         f"chat: {page.locator('.pv-log').inner_text()[-1500:]}")


def type_answer(page: Any, answer: str) -> Any:
    """Type into the focused answer box and press Enter; focus must stay in it."""
    assert focused(page)["cls"] == "pv-input", focused(page)
    newest = replied(page, lambda: (page.keyboard.type(answer), page.keyboard.press("Enter")))
    assert focused(page)["cls"] == "pv-input", "focus left the answer box after sending"
    return newest


def press_focused_choice(page: Any, key: str = "Enter") -> Any:
    assert focused(page)["cls"] == "pv-choice", focused(page)
    return replied(page, lambda: page.keyboard.press(key))


def not_obscured(page: Any) -> None:
    """The focused control is on screen and on top (WCAG 2.4.11)."""
    hidden = page.evaluate("""() => {
        const e = document.activeElement;
        e.scrollIntoView({block: "nearest"});
        const r = e.getBoundingClientRect();
        const x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (r.width === 0 || y < 0 || y > innerHeight || x < 0 || x > innerWidth) return "off";
        const top = document.elementFromPoint(x, y);
        return top === e || e.contains(top) ? null : "covered";
    }""")
    assert hidden is None, f"focused control is {hidden}"


def check_messages(page: Any) -> None:
    """Every bot message carries lang and dir; every control is at least 44 x 44 px."""
    marks = page.evaluate("""() => [...document.querySelectorAll('.pv-bot')].map(
        m => [m.getAttribute('lang'), m.getAttribute('dir')])""")
    assert marks and all(lang and direction in ("ltr", "rtl") for lang, direction in marks)
    sizes = page.evaluate("""() => [...document.querySelectorAll('.pv-root button')]
        .filter(b => b.offsetParent !== null)
        .map(b => [b.textContent.trim(), b.getBoundingClientRect().width,
                   b.getBoundingClientRect().height])""")
    small = [s for s in sizes if s[1] < 43.5 or s[2] < 43.5]
    assert not small, f"controls smaller than 44 x 44 px: {small}"


def announced(page: Any) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('.pv-root [aria-live]')]
        .flatMap(r => [...r.children].map(c => c.textContent))""")


def playable_seconds(message: Any) -> float:
    """Load the message's audio; its duration once the browser says it can play it."""
    return message.locator("audio").evaluate("""audio => new Promise((ok, fail) => {
        audio.addEventListener("canplay", () => ok(audio.duration), {once: true});
        audio.addEventListener("error", () => fail(new Error("audio error")), {once: true});
        audio.preload = "auto";
        audio.load();
    })""")


def stored(database_url: str) -> list[dict]:
    engine = create_engine(database_url, future=True)
    with engine.connect() as db:
        responses = db.execute(text("select * from responses")).mappings().all()
        answers = db.execute(text("select * from answers")).mappings().all()
    engine.dispose()
    found = [{**row, "answers": [a for a in answers if a["response_id"] == row["id"]]}
             for row in responses]
    return found


def answers_of(found: list[dict], before: list[dict]) -> dict:
    known = {r["id"] for r in before}
    fresh = [r for r in found if r["id"] not in known]
    assert len(fresh) == 1, f"expected one new response, found {len(fresh)}"
    return fresh[0]


# -- the tests -------------------------------------------------------------------------------


def test_launcher_on_a_trust_page(setup: Setup, page: Any) -> None:
    page.goto(setup.trust_url)
    launcher = page.get_by_role("button", name="Give feedback")
    launcher.wait_for()
    assert launcher.get_attribute("aria-expanded") == "false"
    axe(page, "launcher")
    check_messages_none = page.locator(".pv-bot").count()
    assert check_messages_none == 0  # nothing is sent until the patient opens the chat


def test_english_conversation_with_the_keyboard_alone(setup: Setup, page: Any) -> None:
    before = stored(setup.database_url)
    page.goto(setup.trust_url)
    page.get_by_role("button", name="Give feedback").wait_for()
    tab_to(page, "Give feedback", key="Tab")
    not_obscured(page)
    menu = replied(page, lambda: page.keyboard.press("Enter"))
    assert focused(page)["cls"] == "pv-input" and focused(page)["label"] == "Type your answer"
    assert page.get_by_role("dialog", name="Tell us about your care").is_visible()
    assert menu.get_attribute("lang") == "en"
    assert playable_seconds(menu) > 0  # speech from the bot's origin, on the trust's page

    tab_to(page, "English")  # backwards from the answer box to the language menu
    not_obscured(page)
    welcome = press_focused_choice(page, "Enter")
    assert "wants to hear about your care" in welcome.inner_text()
    assert focused(page)["text"] == "Yes, start"  # focus goes to the next question's choices
    asked = press_focused_choice(page, "Space")  # Space works as well as Enter
    assert "Who is answering" in asked.inner_text()
    asked = press_focused_choice(page)
    assert "Which service" in asked.inner_text()
    tab_to(page, "Maternity", key="Tab")
    asked = press_focused_choice(page)
    assert "how was your experience" in asked.inner_text()
    asked = press_focused_choice(page)  # "Very good", the first choice
    assert "why you gave that answer" in asked.inner_text()
    # A question answered in words puts focus in the answer box, not on "Skip".
    assert focused(page)["cls"] == "pv-input"
    not_obscured(page)
    asked = type_answer(page, "The midwife listened to me.")
    assert "hard to get care" in asked.inner_text()
    asked = type_answer(page, "1 3")
    assert "Tell us more" in asked.inner_text()
    asked = type_answer(page, "The bus only comes twice a day.")
    assert "made your experience better" in asked.inner_text()
    axe(page, "widget-mid-conversation")
    asked = type_answer(page, "An earlier bus.")
    assert "questions about you" in asked.inner_text()
    asked = type_answer(page, "no")
    assert "plan and change services" in asked.inner_text()
    type_answer(page, "no")
    ending = page.locator(".pv-log").inner_text()
    assert RECEIPT.search(ending) and "PALS" in ending

    check_messages(page)
    # Only new bot messages go to the polite live region, not the history, nor the patient.
    news = announced(page)
    assert 0 < len(news) <= 4 and "An earlier bus." not in news
    assert page.locator(".pv-log[aria-live], .pv-log[role=log]").count() == 0
    last = page.locator(".pv-bot .pv-text").last.inner_text().strip()
    assert news[-1].strip() == last

    page.keyboard.press("Escape")
    assert page.locator(".pv-panel").is_hidden()
    assert focused(page)["cls"] == "pv-launcher"
    page.keyboard.press("Enter")  # opens again, with the conversation still there
    assert page.locator(".pv-you").first.is_visible()
    assert focused(page)["cls"] == "pv-input"

    response = answers_of(stored(setup.database_url), before)
    assert (response["status"], response["channel"], response["language"]) == (
        "complete", "web", "en")
    keys = [a["question_key"] for a in response["answers"]]
    assert len(keys) == len(set(keys))  # every answer once
    assert {"respondent", "service", "rating", "rating_reason", "barriers", "barriers_more",
            "improve"} <= set(keys)


def test_urdu_on_the_full_page_right_to_left(setup: Setup, page: Any) -> None:
    before = stored(setup.database_url)
    urdu = widget_words("ur")
    page.goto(setup.chat_url)
    page.locator(".pv-bot").first.wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.locator(".pv-input").focus()
    tab_to(page, "اردو")
    assert page.evaluate("document.activeElement.lang") == "ur"  # named in its own language
    welcome = press_focused_choice(page)
    assert (welcome.get_attribute("lang"), welcome.get_attribute("dir")) == ("ur", "rtl")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "ur", "rtl"]
    assert page.locator(".pv-input-label").inner_text() == urdu["input_label"]
    assert page.locator(".pv-send").inner_text() == urdu["send"]
    assert page.title() == urdu["title"]
    asked = press_focused_choice(page)  # yes, start
    assert asked.get_attribute("dir") == "rtl"
    press_focused_choice(page)  # the patient
    press_focused_choice(page)  # the first service
    press_focused_choice(page)  # very good
    assert focused(page)["cls"] == "pv-input"
    type_answer(page, "دائی نے میری بات سنی۔")
    axe(page, "full-page-urdu")
    type_answer(page, "1")
    type_answer(page, "بس دن میں دو بار آتی ہے۔")
    type_answer(page, "چھوڑیں")  # "skip", typed: what would have made it better
    type_answer(page, "2")  # no questions about me
    type_answer(page, "2")  # no involvement
    said = page.locator(".pv-log").inner_text()
    assert RECEIPT.search(said), said
    check_messages(page)
    bots = page.evaluate("""() => [...document.querySelectorAll('.pv-bot')].slice(1)
        .map(m => [m.lang, m.dir])""")
    assert bots and all(mark == ["ur", "rtl"] for mark in bots)
    response = answers_of(stored(setup.database_url), before)
    assert (response["status"], response["channel"], response["language"]) == (
        "complete", "web", "ur")


def test_full_page_and_easy_read(setup: Setup, page: Any) -> None:
    page.goto(setup.chat_url)
    page.locator(".pv-bot").first.wait_for()
    axe(page, "full-page")
    switch = page.get_by_role("switch", name="Easy read")
    normal = page.locator(".pv-bot .pv-text").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)")
    switch.focus()
    page.keyboard.press("Space")
    assert switch.is_checked()
    larger = page.locator(".pv-bot .pv-text").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)")
    assert larger >= normal * 1.2
    welcome = replied(page, lambda: page.get_by_role("button", name="English").click())
    said = welcome.inner_text()
    assert "You do not give your name." in said and "We use what you tell us" not in said
    axe(page, "full-page-easy-read")


def test_audio_is_playable_and_a_missing_voice_is_explained(setup: Setup,
                                                            strict_page: Any) -> None:
    page = strict_page
    page.goto(setup.chat_url)
    first = page.locator(".pv-bot").first
    first.wait_for()
    listen = first.get_by_role("button", name="Listen")
    assert listen.is_visible()
    assert playable_seconds(first) > 0

    page.get_by_role("switch", name="Always read aloud").check()
    welcome = replied(page, lambda: page.get_by_role("button", name="English").click())
    page.wait_for_function("a => a.played.length > 0 || !a.paused",
                           arg=welcome.locator("audio").element_handle())

    page.route("**/webhooks/web/audio/**", lambda route: route.fulfill(
        status=404, content_type="application/json",
        body=json.dumps({"error": "no_voice", "reason": "no voice for so", "lang": "so"})))
    asked = replied(page, lambda: page.get_by_role("button", name="Yes, start").click())
    asked.get_by_role("button", name="Listen").click()
    asked.get_by_text("No voice for this language").wait_for()
    assert "No voice for this language" in announced(page)


def test_offline_message_and_retry_with_the_same_message_id(setup: Setup, page: Any) -> None:
    before = stored(setup.database_url)
    welsh = widget_words("cy")
    page.goto(setup.chat_url)
    page.locator(".pv-bot").first.wait_for()
    replied(page, lambda: page.get_by_role("button", name="Cymraeg").click())
    press_focused_choice(page)  # yes, start
    press_focused_choice(page)  # the patient
    press_focused_choice(page)  # the first service
    press_focused_choice(page)  # very good
    type_answer(page, "Roedd y fydwraig yn garedig.")
    type_answer(page, "1")

    sent: list[dict] = []

    def reach_server_then_drop(route: Any) -> None:
        """The server gets the answer and replies, but the reply never arrives."""
        sent.append(json.loads(route.request.post_data))
        route.fetch()
        route.abort("connectionreset")

    page.route("**/webhooks/web/webhook", reach_server_then_drop)
    count = bot_count(page)
    page.keyboard.type("Roedd y maes parcio yn llawn.")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.filter(has_text=welsh["offline"]).wait_for()
    assert alert.get_attribute("lang") == "cy"
    assert bot_count(page) == count
    page.unroute("**/webhooks/web/webhook")
    page.route("**/webhooks/web/webhook", lambda route: (
        sent.append(json.loads(route.request.post_data)), route.continue_()))
    axe(page, "offline-message")
    retry = page.get_by_role("button", name=welsh["retry"])
    retry.focus()
    asked = replied(page, lambda: page.keyboard.press("Enter"))
    assert page.locator(".pv-status").is_hidden()
    assert asked.get_attribute("lang") == "cy"
    assert len(sent) == 2 and sent[0] == sent[1]  # the same message_id, the same words
    assert page.locator(".pv-bot").count() == count + 1  # answered once

    response = answers_of(stored(setup.database_url), before)
    keys = [a["question_key"] for a in response["answers"]]
    assert keys.count("barriers_more") == 1 and "improve" not in keys


def test_html_and_script_are_shown_as_text(setup: Setup, strict_page: Any) -> None:
    page = strict_page
    page.goto(setup.chat_url)
    page.locator(".pv-bot").first.wait_for()
    attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>b</b>'

    def inject(route: Any) -> None:
        reply = route.fetch()
        body = reply.json()
        body["messages"].insert(0, {"text": attack, "buttons": [
            {"title": "<i>choice</i>", "payload": "/skip"}], "lang": "en", "dir": "ltr"})
        route.fulfill(response=reply, json=body)

    page.route("**/webhooks/web/webhook", inject)
    page.locator(".pv-input").fill(attack)
    replied(page, lambda: page.keyboard.press("Enter"))
    assert page.locator(".pv-you .pv-text").last.text_content() == attack
    texts = page.locator(".pv-bot .pv-text").all_text_contents()
    assert attack in texts
    assert page.get_by_role("button", name="<i>choice</i>").count() == 1
    assert page.locator(".pv-log img, .pv-log script, .pv-log b, .pv-log i").count() == 0
    assert page.evaluate("window.__pwned") is None


@pytest.mark.parametrize("width, zoom", [(320, 1), (1280, 2)])
def test_reflow_at_320_px_and_text_at_200_percent(setup: Setup, page: Any, width: int,
                                                   zoom: int) -> None:
    page.set_viewport_size({"width": width, "height": 640})
    page.goto(setup.trust_url)
    page.add_style_tag(content=f"html {{ font-size: {zoom * 100}% !important; }}")
    page.get_by_role("button", name="Give feedback").click()
    page.get_by_role("button", name="English").wait_for()
    replied(page, lambda: page.get_by_role("button", name="English").click())
    overflow = page.evaluate("""() => [...document.querySelectorAll('.pv-root *')]
        .filter(e => e.offsetParent !== null && !e.closest('.pv-visually-hidden')
                && e.scrollWidth > e.clientWidth + 1
                && getComputedStyle(e).overflowX !== 'visible')
        .map(e => e.className)""")
    assert overflow == [], f"sideways scrolling in {overflow}"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for name in ("Send", "Close"):
        control = page.get_by_role("button", name=name)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= width + 1, name
    page.locator(".pv-input").focus()
    not_obscured(page)
    axe(page, f"widget-{width}px-{zoom * 100}pct")
