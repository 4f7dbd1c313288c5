"""Final tests in the database: a programme's question bank and its participants' attempts.

Every rule that protects a result is enforced here, on the server, whatever a page sends: the
test opens on the programme's first day and closes at the end of its last (in the programme's
time zone) and only for a submitted programme; an attempt has a deadline kept in the database;
at most two attempts (art. 10 lit. e) and none after a pass; answers only for the drawn
questions of one's own attempt. Each start and submit is written to the access log in the same
transaction as the attempt (art. 12 alin. (2) lit. a), refusals in one of their own.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from library.cme import audit
from library.cme.attendance import AttendeeRecord, TestAttempt, test_outcome
from library.cme.codec import programme_from_json
from library.cme.programme import Programme
from library.cme.quiz import (
    DrawnQuestion,
    Question,
    QuestionKind,
    QuizError,
    accepts_answers,
    allowed_attempts,
    draw,
    read_answers,
    score,
)
from library.cme_models import CmeProgramme, CmeQuestion, CmeTestAttempt
from library.db import Database
from library.i18n import formats, lazy
from library.models import utcnow

MAX_BANK = 500
SUBMITTED = "submitted"  # store.ProgrammeStatus.SUBMITTED; store imports this module


class AttemptRefused(QuizError):
    """The procedure or the test's rules forbid this (a third attempt, answers too late)."""


class AttemptNotFound(QuizError):
    pass


class NotYourAttempt(QuizError):
    pass


@dataclass(frozen=True)
class Attempt:
    id: str
    programme_id: int
    person_id: str
    number: int
    allowed: int
    started_at: datetime
    deadline_at: datetime
    questions: tuple[DrawnQuestion, ...]
    submitted_at: datetime | None
    correct: int | None
    total: int
    pass_ratio: Fraction

    @property
    def finished(self) -> bool:
        return self.submitted_at is not None

    def expired(self, now: datetime) -> bool:
        return not self.finished and not accepts_answers(self.deadline_at, now)

    def state(self, now: datetime) -> str:
        """``submitted``, ``expired`` (time ran out unsubmitted: scored 0) or ``running``."""
        return "submitted" if self.finished else "expired" if self.expired(now) else "running"

    @property
    def passed(self) -> bool:
        return self.correct is not None and Fraction(self.correct, self.total) >= self.pass_ratio

    def as_engine(self, now: datetime) -> TestAttempt | None:
        """What the credit engine counts: a scored attempt, or an expired one as 0 correct."""
        if self.correct is not None:
            return TestAttempt(self.correct, self.total)
        if self.expired(now):
            return TestAttempt(0, self.total)
        return None


# -- the bank ------------------------------------------------------------------------------


def _question(row: CmeQuestion) -> Question:
    return Question(QuestionKind(row.kind), row.text, tuple(row.options),
                    frozenset(row.correct), id=row.id)


def question_bank(db: Database, programme_id: int) -> list[Question]:
    with db.session() as session:
        return _bank(session, programme_id)


def _bank(session: Session, programme_id: int) -> list[Question]:
    rows = session.scalars(
        select(CmeQuestion).where(CmeQuestion.programme_id == programme_id)
        .order_by(CmeQuestion.position, CmeQuestion.id)
    )
    return [_question(row) for row in rows]


def bank_size(db: Database, programme_id: int) -> int:
    with db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(CmeQuestion)
            .where(CmeQuestion.programme_id == programme_id)
        )
        return int(count or 0)


def _programme_row(session: Session, programme_id: int) -> CmeProgramme:
    row = session.get(CmeProgramme, programme_id)
    if row is None:
        raise AttemptNotFound(f"no CME programme {programme_id}")
    return row


def save_bank(
    db: Database, programme_id: int, questions: Sequence[Question], actor: audit.Actor
) -> list[Question]:
    """Replace the programme's bank. Attempts keep their own snapshot, so results stand."""
    if len(questions) > MAX_BANK:
        raise QuizError(f"{len(questions)} questions; a bank holds at most {MAX_BANK}")
    with db.session() as session:
        _programme_row(session, programme_id)
        session.execute(delete(CmeQuestion).where(CmeQuestion.programme_id == programme_id))
        now = utcnow()
        session.add_all(
            CmeQuestion(programme_id=programme_id, position=n, kind=q.kind.value, text=q.text,
                        options=list(q.options), correct=sorted(q.correct), updated_at=now)
            for n, q in enumerate(questions)
        )
        audit.add(session, actor, audit.Action.BANK_EDIT, target=audit.Target.TEST,
                  target_id=programme_id, programme_id=programme_id,
                  detail={"questions": len(questions)})
        session.flush()
        return _bank(session, programme_id)


# -- attempts ------------------------------------------------------------------------------


def test_window(programme: Programme, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the first day's 00:00 to the end of the last day, local time, as UTC."""
    opens = datetime.combine(programme.starts_on, time(0), zone).astimezone(UTC)
    closes = datetime.combine(programme.ends_on + timedelta(days=1), time(0), zone)
    return opens, closes.astimezone(UTC)


def pass_ratio(programme: Programme) -> Fraction:
    """The share of right answers that passes the programme's final test (as the engine
    counts it: a distance programme's never below the minimum, art. 10 lit. e)."""
    return test_outcome(programme, AttendeeRecord("-")).pass_ratio


def _attempt(row: CmeTestAttempt, programme: Programme) -> Attempt:
    test = programme.final_test
    return Attempt(
        id=row.id, programme_id=row.programme_id, person_id=row.person_id, number=row.number,
        allowed=allowed_attempts(test.max_attempts if test else 0),
        started_at=row.started_at, deadline_at=row.deadline_at,
        questions=tuple(DrawnQuestion.from_json(q) for q in row.drawn),
        submitted_at=row.submitted_at, correct=row.correct, total=row.total,
        pass_ratio=pass_ratio(programme),
    )


def _mine(session: Session, programme_id: int, person_id: str) -> list[CmeTestAttempt]:
    return list(session.scalars(
        select(CmeTestAttempt)
        .where(CmeTestAttempt.programme_id == programme_id, CmeTestAttempt.person_id == person_id)
        .order_by(CmeTestAttempt.number)
    ))


def attempts_of(db: Database, programme_id: int, person_id: str) -> list[Attempt]:
    with db.session() as session:
        row = _programme_row(session, programme_id)
        programme = programme_from_json(row.programme)
        return [_attempt(a, programme) for a in _mine(session, programme_id, person_id)]


def _refuse(
    db: Database, actor: audit.Actor, programme_id: int, target_id: str, reason: str
) -> AttemptRefused:
    audit.record(db, actor, audit.Action.TEST_REFUSED, target=audit.Target.TEST,
                 target_id=target_id, programme_id=programme_id, detail={"reason": reason})
    return AttemptRefused(reason)


def start_attempt(
    db: Database,
    programme_id: int,
    actor: audit.Actor,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Attempt:
    """Start the next attempt of ``actor.subject``, or hand back the one still running."""
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    person = actor.subject
    refusal: str | None = None
    with db.session() as session:
        row = _programme_row(session, programme_id)
        programme = programme_from_json(row.programme)
        test = programme.final_test
        mine = [_attempt(a, programme) for a in _mine(session, programme_id, person)]
        running = next((a for a in mine if not a.finished and not a.expired(now)), None)
        opens, closes = test_window(programme, ZoneInfo(row.timezone))
        if running is not None:
            return running
        if test is None:
            refusal = lazy("programme '%(ref)s' has no final test", "no_final_test", ref=row.ref)
        elif row.status != SUBMITTED:
            refusal = lazy("programme '%(ref)s' is still a draft: its test opens once the"
                           " organiser submits it", "programme_is_draft", ref=row.ref)
        elif not opens <= now < closes:
            refusal = lazy("the test of '%(ref)s' is open from %(opens)s to %(closes)s; it is not"
                           " open now", "test_not_open", ref=row.ref,
                           opens=formats.format_datetime(opens, with_zone=True),
                           closes=formats.format_datetime(closes, with_zone=True))
        elif any(a.passed for a in mine):
            refusal = lazy("you have already passed this test; there is nothing to retake",
                           "test_already_passed")
        elif len(mine) >= allowed_attempts(test.max_attempts):
            refusal = lazy("you have used every attempt: the test allows at most %(allowed)s"
                           " (art. 10 lit. e)", "no_attempt_left",
                           allowed=allowed_attempts(test.max_attempts))
        if refusal is None:
            assert test is not None
            drawn = draw(_bank(session, programme_id), test.question_count, rng)
            attempt = CmeTestAttempt(
                id=secrets.token_hex(16), programme_id=programme_id, person_id=person,
                user_id=actor.user_id, number=len(mine) + 1, started_at=now,
                deadline_at=now + timedelta(minutes=test.time_limit_minutes),
                drawn=[q.to_json() for q in drawn], total=len(drawn),
            )
            session.add(attempt)
            audit.add(session, actor, audit.Action.TEST_START, target=audit.Target.ATTEMPT,
                      target_id=attempt.id, programme_id=programme_id, at=now,
                      detail={"number": attempt.number, "questions": len(drawn)})
            try:
                session.flush()
            except IntegrityError:
                # Two starts at once: the unique (programme, person, number) let one through.
                raise AttemptRefused("another attempt was started at the same moment") from None
            return _attempt(attempt, programme)
    raise _refuse(db, actor, programme_id, str(programme_id), refusal)


def _owned(session: Session, attempt_id: str, person: str) -> CmeTestAttempt:
    row = session.get(CmeTestAttempt, attempt_id) if len(attempt_id) <= 32 else None
    if row is None:
        raise AttemptNotFound(f"no test attempt {attempt_id!r}; start one from the test page")
    if row.person_id != person:
        raise NotYourAttempt(f"test attempt {attempt_id!r} belongs to someone else")
    return row


def get_attempt(db: Database, attempt_id: str, person: str) -> Attempt:
    with db.session() as session:
        row = _owned(session, attempt_id, person)
        programme = programme_from_json(_programme_row(session, row.programme_id).programme)
        return _attempt(row, programme)


def submit_attempt(
    db: Database,
    attempt_id: str,
    actor: audit.Actor,
    answers: Mapping[str, Sequence[int]],
    *,
    now: datetime | None = None,
) -> Attempt:
    """Score the answers on the server; refused once submitted or after the time limit."""
    now = now or utcnow()
    refusal: str | None = None
    with db.session() as session:
        row = _owned(session, attempt_id, actor.subject)
        programme = programme_from_json(_programme_row(session, row.programme_id).programme)
        attempt = _attempt(row, programme)
        if attempt.finished:
            refusal = lazy("attempt %(number)s was already submitted at %(time)s",
                           "already_submitted", number=attempt.number,
                           time=formats.format_time(row.submitted_at or now, "medium",
                                                    with_zone=True))
        elif not accepts_answers(row.deadline_at, now):
            late = int((now - row.deadline_at).total_seconds())
            refusal = lazy("time is up: the attempt ended at %(time)s and the answers came"
                           " %(late)s later; they are not counted and the attempt scores 0",
                           "time_is_up", late=formats.format_duration(late),
                           time=formats.format_time(row.deadline_at, "medium", with_zone=True))
        else:
            sheet = read_answers(attempt.questions, answers)
            result = score(attempt.questions, sheet)
            row.answers = {str(k): sorted(v) for k, v in sheet.items()}
            row.correct = result.correct
            row.submitted_at = now
            audit.add(session, actor, audit.Action.TEST_SUBMIT, target=audit.Target.ATTEMPT,
                      target_id=row.id, programme_id=row.programme_id, at=now,
                      detail={"number": row.number, "correct": result.correct,
                              "total": result.total})
            session.flush()
            return _attempt(row, programme)
        programme_id = row.programme_id
    raise _refuse(db, actor, programme_id, attempt_id, refusal)


# -- for the credit engine and the audit report --------------------------------------------


def attempts_by_person(
    db: Database, programme_id: int, *, now: datetime | None = None
) -> dict[str, tuple[TestAttempt, ...]]:
    """Each person's counted attempts in order, as the credit engine takes them."""
    now = now or utcnow()
    result: dict[str, list[TestAttempt]] = defaultdict(list)
    for attempt in all_attempts(db, programme_id):
        counted = attempt.as_engine(now)
        if counted is not None:
            result[attempt.person_id].append(counted)
    return {person: tuple(items) for person, items in result.items()}


def all_attempts(db: Database, programme_id: int) -> list[Attempt]:
    with db.session() as session:
        row = session.get(CmeProgramme, programme_id)
        if row is None:
            return []
        programme = programme_from_json(row.programme)
        rows = session.scalars(
            select(CmeTestAttempt).where(CmeTestAttempt.programme_id == programme_id)
            .order_by(CmeTestAttempt.person_id, CmeTestAttempt.number)
        )
        return [_attempt(a, programme) for a in rows]


def programmes_tested_by(db: Database, person_id: str) -> set[int]:
    with db.session() as session:
        return set(session.scalars(
            select(CmeTestAttempt.programme_id).where(CmeTestAttempt.person_id == person_id)
        ))
