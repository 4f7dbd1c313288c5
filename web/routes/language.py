"""The language switcher, the account's language and time zone, and the page scripts' catalog.

- ``POST /settings/language``: the header's switcher. Logged in, it is the account's setting
  (followed on every device); either way a cookie remembers it on this browser.
- ``GET/POST /account``: language and time zone of the account ("the browser's" for either).
- ``GET /i18n/{locale}.js``: the translations the page scripts use, as one script that must
  load before them; its URL carries the catalogs' version, so it is cached for good.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.i18n import LOCALES, known_locale, known_zone, lazy, use
from library.i18n.catalogs import catalog_version, plural_tags, script_messages
from library.i18n.extraction import script_messages as scripts_found
from library.users import UserError, set_preferences
from web.auth import Principal, check_csrf, csrf_token, page_user, session_principal
from web.deps import DbDep, local_path
from web.i18n import LANG_COOKIE
from web.templates import templates

router = APIRouter(tags=["language"])
COOKIE_MAX_AGE = 365 * 24 * 3600
# Zones people in these rooms live in first, then every other one the machine knows.
NEAR_ZONES = ("Europe/Bucharest", "Europe/Belgrade", "Europe/Sofia", "Europe/Chisinau",
              "Europe/Budapest", "Europe/Athens", "Europe/Istanbul", "Europe/Vienna",
              "Europe/Berlin", "Europe/London", "UTC")



def _remember(response: Response, request: Request, locale: str) -> None:
    response.set_cookie(LANG_COOKIE, locale, max_age=COOKIE_MAX_AGE, path="/", samesite="lax",
                        secure=request.url.scheme == "https")


@router.post("/settings/language", include_in_schema=False)
async def choose_language(
    request: Request, db: DbDep, locale: Annotated[str, Form(max_length=16)],
    csrf: Annotated[str, Form(max_length=128)], next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(request, csrf)
    chosen = known_locale(locale)
    if chosen is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            lazy("unknown language %(value)s", "unknown_language", value=locale))
    principal = session_principal(request)
    if principal is not None and principal.user_id is not None:
        record = request.scope["medroom.session"].record
        await asyncio.to_thread(set_preferences, db, principal.user_id, locale=chosen,
                                time_zone=record.time_zone if record else None)
    response = RedirectResponse(local_path(next), status_code=303)
    _remember(response, request, chosen)
    return response


@functools.cache
def zone_choices() -> list[str]:
    rest = sorted(z for z in available_timezones()
                  if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))
    return list(NEAR_ZONES) + [z for z in rest if z not in NEAR_ZONES]


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
async def account_page(request: Request,
                       user: Annotated[Principal, Depends(page_user)]) -> Response:
    record = request.scope["medroom.session"].record
    return templates.TemplateResponse(request, "account.html", {
        "user": user, "csrf": csrf_token(request), "saved": request.query_params.get("saved"),
        "account_locale": record.locale if record else None,
        "account_zone": record.time_zone if record else None, "zones": zone_choices(),
    })


@router.post("/account", include_in_schema=False)
async def save_account(
    request: Request, db: DbDep, user: Annotated[Principal, Depends(page_user)],
    csrf: Annotated[str, Form(max_length=128)],
    locale: Annotated[str, Form(max_length=16)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf)
    if locale and known_locale(locale) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            lazy("unknown language %(value)s", "unknown_language", value=locale))
    if time_zone and known_zone(time_zone) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            lazy("unknown time zone %(value)s", "unknown_time_zone",
                                 value=time_zone))
    try:
        await asyncio.to_thread(set_preferences, db, int(user.user_id or 0),
                                locale=locale or None, time_zone=time_zone or None)
    except UserError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    response = RedirectResponse("/account?saved=1", status_code=303)
    if locale:
        _remember(response, request, known_locale(locale) or locale)
    else:
        response.delete_cookie(LANG_COOKIE, path="/")
    return response


@functools.cache
def _script_msgids() -> frozenset[str]:
    return frozenset(found.key for found in scripts_found())


@router.get("/i18n/{locale}.js", include_in_schema=False)
async def script_catalog(locale: str, v: str | None = None) -> Response:
    chosen = known_locale(locale)
    if chosen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            lazy("unknown language %(value)s", "unknown_language", value=locale))
    with use(chosen):
        payload = {
            "locale": chosen, "tag": LOCALES[chosen], "plural": plural_tags(chosen),
            "messages": script_messages(chosen, _script_msgids()),
        }
    body = "window.MEDROOM_I18N = " + json.dumps(payload, ensure_ascii=False) + ";\n"
    cache = ("public, max-age=31536000, immutable" if v == catalog_version() else "no-cache")
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": cache})

