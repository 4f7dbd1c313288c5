"""CME pages about people: a doctor's own page (profile, five-year score, certificates) and a
programme's participant list for its organisers (server-rendered from the API's functions)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.cme import audit
from library.cme.certificates import certificates_of_programme
from library.cme.participant_list import participant_list
from library.cme.participants import Grade
from library.cme.store import ProgrammeStatus
from library.cme.titles import TitleKind
from web.auth import csrf_token, page_user
from web.routes.cme import ORGANISER_ROLES, database, programme_or_404
from web.routes.cme_pages import KIND_LABELS
from web.routes.cme_participants import actor, list_out, may_handle_cnps, score, vault
from web.routes.cme_tests import tests_of
from web.templates import templates

router = APIRouter(include_in_schema=False)


@router.get("/cme/me", response_class=HTMLResponse)
async def doctor_page(request: Request) -> Response:
    user = page_user(request)
    data = await asyncio.to_thread(score, request, user)
    tests = await asyncio.to_thread(tests_of, database(request),
                                    [p.id for p in data.credits.programmes], user.subject)
    return templates.TemplateResponse(request, "cme_me.html", {
        "tests": tests,
        "user": user, "csrf": csrf_token(request), "is_organiser": user.role in ORGANISER_ROLES,
        "s": data, "kinds": {k.value: v for k, v in KIND_LABELS.items()},
        "grades": list(Grade), "title_kinds": list(TitleKind),
    })


@router.get("/cme/programmes/{programme_id}/participants", response_class=HTMLResponse)
async def participants_page(request: Request, programme_id: int) -> Response:
    user = page_user(request)
    if user.role not in ORGANISER_ROLES:
        return RedirectResponse("/cme/me", status_code=303)
    info = await programme_or_404(request, programme_id)
    db = database(request)
    plist = await asyncio.to_thread(participant_list, db, vault(request), info)
    certs = await asyncio.to_thread(certificates_of_programme, db, programme_id)
    await asyncio.to_thread(
        audit.record, db, actor(user, request), audit.Action.LIST_VIEW,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
        detail={"page": True},
    )
    return templates.TemplateResponse(request, "cme_participants.html", {
        "user": user, "csrf": csrf_token(request), "info": info,
        "plist": list_out(plist, may_handle_cnps(user, info)),
        "certs": {c.person_id: c for c in certs}, "kinds": KIND_LABELS,
        "submitted": info.status is ProgrammeStatus.SUBMITTED,
    })
