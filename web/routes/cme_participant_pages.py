"""CME pages about people: a doctor's own page (profile, five-year score, certificates) and a
programme's participant list for its organisers (server-rendered from the API's functions)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.cme import audit
from library.cme.certificates import certificates_of_programme
from library.cme.participant_list import participant_list
from library.cme.rights import ORGANISER_ROLES
from library.cme.store import ProgrammeStatus
from web.auth import audit_actor, csrf_token, page_user
from web.cme_labels import labels
from web.cme_views import doctor_page, list_out
from web.deps import (
    DbDep,
    IdPath,
    VaultDep,
    must_organise,
    programme_or_404,
)
from web.templates import templates

router = APIRouter(include_in_schema=False)


@router.get("/cme/me", response_class=HTMLResponse)
async def my_page(request: Request, db: DbDep, vault: VaultDep) -> Response:
    user = page_user(request)
    return await asyncio.to_thread(doctor_page, request, user, db, vault)


@router.get("/cme/programmes/{programme_id}/participants", response_class=HTMLResponse)
async def participants_page(request: Request, db: DbDep, vault: VaultDep,
                            programme_id: IdPath) -> Response:
    user = page_user(request)
    if user.role not in ORGANISER_ROLES:
        return RedirectResponse("/cme/me", status_code=303)
    info = await programme_or_404(db, programme_id)
    must_organise(user, info)
    plist = await asyncio.to_thread(participant_list, db, vault, info)
    certs = await asyncio.to_thread(certificates_of_programme, db, programme_id)
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, user), audit.Action.LIST_VIEW,
        target=audit.Target.LIST, target_id=programme_id, programme_id=programme_id,
        detail={"page": True},
    )
    return templates.TemplateResponse(request, "cme_participants.html", {
        "user": user, "csrf": csrf_token(request), "info": info,
        "plist": list_out(plist, True),
        "certs": {c.person_id: c for c in certs}, "L": labels(),
        "submitted": info.status is ProgrammeStatus.SUBMITTED,
    })
