"""CME pages: the programme list, a programme with its check, credits and attendance, and a
doctor's own credits (server-rendered; the numbers come from the same functions as the API)."""


from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from library.attendance import list_live_sessions
from library.cme import (
    ItemKind,
    Level,
    Severity,
    audit,
    check_programme,
    creditable_hours,
    programme_credits,
)
from library.cme.codec import programme_to_json
from library.cme.programme import OrganiserKind
from library.cme.quiz_store import bank_size
from library.cme.rights import (
    ORGANISER_ROLES,
    may_create_programme,
    may_link_live_session,
    may_organise,
)
from library.cme.store import (
    ProgrammeInfo,
    list_programmes,
    live_session_titles,
)
from library.db import Database
from library.i18n import shown
from web.auth import Principal, audit_actor, csrf_token, page_user
from web.cme_labels import labels
from web.cme_views import KIND_LABELS, attendance_out, doctor_page, findings_out
from web.deps import (
    DbDep,
    IdPath,
    VaultDep,
    log_programme_action,
    must_organise,
    programme_or_404,
)
from web.templates import templates

router = APIRouter(include_in_schema=False)


# -- pages ---------------------------------------------------------------------------------


def _context(request: Request, user: Principal, **extra: object) -> dict[str, object]:
    return {"user": user, "csrf": csrf_token(request),
            "is_organiser": user.role in ORGANISER_ROLES, **extra}


@dataclass(frozen=True)
class ListRow:
    info: ProgrammeInfo
    credits: int
    errors: int
    warnings: int
    mine: bool
    """The viewer organises it: a link into it, and an edit button while it is a draft."""


def _list_rows(db: Database, user: Principal) -> list[ListRow]:
    rows = []
    for info in list_programmes(db):
        found = check_programme(info.programme)
        rows.append(ListRow(
            info, programme_credits(info.programme).credits,
            sum(f.severity is Severity.ERROR for f in found),
            sum(f.severity is Severity.WARNING for f in found),
            may_organise(user, info),
        ))
    return rows


@router.get("/cme", response_class=HTMLResponse, include_in_schema=False)
async def cme_page(request: Request, db: DbDep, vault: VaultDep) -> Response:
    user = page_user(request)
    if user.role not in ORGANISER_ROLES:
        # A doctor's own page: profile, five-year score, certificates (also at /cme/me).
        return await asyncio.to_thread(doctor_page, request, user, db, vault)
    rows = await asyncio.to_thread(_list_rows, db, user)
    return templates.TemplateResponse(
        request, "cme_list.html", _context(request, user, rows=rows, L=labels())
    )


def _programme_page_data(db: Database, info: ProgrammeInfo) -> dict[str, object]:
    programme = info.programme
    days: dict[date, list[Any]] = {}
    for item in sorted(programme.agenda, key=lambda i: (i.day, i.start, i.track)):
        days.setdefault(item.day, []).append(item)
    return {
        "info": info, "programme": programme, "days": days,
        "check": findings_out(info.id, check_programme(
            programme, bank_size=bank_size(db, info.id))),
        "result": programme_credits(programme),
        "hours": creditable_hours(programme),
        "attendance": attendance_out(db, info),
        "titles": live_session_titles(db, info.live_session_ids),
        "L": labels(),
    }


@router.get("/cme/programmes/{programme_id}", response_class=HTMLResponse,
            include_in_schema=False)
async def programme_page(request: Request, db: DbDep, programme_id: IdPath) -> Response:
    user = page_user(request)
    if user.role not in ORGANISER_ROLES:
        return RedirectResponse("/cme", status_code=303)
    info = await programme_or_404(db, programme_id)
    must_organise(user, info)
    data = await asyncio.to_thread(_programme_page_data, db, info)
    await log_programme_action(db, audit_actor(request, user), audit.Action.ATTENDANCE_VIEW, info,
                               page=True)
    return templates.TemplateResponse(
        request, "cme_programme.html", _context(request, user, **data)
    )



def _editor_data(db: Database, user: Principal, info: ProgrammeInfo | None) -> dict[str, object]:
    # Only the live sessions the person may link, and those the programme already has.
    linked = set(info.live_session_ids) if info else set()
    sessions = [s for s in list_live_sessions(db)
                if s.id in linked or may_link_live_session(user, s.started_by)][:100]
    return {
        "id": info.id if info else None,
        "organiser_usernames": list(info.organiser_usernames) if info else [],
        "programme": programme_to_json(info.programme) if info else None,
        "timezone": info.timezone if info else "Europe/Bucharest",
        "drop_tolerance_seconds": info.drop_tolerance_seconds if info else 0,
        "live_sessions": [{"id": s.id, "title": s.title, "room": s.room_id,
                           "started_at": s.started_at.isoformat()} for s in sessions],
        "item_kinds": [k.value for k in ItemKind],
        "organiser_kinds": [k.value for k in OrganiserKind],
        "levels": [lv.value for lv in Level],
        "labels": labels(),
    }


async def _editor(request: Request, db: Database, programme_id: int | None) -> Response:
    user = page_user(request)
    if not may_create_programme(user):
        return RedirectResponse("/cme", status_code=303)
    info = await programme_or_404(db, programme_id) if programme_id is not None else None
    if info is not None:
        must_organise(user, info)
    if info is not None and info.status.value != "draft":
        return RedirectResponse(f"/cme/programmes/{info.id}", status_code=303)
    editor = await asyncio.to_thread(_editor_data, db, user, info)
    return templates.TemplateResponse(request, "cme_edit.html", _context(
        request, user, info=info, editor=editor,
        kinds=[(k.value, shown(label)) for k, label in KIND_LABELS.items()], L=labels(),
        levels=[lv.value for lv in Level],
    ))


@router.get("/cme/new", response_class=HTMLResponse, include_in_schema=False)
async def new_programme_page(request: Request, db: DbDep) -> Response:
    return await _editor(request, db, None)


@router.get("/cme/programmes/{programme_id}/edit", response_class=HTMLResponse,
            include_in_schema=False)
async def edit_programme_page(request: Request, db: DbDep, programme_id: IdPath) -> Response:
    return await _editor(request, db, programme_id)
