"""Signing in and out: an API token or a one-time link for /dashboard, an operator token for
/admin. Every form here carries a CSRF token bound to the pre-session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from creditgate.dashboard import sessions
from creditgate.dashboard.sessions import ACCOUNT, OPERATOR
from creditgate.dashboard.web import (
    COOKIES,
    CSRF_REFUSED,
    HOMES,
    PRE_SESSION,
    html,
    pre_session,
    read_form,
    set_cookie,
)
from creditgate.kernel.runtime import runtime_of

router = APIRouter(include_in_schema=False)
TEMPLATES = {ACCOUNT: "sign_in.html", OPERATOR: "admin/sign_in.html"}
PRE_SESSION_AGE = 3600


def _form(request: Request, kind: str, status: int = 200, message: str | None = None,
          link_key: str | None = None) -> Response:
    runtime = runtime_of(request)
    binding, fresh = pre_session(request)
    template = "link.html" if link_key is not None else TEMPLATES[kind]
    response = html(template, status, csrf=sessions.csrf_token(runtime, binding),
                    message=message, link_key=link_key)
    if fresh:
        set_cookie(request, response, PRE_SESSION, binding, PRE_SESSION_AGE)
    return response


def _signed_in(request: Request, kind: str, cookie: str) -> Response:
    response = RedirectResponse(HOMES[kind], status_code=303)
    set_cookie(request, response, COOKIES[kind], cookie,
               runtime_of(request).settings.dashboard_session_seconds)
    response.delete_cookie(PRE_SESSION, path="/")
    return response


async def _checked_form(request: Request) -> dict[str, str] | None:
    form = await read_form(request)
    binding = request.cookies.get(PRE_SESSION)
    if binding is None or not sessions.csrf_ok(runtime_of(request), binding, form.get("csrf")):
        return None
    return form


async def _sign_in_with_token(request: Request, kind: str) -> Response:
    form = await _checked_form(request)
    if form is None:
        return _form(request, kind, 403, CSRF_REFUSED)
    cookie = await run_in_threadpool(sessions.open_with_token, runtime_of(request),
                                     form.get("token", ""), kind)
    if cookie is None:
        wanted = "an operator token" if kind == OPERATOR else "an active API token"
        return _form(request, kind, 401, f"That is not {wanted}.")
    return _signed_in(request, kind, cookie)


async def _sign_out(request: Request, kind: str) -> Response:
    cookie = request.cookies.get(COOKIES[kind])
    form = await read_form(request)
    if cookie is None or not sessions.csrf_ok(runtime_of(request), cookie, form.get("csrf")):
        return html("error.html", 403, message=CSRF_REFUSED, status=403)
    await run_in_threadpool(sessions.end, runtime_of(request), cookie)
    response = RedirectResponse(f"{HOMES[kind]}/sign-in", status_code=303)
    response.delete_cookie(COOKIES[kind], path="/")
    return response


@router.get("/dashboard/sign-in")
async def dashboard_sign_in_form(request: Request) -> Response:
    return _form(request, ACCOUNT)


@router.post("/dashboard/sign-in")
async def dashboard_sign_in(request: Request) -> Response:
    return await _sign_in_with_token(request, ACCOUNT)


@router.get("/dashboard/link")
async def dashboard_link_form(request: Request) -> Response:
    """A page with one button: opening the link signs nobody in, so a mail scanner or a chat
    preview that fetches it does not use it up; the button's POST does."""
    return _form(request, ACCOUNT, link_key=request.query_params.get("key", ""))


@router.post("/dashboard/link")
async def dashboard_link(request: Request) -> Response:
    form = await _checked_form(request)
    if form is None:
        return _form(request, ACCOUNT, 403, CSRF_REFUSED)
    cookie = await run_in_threadpool(sessions.redeem_link, runtime_of(request),
                                     form.get("key", ""))
    if cookie is None:
        return _form(request, ACCOUNT, 401, "This sign-in link was already used or has "
                                            "expired. Ask for a new one.")
    return _signed_in(request, ACCOUNT, cookie)


@router.post("/dashboard/sign-out")
async def dashboard_sign_out(request: Request) -> Response:
    return await _sign_out(request, ACCOUNT)


@router.get("/admin/sign-in")
async def admin_sign_in_form(request: Request) -> Response:
    return _form(request, OPERATOR)


@router.post("/admin/sign-in")
async def admin_sign_in(request: Request) -> Response:
    return await _sign_in_with_token(request, OPERATOR)


@router.post("/admin/sign-out")
async def admin_sign_out(request: Request) -> Response:
    return await _sign_out(request, OPERATOR)
