"""What every dashboard and console page shares: templates, the session guard, CSRF-checked
forms, money in dollars, and refusals rendered as pages (never a 5xx, never JSON).

A page handler is a plain function of a `Page`, run in a thread (the domains' use cases are
synchronous); `page(kind)` wraps it into a route endpoint that signs the caller in from the
session cookie, checks the CSRF token of every POST and renders an `ApiError` as the page's
flash message with the API's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from creditgate.accounts.auth import require
from creditgate.accounts.permissions import grants
from creditgate.dashboard import sessions, static
from creditgate.dashboard.sessions import ACCOUNT, Session
from creditgate.kernel import errors
from creditgate.kernel.clock import iso_utc
from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_secret
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.validation import invalid

COOKIES = {ACCOUNT: "cg_session", sessions.OPERATOR: "cg_admin"}
HOMES = {ACCOUNT: "/dashboard", sessions.OPERATOR: "/admin"}
PRE_SESSION = "cg_pre"  # binds the sign-in forms' CSRF token before there is a session
MAX_FORM_BYTES = 64 * 1024

# No page may be framed (clickjacking), cached by a shared cache, or load anything but our own
# files: Stripe.js is allowed only on the top-up page with the stripe processor (topup.py).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def dollars(microcents: int | None) -> str:
    """$1,234.56 from microcents, rounded half up to the cent (the exact figure is in the
    element's `data-microcents`)."""
    if microcents is None:
        return "—"
    cents = (Decimal(microcents) / MICROCENTS_PER_CENT).quantize(Decimal(1), ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


def cents_dollars(cents: int | None) -> str:
    return "—" if cents is None else dollars(int(cents) * MICROCENTS_PER_CENT)


templates.filters["dollars"] = dollars
templates.filters["cents_dollars"] = cents_dollars
templates.filters["iso"] = lambda ms: iso_utc(int(ms))[:16].replace("T", " ")
templates.globals["static_url"] = static.url


def read_cents(form: dict[str, str], name: str) -> int | str:
    """A dollar amount typed in a form, as the integer cents the API's validator reads; text
    that is no amount in dollars and cents is refused here, pointing at the field."""
    text = form.get(name, "").strip().replace(",", "").removeprefix("$")
    try:
        value = Decimal(text) * 100
    except InvalidOperation:
        raise invalid(f"/{name}", "must be an amount in dollars, e.g. 20 or 20.50") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise invalid(f"/{name}", "must be an amount in dollars with at most two decimals")
    return int(value)


@dataclass
class Page:
    request: Request
    runtime: Runtime
    session: Session
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        assert self.session.account_id is not None
        return self.session.account_id

    def can(self, permission: str) -> bool:
        return grants(self.session.principal.permissions, permission)

    def require(self, permission: str) -> None:
        """The API's own check (accounts/auth.py), so a forged form is refused alike."""
        require(self.session.principal, self.account_id, permission)

    def render(self, template: str, code: int = 200, **values: Any) -> HTMLResponse:
        return html(template, code, csrf=self.csrf, session=self.session, page=self,
                    **values)


def html(template: str, code: int = 200, **values: Any) -> HTMLResponse:
    """The page, answered with HTTP status `code` (a refusal keeps the API's status)."""
    body = templates.get_template(template).render(**values)
    return HTMLResponse(body, status_code=code, headers=SECURITY_HEADERS)


Handler = Callable[[Page], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(kind: str, *, refused: str = "error.html") -> Callable[[Handler], Endpoint]:
    """The route endpoint of a signed-in page of `kind` (ACCOUNT or OPERATOR)."""

    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            runtime = runtime_of(request)
            cookie = request.cookies.get(COOKIES[kind])
            session = (await run_in_threadpool(sessions.load, runtime, cookie, kind)
                       if cookie else None)
            if session is None or cookie is None:
                return RedirectResponse(f"{HOMES[kind]}/sign-in", status_code=303)
            ctx = Page(request, runtime, session, sessions.csrf_token(runtime, cookie))
            if request.method == "POST":
                ctx.form = await read_form(request)
                if not sessions.csrf_ok(runtime, cookie, ctx.form.get("csrf")):
                    return ctx.render(refused, 403, message=CSRF_REFUSED, status=403)
            try:
                return await run_in_threadpool(handler, ctx)
            except ApiError as refusal:
                return ctx.render(refused, refusal.error.status, message=refusal.message,
                                  status=refusal.error.status)

        endpoint.__name__ = f"{kind}_{handler.__name__}"
        return endpoint

    return wrap


CSRF_REFUSED = "This form expired or did not come from this site; reload the page and retry."


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the last value of a repeated field; `groups` keeps them all
    joined by newlines). Anything else, or too large, reads as an empty form."""
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    form: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form[name] = f"{form[name]}\n{value}" if name == "groups" and name in form else value
    return form


def pre_session(request: Request) -> tuple[str, bool]:
    """The pre-session cookie's value (new when missing) and whether it must be set."""
    value = request.cookies.get(PRE_SESSION)
    if value and len(value) == 43:
        return value, False
    return new_secret(43), True


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def refuse_unknown(message: str) -> ApiError:
    """What an id of another account (or of nothing) answers: the same as the API's."""
    return ApiError(errors.NOT_FOUND, message)
