"""The staff web app (Sanic): login, dashboard, feedback list, theme corrections, exports,
withdrawal, and the safeguarding review queue.

Every page needs a live session except ``/login`` and ``/static/``; every POST needs the
session's CSRF token (the login form a double-submit cookie). Pages are rendered on the
server with Jinja2 (autoescape), with no JavaScript at all, under a strict CSP.
``/needs-attention`` (flagged messages, ``bot.safety.review``) is for users with the
``safeguarding`` role only: anyone else gets 403, and no link to it.

CSV and JSON exports stream (chunked transfer encoding) as the rows are read; theme
corrections go through ``bot.staff.corrections`` (and so ``Store.correct_themes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, urlencode

from sanic import Sanic, response
from sanic.request import Request

from bot import export
from bot.erasure import record, withdraw
from bot.questions import BARRIERS, FFT_RATINGS
from bot.safety import review
from bot.staff import attention, corrections, queries
from bot.staff.auth import ABSOLUTE_SECONDS, Auth, same_token
from bot.staff.templating import render
from bot.store import Store

COOKIE = "pv_staff"
LOGIN_CSRF_COOKIE = "pv_login_csrf"
STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
              "base-uri 'none'")
TYPES = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "json": "application/json; charset=utf-8", "html": "text/html; charset=utf-8"}
XLSX_IN_MEMORY = 8 * 1024 * 1024  # bytes of a workbook kept in memory before it goes to disk
# openpyxl writes about 6,000 rows a second, and nothing can be sent before the workbook is
# whole: this keeps the wait well inside Sanic's 60-second response timeout. Larger views:
# CSV, or `patient-voice export --format xlsx` (up to Excel's own limit).
XLSX_WEB_MAX_ROWS = 200_000
XLSX_BLOCK = 256 * 1024


def secure_cookies() -> bool:
    return os.environ.get("STAFF_SECURE_COOKIES", "") == "1"


def _set_cookie(resp, name: str, value: str, max_age: int) -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = max_age
    if secure_cookies():
        cookie["secure"] = True


def _page(template: str, request: Request, status: int = 200, **context):
    session = getattr(request.ctx, "session", None)
    context.setdefault("user", session.name if session else None)
    context.setdefault("csrf", session.csrf_token if session else "")
    context.setdefault("safeguarding", bool(session and session.safeguarding))
    return response.html(render(template, **context), status=status)


def _options(store: Store) -> dict:
    found = queries.choices_for_filters(store)
    found.update(barrier=list(BARRIERS), rating=list(FFT_RATINGS))
    return found


def create_app(store: Store | None = None, *, name: str = "patient_voice_staff") -> Sanic:
    app = Sanic(name)
    app.config.MOTD = False
    app.config.ACCESS_LOG = False
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.ctx.store = store or Store()
    app.ctx.auth = Auth(app.ctx.store)
    corrections.enable_audit_log()
    app.static("/static/staff.css", str(STATIC / "staff.css"), name="css")

    @app.middleware("request")
    async def require_login(request: Request):
        request.ctx.session = None
        if request.path.startswith("/static/") or request.path == "/login":
            return None
        session = app.ctx.auth.session(request.cookies.get(COOKIE))
        if session is None:
            return response.redirect("/login", status=303)
        request.ctx.session = session
        if request.method == "POST" and not same_token(
                (request.form or {}).get("csrf_token"), session.csrf_token):
            return response.text("The form was out of date. Go back, reload and try again.",
                                 status=403)
        return None

    @app.middleware("response")
    async def headers(request: Request, resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        if secure_cookies():
            h["Strict-Transport-Security"] = "max-age=31536000"

    def login_token(request: Request) -> str:
        # Keep the browser's token: a second tab (or a favicon request redirected here)
        # must not invalidate the form already shown.
        given = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        return given if 40 <= len(given) <= 64 and given.isascii() else secrets.token_urlsafe(32)

    @app.get("/login")
    async def login_form(request: Request):
        token = login_token(request)
        resp = _page("login.html", request, title="Log in", page="login", csrf=token, name="",
                     error=None)
        _set_cookie(resp, LOGIN_CSRF_COOKIE, token, 3600)
        return resp

    @app.post("/login")
    async def login(request: Request):
        form = request.form or {}
        name, password = form.get("name") or "", form.get("password") or ""
        if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return response.text("The form was out of date. Reload the page and try again.",
                                 status=403)
        token = login_token(request)
        auth: Auth = app.ctx.auth
        if auth.locked(name):
            error, status, session = ("Too many wrong passwords. Wait 15 minutes, then try "
                                      "again.", 429, None)
        else:
            session = auth.login(name, password)
            error, status = "Wrong user name or password.", 401
        if session is None:
            resp = _page("login.html", request, status=status, title="Log in", page="login",
                         csrf=token, name=name[:64], error=error)
            _set_cookie(resp, LOGIN_CSRF_COOKIE, token, 3600)
            return resp
        resp = response.redirect("/", status=303)
        _set_cookie(resp, COOKIE, session, ABSOLUTE_SECONDS)
        _set_cookie(resp, LOGIN_CSRF_COOKIE, "", 0)
        return resp

    @app.post("/logout")
    async def logout(request: Request):
        app.ctx.auth.logout(request.cookies.get(COOKIE))
        resp = response.redirect("/login", status=303)
        _set_cookie(resp, COOKIE, "", 0)
        return resp

    @app.get("/")
    async def dashboard(request: Request):
        filters = queries.Filters.parse(request.args)
        summary = queries.summarise(app.ctx.store, filters)
        return _page("dashboard.html", request, title="Dashboard", page="dashboard",
                     filters=filters, options=_options(app.ctx.store), summary=summary)

    @app.get("/feedback")
    async def feedback(request: Request):
        filters = queries.Filters.parse(request.args)
        try:
            number = int(request.args.get("page") or 1)
        except ValueError:
            number = 1
        result = queries.feedback_page(app.ctx.store, filters, number)
        back = filters.items() + ([("page", str(result.page))] if result.page > 1 else [])
        saved = request.args.get("saved") or ""
        return _page("feedback.html", request, title="Feedback", page="feedback",
                     filters=filters, options=_options(app.ctx.store), result=result,
                     query=urlencode(filters.items()), back=urlencode(back),
                     saved=saved.isdigit())

    @app.post("/export")
    async def export_view(request: Request):
        form = request.form or {}
        fmt = form.get("format")
        if fmt not in TYPES:
            return response.text("Choose CSV, XLSX, JSON or the summary report.", status=400)
        filters = queries.Filters.parse(form)
        if fmt == "html":
            return _report(app.ctx.store, filters)
        if fmt == "xlsx":
            return await _send_xlsx(request, app.ctx.store, filters)
        return await _send_rows(request, app.ctx.store, filters, fmt)

    @app.get("/feedback/<answer_id:int>/themes")
    async def correction_form(request: Request, answer_id: int):
        found = _correctable(app.ctx.store, answer_id)
        if isinstance(found, response.HTTPResponse):
            return found
        return _correction_page(request, app.ctx.store, found, _back(request.args))

    @app.post("/feedback/<answer_id:int>/themes")
    async def correction_post(request: Request, answer_id: int):
        store: Store = app.ctx.store
        found = _correctable(store, answer_id)
        if isinstance(found, response.HTTPResponse):
            return found
        form = request.form or {}
        back = _back(dict(parse_qsl(form.get("back") or "")))
        allowed = corrections.categories(store, found.themes)
        try:
            themes, sentiment = corrections.parse(form.getlist("theme") or [],
                                                  form.get("sentiment"), allowed)
        except corrections.CorrectionError as error:
            if form.getlist("theme"):  # a form that was tampered with: no second chance
                return response.text(str(error), status=400)
            return _correction_page(request, store, found, back, error=str(error), status=400,
                                    chosen=([], form.get("sentiment") or ""))
        if not corrections.correct(store, answer_id, themes, sentiment,
                                   who=request.ctx.session.name):
            return response.text("That comment was withdrawn, or changed and waits for its "
                                 "translation. Go back to the list.", status=409)
        return response.redirect(_list_url(back, saved=answer_id), status=303)

    @app.get("/withdraw")
    async def withdraw_form(request: Request):
        return _page("withdraw.html", request, title="Withdraw a response", page="withdraw",
                     message=None)

    @app.post("/withdraw")
    async def withdraw_post(request: Request):
        code = ((request.form or {}).get("code") or "")[:40]
        found = withdraw(app.ctx.store, code, actor="staff")
        message = ("The response was withdrawn and deleted." if found else
                   "No response has that receipt code. Check it and try again.")
        return _page("withdraw.html", request, title="Withdraw a response", page="withdraw",
                     message=message)

    @app.get("/needs-attention")
    async def needs_attention(request: Request):
        if not request.ctx.session.safeguarding:
            return _forbidden(request)
        done = request.args.get("done")
        return _page("needs_attention.html", request, title="Needs attention",
                     page="needs-attention", queue=attention.queue(app.ctx.store),
                     done=done if done in ("0", "1") else None)

    @app.post("/needs-attention/<review_id:int>/acknowledge")
    async def acknowledge_post(request: Request, review_id: int):
        session = request.ctx.session
        if not session.safeguarding:
            return _forbidden(request)
        done = 0 < review_id < 2**31 and review.acknowledge(app.ctx.store, review_id,
                                                             staff_name=session.name)
        return response.redirect(f"/needs-attention?done={int(done)}", status=303)

    return app


def _forbidden(request: Request):
    return _page("forbidden.html", request, status=403, title="Not allowed", page="")


def _attachment(fmt: str) -> dict[str, str]:
    filename = f"patient-voice-{date.today().isoformat()}.{fmt}"
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _report(store: Store, filters: queries.Filters):
    """The one-page summary report (small: counts only), audited with its response count."""
    summary = queries.summarise(store, filters)
    out = io.StringIO()
    export.write_html_report(summary, out, trust_name=_trust_name())
    record(store, "export", "staff", summary.responses)
    return response.raw(out.getvalue().encode("utf-8"), content_type=TYPES["html"],
                        headers={"Content-Security-Policy": REPORT_CSP})


async def _send_rows(request: Request, store: Store, filters: queries.Filters, fmt: str):
    """Stream CSV or JSON as it is read, a batch at a time (chunked transfer encoding).

    Each chunk is made in a worker thread so the app keeps answering other staff meanwhile.
    The audit line counts the rows that were sent, also when the download breaks off.
    """
    rows = export.Tally(queries.iter_export_rows(store, filters))
    chunks = export.csv_chunks(rows, bom=True) if fmt == "csv" else export.json_chunks(rows)
    resp = await request.respond(content_type=TYPES[fmt], headers=_attachment(fmt))
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await resp.send(chunk.encode("utf-8"))
    finally:
        record(store, "export", "staff", rows.count)
        with contextlib.suppress(ValueError):  # still running in its thread (a client gone)
            chunks.close()
    await resp.eof()


async def _send_xlsx(request: Request, store: Store, filters: queries.Filters):
    """Build the workbook in a worker thread into a temporary file (spilling to disk when
    large: a zip is finished only at its end), then stream the file."""

    def build() -> tuple[IO[bytes], int]:
        spool = tempfile.SpooledTemporaryFile(max_size=XLSX_IN_MEMORY)
        try:
            count = export.write_xlsx(queries.iter_export_rows(store, filters), spool,
                                      summary=queries.summarise(store, filters),
                                      max_rows=XLSX_WEB_MAX_ROWS)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, count

    try:
        spool, count = await asyncio.to_thread(build)
    except export.TooManyRows:
        return response.text(f"This view has more than {XLSX_WEB_MAX_ROWS:,} answers, too many "
                             "for an Excel download. Narrow the filters, export CSV, or use "
                             "`patient-voice export --format xlsx`.", status=400)
    with spool:
        resp = await request.respond(content_type=TYPES["xlsx"], headers=_attachment("xlsx"))
        try:
            while block := spool.read(XLSX_BLOCK):
                await resp.send(block)
        finally:
            record(store, "export", "staff", count)
        await resp.eof()


def _correctable(store: Store, answer_id: int):
    """The comment to correct, or the reply that says why there is none."""
    found = queries.comment(store, answer_id) if 0 < answer_id < 2**62 else None
    if found is None:
        return response.text("There is no comment with that number.", status=404)
    if not found.correctable:
        return response.text("This comment waits for its English translation; its themes "
                             "can be corrected once it arrives.", status=409)
    return found


def _back(args: Mapping) -> dict[str, str]:
    """The list's filters and page (from the query, or the form's ``back`` field) to return
    to; only known filters with sensible values are kept, and the way back is always the
    list, so the redirect cannot be pointed elsewhere."""
    found = dict(queries.Filters.parse(args).items())
    page = str(args.get("page") or "")
    if page.isdigit() and 1 < int(page) < 100_000:
        found["page"] = page
    return found


def _list_url(back: dict[str, str], *, saved: int | None = None) -> str:
    query = dict(back)
    if saved is not None:
        query["saved"] = str(saved)
    return "/feedback" + (f"?{urlencode(query)}" if query else "") + (
        f"#c-{saved}" if saved is not None else "")


def _correction_page(request: Request, store: Store, found: queries.Comment,
                     back: dict[str, str], *, error: str | None = None, status: int = 200,
                     chosen: tuple[list[str], str] | None = None):
    """The form; ``chosen`` (themes, sentiment) are what was sent, else the comment's own."""
    themes, sentiment = chosen or (found.themes, str(found.sentiment or ""))
    return _page("correct.html", request, status=status, title="Correct themes",
                 page="feedback", comment=found, error=error, checked=themes,
                 sentiment=sentiment, categories=corrections.categories(store, found.themes),
                 back=urlencode(back), back_url=_list_url(back))


def _trust_name() -> str:
    try:
        from bot.settings import trust_settings

        return trust_settings().trust_name("en")
    except Exception:  # noqa: BLE001 - the report works without it
        return ""


def main() -> None:
    host = os.environ.get("STAFF_HOST", "127.0.0.1")
    port = int(os.environ.get("STAFF_PORT", "5070"))
    app = create_app()
    app.run(host=host, port=port, workers=1, access_log=False, debug=False)
