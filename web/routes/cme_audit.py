"""The CME access log and the audit report over HTTP and as an organiser's page
(art. 12 alin. (2) lit. a). Reading the log is itself logged.

Admins read the whole log; an organiser reads the entries of the programmes they organise,
filtered here on the server (``library.cme.rights``)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from config.settings import Settings
from library.cme import audit
from library.cme.audit_report import AuditReport, audit_report
from library.cme.organisers import organised_by
from library.cme.rights import ORGANISER_ROLES, may_organise, may_read_whole_log
from library.cme.store import ProgrammeInfo, get_programme, list_programmes
from library.db import Database
from library.i18n import current, gettext, lazy, shown
from web.auth import Principal, audit_actor, csrf_token, page_user
from web.cme_labels import labels
from web.deps import (
    DbDep,
    IdPath,
    IdQuery,
    Organiser,
    OrganiserOf,
    SettingsDep,
)
from web.templates import templates

router = APIRouter(tags=["cme audit"])


def _filter(
    programme_id: int | None, actor: str | None, action: str | None, target: str | None,
    since: date | None, until: date | None, limit: int,
) -> audit.Filter:
    known = {a.value for a in audit.Action}
    if action and action not in known:
        raise HTTPException(422, lazy("action '%(action)s' is unknown; one of %(known)s",
                                      "unknown_action", action=action,
                                      known=", ".join(sorted(known))))
    if since and until and until < since:
        raise HTTPException(422, lazy("'until' %(until)s is before 'since' %(since)s",
                                      "until_before_since", until=until, since=since))

    def moment(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, time(0), current().tzinfo)

    return audit.Filter(
        programme_id=programme_id, actor=actor or None, action=action or None,
        target=target or None, since=moment(since),
        until=moment(until + timedelta(days=1)) if until else None, limit=limit,
    )


def _own_part(db: Database, principal: Principal, where: audit.Filter) -> audit.Filter:
    """``where``, narrowed to the caller's programmes unless they may read the whole log."""
    if may_read_whole_log(principal):
        return where
    mine = organised_by(db, principal.user_id) if principal.user_id is not None else set()
    return dataclasses.replace(where, programme_ids=frozenset(mine))


def _read_log(db: Database, actor: audit.Actor, where: audit.Filter) -> list[audit.Entry]:
    found = audit.entries(db, where)
    audit.record(db, actor, audit.Action.AUDIT_VIEW, target=audit.Target.LOG, target_id="log",
                 programme_id=where.programme_id,
                 detail={"action": where.action, "actor": where.actor, "shown": len(found)})
    return found


def _report(settings: Settings, db: Database, info: ProgrammeInfo,
            actor: audit.Actor) -> AuditReport:
    report = audit_report(db, info, session_seconds=settings.token_ttl_seconds)
    audit.record(db, actor, audit.Action.AUDIT_VIEW, target=audit.Target.PROGRAMME,
                 target_id=info.id, programme_id=info.id,
                 detail={"report": True, "mismatches": len(report.mismatches)})
    return report


# The library's own frozen dataclasses are the API's schemas: FastAPI serializes them as they are.
@router.get("/api/cme/audit", response_model=list[audit.Entry],
            summary="The CME access log, newest first, filtered (organisers)")
async def read_log(
    request: Request, db: DbDep,
    principal: Organiser,
    programme_id: IdQuery = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_ENTRIES)] = 200,
) -> list[audit.Entry]:
    where = _filter(programme_id, actor, action, target, since, until, limit)
    where = await asyncio.to_thread(_own_part, db, principal, where)
    found = await asyncio.to_thread(
        _read_log, db, audit_actor(request, principal), where
    )
    return found


@router.get("/api/cme/programmes/{programme_id}/audit-report", response_model=AuditReport,
            summary="Mismatches between the access log and the attendance and test records")
async def read_report(request: Request, db: DbDep, settings: SettingsDep, programme_id: IdPath,
                      org: OrganiserOf) -> AuditReport:
    report = await asyncio.to_thread(
        _report, settings, db, org.info, audit_actor(request, org.principal)
    )
    return report


@router.get("/cme/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(
    request: Request, db: DbDep, settings: SettingsDep,
    programme_id: str = "",
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    user = page_user(request)
    if user.role not in ORGANISER_ROLES:
        return RedirectResponse("/cme", status_code=303)
    error = ""
    try:
        where = _filter(int(programme_id) if programme_id else None, actor, action, None,
                        date.fromisoformat(since) if since else None,
                        date.fromisoformat(until) if until else None, 300)
    except (ValueError, HTTPException) as exc:
        error = (shown(exc.detail) if isinstance(exc, HTTPException)
                 else gettext("bad filter: %(error)s", error=str(exc)))
        where = audit.Filter(limit=300)
    where = await asyncio.to_thread(_own_part, db, user, where)
    actor_ = audit_actor(request, user)
    found = await asyncio.to_thread(_read_log, db, actor_, where)
    report = None
    info = None
    if where.programme_id is not None:
        info = await asyncio.to_thread(get_programme, db, where.programme_id)
        if info is not None and may_organise(user, info):
            report = await asyncio.to_thread(_report, settings, db, info, actor_)
        else:
            info = None
    programmes = [p for p in await asyncio.to_thread(list_programmes, db)
                  if may_organise(user, p)]
    return templates.TemplateResponse(request, "cme_audit.html", {
        "user": user, "csrf": csrf_token(request), "entries": found, "report": report,
        "info": info, "programmes": programmes, "actions": [a.value for a in audit.Action],
        "form": {"programme_id": programme_id, "actor": actor, "action": action,
                 "since": since, "until": until},
        "error": error, "L": labels(),
    })
