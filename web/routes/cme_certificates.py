"""Certificates (art. 26): issuing them, downloading them, and the public verification page.

A programme's organisers (``library.cme.rights``) issue its certificates (``POST .../certificates``), to the participants the
credit engine qualifies, and revoke one issued in error (``POST /api/cme/certificates/{n}/revoke``,
with the reason kept in the audit log). A certificate's PDF goes to its holder, its programme's organisers and admins. ``/verify/{n}``
is public on purpose: whoever holds a certificate (a hospital, the College) opens it from the QR
code without an account; it shows the holder's initials only, and an unknown number is a 404.
"""

from __future__ import annotations

import asyncio
from datetime import date

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from config.settings import Settings
from library.cme import audit
from library.cme.certificate_pdf import certificate_pdf
from library.cme.certificates import (
    Certificate,
    CertificateError,
    CertificateNotFound,
    certificates_of_programme,
    get_certificate,
    issue_certificates,
    revoke_certificate,
    verification,
)
from library.cme.rights import may_organise, may_see_certificate
from library.cme.store import ProgrammeInfo
from library.db import Database
from library.i18n import known_locale, lazy
from web.auth import Principal, Viewer, audit_actor
from web.cme_views import CertificateOut, certificate_out
from web.deps import (
    DbDep,
    IdPath,
    Organiser,
    OrganiserOf,
    SettingsDep,
    StateDep,
    VaultDep,
    programme_or_404,
)
from web.templates import templates

router = APIRouter(tags=["cme certificates"])


class SkippedOut(BaseModel):
    person_id: str
    name: str
    reason: str


class IssueOut(BaseModel):
    programme_id: int
    issued: list[CertificateOut]
    already_issued: list[CertificateOut]
    skipped: list[SkippedOut]


def verify_url(request: Request, settings: Settings, number: str) -> str:
    """Where the QR code points: MEDROOM_PUBLIC_URL, or the address this request came to."""
    base = settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/verify/{number}"


@router.post("/api/cme/programmes/{programme_id}/certificates", response_model=IssueOut,
             summary="Issue certificates to every qualifying participant (art. 26)")
async def issue(request: Request, db: DbDep, vault: VaultDep,
                programme_id: IdPath, org: OrganiserOf) -> IssueOut:
    principal = org.principal
    try:
        report = await asyncio.to_thread(
            issue_certificates, db, vault, org.info, issued_by=principal.user_id
        )
    except CertificateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.args[0]) from None
    for cert in report.issued:
        await asyncio.to_thread(
            audit.record, db, audit_actor(request, principal), audit.Action.CERTIFICATE_ISSUE,
            target=audit.Target.CERTIFICATE, target_id=cert.number, programme_id=programme_id,
            detail={"person_id": cert.person_id, "credits": cert.credits},
        )
    return IssueOut(
        programme_id=programme_id,
        issued=[certificate_out(c) for c in report.issued],
        already_issued=[certificate_out(c) for c in report.already],
        skipped=[SkippedOut(person_id=s.person_id, name=s.name, reason=s.reason)
                 for s in report.skipped],
    )


class RevokeIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500,
                        description="why the certificate no longer stands (kept in the audit log)")


@router.post("/api/cme/certificates/{number}/revoke", response_model=CertificateOut,
             summary="Revoke a certificate issued in error; its verification page says so")
async def revoke(request: Request, db: DbDep, number: str, body: RevokeIn,
                 principal: Organiser) -> CertificateOut:
    found, info = await _certificate_for(db, principal, number)
    if not may_organise(principal, info):
        raise HTTPException(status.HTTP_403_FORBIDDEN, lazy(
            "certificate %(number)s is of programme '%(ref)s': only its organisers and admins"
            " revoke it", "not_your_programme", number=found.number, ref=info.ref))
    try:
        cert = await asyncio.to_thread(revoke_certificate, db, number)
    except CertificateNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.args[0]) from None
    except CertificateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.args[0]) from None
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, principal), audit.Action.CERTIFICATE_REVOKE,
        target=audit.Target.CERTIFICATE, target_id=cert.number, programme_id=cert.programme_id,
        detail={"person_id": cert.person_id, "reason": body.reason},
    )
    return certificate_out(cert)


@router.get("/api/cme/programmes/{programme_id}/certificates",
            response_model=list[CertificateOut], summary="A programme's certificates")
async def programme_certificates(request: Request, db: DbDep, programme_id: IdPath,
                                 org: OrganiserOf) -> list[CertificateOut]:
    certs = await asyncio.to_thread(certificates_of_programme, db, programme_id)
    return [certificate_out(c) for c in certs]


@router.get("/api/cme/certificates/{number}.pdf", summary="A certificate as PDF (its holder or"
            " an organiser)")
async def certificate_file(request: Request, db: DbDep, settings: SettingsDep, number: str,
                           principal: Viewer, also: str | None = None) -> Response:
    """In Romanian, as the College requires; ``?also=bg`` (sr_Cyrl, sr_Latn, en...) adds each
    line in the holder's language under the Romanian one (the holder's choice when
    downloading: the same certificate may be needed in Romanian alone for the College and
    bilingual for an employer across the border)."""
    if also is not None and known_locale(also) is None:
        raise HTTPException(422, lazy("unknown language %(value)s", "unknown_language",
                                      value=also))
    cert, _ = await _certificate_for(db, principal, number)
    url = verify_url(request, settings, cert.number)
    body = await asyncio.to_thread(certificate_pdf, cert, url, known_locale(also))
    return Response(
        body, media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificat-{cert.number}.pdf"',
                 "Cache-Control": "private, no-store"},
    )


def _not_yours(number: str) -> HTTPException:
    # The same answer for "no such number" and "not yours": numbers are not a way to probe.
    return HTTPException(status.HTTP_404_NOT_FOUND, lazy(
        "no certificate %(number)s of yours", "certificate_not_found", number=number))


async def _certificate_for(
    db: Database, principal: Principal, number: str
) -> tuple[Certificate, ProgrammeInfo]:
    """The certificate and its programme, or the 404 of a number that is not the caller's."""
    cert = await asyncio.to_thread(get_certificate, db, number)
    if cert is None:
        raise _not_yours(number)
    info = await programme_or_404(db, cert.programme_id)
    if not may_see_certificate(principal, cert.user_id, info):
        raise _not_yours(number)
    return cert, info


@router.get("/verify/{number}", response_class=HTMLResponse, include_in_schema=False)
async def verify_page(request: Request, state: StateDep, number: str) -> Response:
    """Public: confirms a certificate from its number, without personal data.

    Numbers run in sequence, so each client address may look up only so many a minute: a
    person checking certificates never notices, a script walking the numbers gets 429."""
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    context: dict[str, object] = {"user": None, "csrf": "", "number": number, "found": None,
                                  "today": date.today(), "retry_after": 0}
    address = request.client.host if request.client else "unknown"
    wait = state.verify_limits.take(address)
    if wait:
        context["retry_after"] = wait
        return templates.TemplateResponse(
            request, "cme_verify.html", context, status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={**headers, "Retry-After": str(wait)},
        )
    found = await asyncio.to_thread(verification, state.db, number)
    context["found"] = found
    return templates.TemplateResponse(
        request, "cme_verify.html", context,
        status_code=status.HTTP_200_OK if found else status.HTTP_404_NOT_FOUND, headers=headers,
    )
