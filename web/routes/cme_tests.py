"""CME final tests over HTTP: a programme's organisers edit its question bank, participants take the test.

A participant never receives a correct answer before their attempt is scored: the attempt
shows questions and options only, answers go back to the server, which scores them against
its own snapshot and deadline. Taking a test needs a logged-in account (art. 9 lit. b: secured,
personalised access); a script token's subject is nobody's account.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from library.cme import audit
from library.cme.quiz import Question, QuestionKind, QuizError
from library.cme.quiz_store import (
    AttemptNotFound,
    AttemptRefused,
    NotYourAttempt,
    all_attempts,
    get_attempt,
    question_bank,
    save_bank,
    start_attempt,
    submit_attempt,
)
from library.cme.rights import may_organise
from library.cme.store import ProgrammeInfo
from library.db import Database
from library.models import utcnow
from web.auth import Principal, Viewer, audit_actor, csrf_token, page_user
from web.cme_quiz_views import AttemptOut, TestInfoOut, attempt_out, test_info
from web.deps import (
    DbDep,
    IdPath,
    OrganiserOf,
    programme_or_404,
)
from web.templates import templates

router = APIRouter(tags=["cme tests"])


class QuestionIn(BaseModel):
    kind: QuestionKind
    text: str
    options: list[str]
    correct: list[int] = Field(..., description="indexes of the right options, from 0")


class BankIn(BaseModel):
    questions: list[QuestionIn]


class QuestionOut(QuestionIn):
    id: int


class BankOut(BaseModel):
    programme_id: int
    draws: int | None = Field(None, description="questions an attempt draws (the final test's)")
    questions: list[QuestionOut]


class AnswersIn(BaseModel):
    answers: dict[str, list[int]] = Field(
        ..., description="question id -> chosen option indexes, in the order the attempt showed"
    )


def _account(principal: Principal) -> None:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "the final test is taken from a logged-in account, not a script token"
                            " (art. 9 lit. b: personalised access)")


def _test_info(db: Database, info: ProgrammeInfo, person: str) -> TestInfoOut:
    found = test_info(db, info, person)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"programme {info.ref!r} has no final test")
    return found


def _quiz_error(exc: QuizError) -> HTTPException:
    # The message itself (a lazy one keeps its code and is shown in the request's language).
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, AttemptNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail)
    if isinstance(exc, NotYourAttempt):
        return HTTPException(status.HTTP_403_FORBIDDEN, detail)
    if isinstance(exc, AttemptRefused):
        return HTTPException(status.HTTP_409_CONFLICT, detail)
    return HTTPException(422, detail)


# -- organisers: the bank ------------------------------------------------------------------


def _bank_out(info: ProgrammeInfo, bank: list[Question]) -> BankOut:
    test = info.programme.final_test
    return BankOut(
        programme_id=info.id, draws=test.question_count if test else None,
        questions=[QuestionOut(id=q.id or 0, kind=q.kind, text=q.text, options=list(q.options),
                               correct=sorted(q.correct)) for q in bank],
    )


@router.get("/api/cme/programmes/{programme_id}/questions", response_model=BankOut,
            summary="The final test's question bank, with the correct answers (organisers)")
async def read_bank(request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf) -> BankOut:
    info = org.info
    bank = await asyncio.to_thread(question_bank, db, programme_id)
    await asyncio.to_thread(
        audit.record, db, audit_actor(request, org.principal), audit.Action.BANK_VIEW,
        target=audit.Target.TEST, target_id=programme_id, programme_id=programme_id,
    )
    return _bank_out(info, bank)


@router.put("/api/cme/programmes/{programme_id}/questions", response_model=BankOut,
            summary="Replace the question bank; past attempts keep the questions they drew")
async def write_bank(
    request: Request, db: DbDep, programme_id: IdPath, body: BankIn, org: OrganiserOf
) -> BankOut:
    info = org.info
    questions = []
    for number, q in enumerate(body.questions, 1):
        try:
            questions.append(Question(q.kind, q.text.strip(), tuple(o.strip() for o in q.options),
                                      frozenset(q.correct)))
        except QuizError as exc:
            raise HTTPException(422, f"question {number}: {exc}") from None
    try:
        bank = await asyncio.to_thread(
            save_bank, db, programme_id, questions,
            audit_actor(request, org.principal),
        )
    except QuizError as exc:
        raise _quiz_error(exc) from None
    return _bank_out(info, bank)


@router.get("/api/cme/programmes/{programme_id}/attempts", response_model=list[dict[str, Any]],
            summary="Every attempt at the final test and its score (organisers)")
async def list_attempts(
    request: Request, db: DbDep, programme_id: IdPath, org: OrganiserOf
) -> list[dict[str, Any]]:
    now = utcnow()
    attempts = await asyncio.to_thread(all_attempts, db, programme_id)
    return [
        {"person_id": a.person_id, **attempt_out(a, now).model_dump(exclude={"questions"})}
        for a in attempts
    ]


# -- participants: taking the test ---------------------------------------------------------


@router.get("/api/cme/programmes/{programme_id}/test", response_model=TestInfoOut,
            summary="The final test: when it is open, its rules, and my attempts")
async def read_test(request: Request, db: DbDep,
                    programme_id: IdPath, principal: Viewer) -> TestInfoOut:
    _account(principal)
    info = await programme_or_404(db, programme_id)
    return await asyncio.to_thread(_test_info, db, info, principal.subject)


@router.post("/api/cme/programmes/{programme_id}/test/attempts", response_model=AttemptOut,
             status_code=201, summary="Start an attempt (or get back the one still running)")
async def start(request: Request, db: DbDep, programme_id: IdPath, principal: Viewer) -> AttemptOut:
    _account(principal)
    await programme_or_404(db, programme_id)
    try:
        attempt = await asyncio.to_thread(
            start_attempt, db, programme_id, audit_actor(request, principal)
        )
    except QuizError as exc:
        raise _quiz_error(exc) from None
    return attempt_out(attempt, utcnow())


@router.get("/api/cme/attempts/{attempt_id}", response_model=AttemptOut,
            summary="One of my attempts: questions while it runs, the score once submitted")
async def read_attempt(request: Request, db: DbDep,
                       attempt_id: str, principal: Viewer) -> AttemptOut:
    _account(principal)
    try:
        attempt = await asyncio.to_thread(
            get_attempt, db, attempt_id, principal.subject
        )
    except QuizError as exc:
        raise _quiz_error(exc) from None
    return attempt_out(attempt, utcnow())


@router.post("/api/cme/attempts/{attempt_id}/answers", response_model=AttemptOut,
             summary="Submit my answers; scored on the server, refused after the time limit")
async def answer(
    request: Request, db: DbDep, attempt_id: str, body: AnswersIn, principal: Viewer
) -> AttemptOut:
    _account(principal)
    try:
        attempt = await asyncio.to_thread(
            submit_attempt, db, attempt_id, audit_actor(request, principal),
            body.answers,
        )
    except QuizError as exc:
        raise _quiz_error(exc) from None
    return attempt_out(attempt, utcnow())


# -- pages ---------------------------------------------------------------------------------


@router.get("/cme/programmes/{programme_id}/test", response_class=HTMLResponse,
            include_in_schema=False)
async def test_page(request: Request, db: DbDep, programme_id: IdPath) -> Response:
    user = page_user(request)
    info = await programme_or_404(db, programme_id)
    data = await asyncio.to_thread(_test_info, db, info, user.subject)
    return templates.TemplateResponse(request, "cme_test.html", {
        "user": user, "csrf": csrf_token(request), "info": info, "test": data,
    })


@router.get("/cme/programmes/{programme_id}/questions", response_class=HTMLResponse,
            include_in_schema=False)
async def bank_page(request: Request, db: DbDep, programme_id: IdPath) -> Response:
    user = page_user(request)
    info = await programme_or_404(db, programme_id)
    if not may_organise(user, info):  # the bank holds the answers: a participant takes the test
        return RedirectResponse(f"/cme/programmes/{programme_id}/test", status_code=303)
    return templates.TemplateResponse(request, "cme_bank.html", {
        "user": user, "csrf": csrf_token(request), "info": info,
        "test": info.programme.final_test,
    })
