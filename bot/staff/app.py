"""The staff web app (Sanic): login, dashboard, feedback list, exports, withdrawal.

Every page needs a live session except ``/login`` and ``/static/``; every POST needs the
session's CSRF token (the login form a double-submit cookie). Pages are rendered on the
server with Jinja2 (autoescape), with no JavaScript at all, under a strict CSP.
"""

from __future__ import annotations

import io
import os
import secrets
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from sanic import Sanic, response
from sanic.request import Request

from bot import export
from bot.erasure import record, withdraw
from bot.questions import BARRIERS, FFT_RATINGS
from bot.staff import queries
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
        return _page("feedback.html", request, title="Feedback", page="feedback",
                     filters=filters, options=_options(app.ctx.store), result=result,
                     query=urlencode(filters.items()))

    @app.post("/export")
    async def export_view(request: Request):
        form = request.form or {}
        fmt = form.get("format")
        if fmt not in TYPES:
            return response.text("Choose CSV, XLSX, JSON or the summary report.", status=400)
        store: Store = app.ctx.store
        filters = queries.Filters.parse(form)
        headers = {}
        if fmt == "html":
            summary = queries.summarise(store, filters)
            out = io.StringIO()
            export.write_html_report(summary, out, trust_name=_trust_name())
            body, count = out.getvalue().encode("utf-8"), summary.responses
            headers["Content-Security-Policy"] = REPORT_CSP
        else:
            rows = queries.export_rows(store, filters)
            count = len(rows)
            if fmt == "xlsx":
                out_bytes = io.BytesIO()
                export.write_xlsx(rows, out_bytes, summary=queries.summarise(store, filters))
                body = out_bytes.getvalue()
            else:
                out = io.StringIO()
                if fmt == "csv":
                    export.write_csv(rows, out, bom=True)
                else:
                    export.write_json(rows, out)
                body = out.getvalue().encode("utf-8")
            filename = f"patient-voice-{date.today().isoformat()}.{fmt}"
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        record(store, "export", "staff", count)
        return response.raw(body, content_type=TYPES[fmt], headers=headers)

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

    return app


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
