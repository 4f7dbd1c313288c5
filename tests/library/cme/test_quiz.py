"""The final test (art. 9, 10 lit. c and e, 26 alin. (2)): banks, shuffled draws, server-side
scoring, the deadline, two attempts, and the result feeding the credits. The store tests run
on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from library.cme import FinalTest, ProgrammeKind, attendee_credits, check_programme
from library.cme.audit import Actor, Filter, entries
from library.cme.programme import DistanceMaterial, Level, Organiser, OrganiserKind, Programme
from library.cme.quiz import (
    Question,
    QuestionKind,
    QuizError,
    draw,
    read_answers,
    score,
)
from library.cme.quiz_store import (
    AttemptNotFound,
    AttemptRefused,
    NotYourAttempt,
    save_bank,
    start_attempt,
    submit_attempt,
)
from library.cme.rights import SYSTEM
from library.cme.store import create_programme, get_programme, presence_for, submit_programme
from library.db import Database

ZONE = ZoneInfo("Europe/Bucharest")
DAY = date(2026, 3, 2)
NOON = datetime.combine(DAY, time(12), ZONE).astimezone(UTC)
ORGANISER = Actor("dr-ana", "instructor", 1)
STAN = Actor("dr.stan", "student", 2)
VLAD = Actor("dr.vlad", "student", 3)


def single(n: int) -> Question:
    return Question(QuestionKind.SINGLE, f"Q{n}?", (f"no {n}", f"yes {n}", f"never {n}"),
                    frozenset({1}))


def multiple(n: int) -> Question:
    return Question(QuestionKind.MULTIPLE, f"M{n}?", (f"true {n}", f"false {n}", f"true too {n}"),
                    frozenset({0, 2}))


BANK = [multiple(n) if n % 3 == 0 else single(n) for n in range(1, 13)]


def online(question_count: int = 10, hours: str = "6", **test: int) -> Programme:
    return Programme(
        ref="EMCD-1", title="Rhinology online", kind=ProgrammeKind.DISTANCE_ONLINE,
        level=Level.NATIONAL, starts_on=DAY, ends_on=DAY + timedelta(days=1),
        organisers=(Organiser("UMF Iasi", OrganiserKind.UNIVERSITY),),
        learning_hours=Fraction(hours), material=DistanceMaterial(36, 2500),
        final_test=FinalTest(question_count, **test), request_filed_on=DAY - timedelta(days=90),
    )


# -- the domain ----------------------------------------------------------------------------


def test_art_10e_malformed_questions_are_refused() -> None:
    cases = [
        (QuestionKind.SINGLE, ("a", "b"), {0, 1}, "exactly one correct"),
        (QuestionKind.MULTIPLE, ("a", "b"), set(), "at least one correct"),
        (QuestionKind.SINGLE, ("a",), {0}, "between 2 and 8"),
        (QuestionKind.SINGLE, ("a", "A "), {0}, "say the same thing"),
        (QuestionKind.SINGLE, ("a", "b"), {2}, "points at no option"),
    ]
    for kind, options, correct, message in cases:
        with pytest.raises(QuizError, match=message):
            Question(kind, "Q?", options, frozenset(correct))


def test_art_10e_a_draw_shuffles_questions_and_options_and_keeps_the_right_answers() -> None:
    bank = [Question(q.kind, q.text, q.options, q.correct, id=n) for n, q in enumerate(BANK, 1)]
    one, two = draw(bank, 10, random.Random(1)), draw(bank, 10, random.Random(2))
    assert len(one) == 10 and len({q.question_id for q in one}) == 10
    assert [q.question_id for q in one] != [q.question_id for q in two]
    assert any(q.options != bank[q.question_id - 1].options for q in one)
    for q in one:  # the right options are the same texts, wherever they moved
        original = bank[q.question_id - 1]
        assert {q.options[i] for i in q.correct} == {original.options[i] for i in original.correct}
    with pytest.raises(QuizError, match="bank has 12 question.*draws 13: add 1 more"):
        draw(bank, 13, random.Random(0))


def test_art_10e_scored_on_the_server_exactly_the_right_options() -> None:
    bank = [Question(q.kind, q.text, q.options, q.correct, id=n) for n, q in enumerate(BANK, 1)]
    drawn = draw(bank, 4, random.Random(3))
    right = {str(q.question_id): sorted(q.correct) for q in drawn}
    assert score(drawn, read_answers(drawn, right)).correct == 4
    multi = next(q for q in drawn if q.kind is QuestionKind.MULTIPLE)
    half = {**right, str(multi.question_id): sorted(multi.correct)[:1]}  # one of two: wrong
    assert score(drawn, read_answers(drawn, half)).correct == 3
    del right[str(drawn[0].question_id)]  # unanswered: wrong
    assert score(drawn, read_answers(drawn, right)).correct == 3


@pytest.mark.parametrize(("answers", "message"), [
    ({"12345": [0]}, "not part of this attempt"),
    ({"x": [0]}, "not a question id"),
    ({"QID": [9]}, "options are numbered 0 to 2"),
    ({"QID": [0, 0]}, "chosen twice"),
    ({"SINGLE": [0, 1]}, "takes one answer"),
])
def test_art_10e_tampered_answer_sheets_are_refused(answers: dict[str, list[int]], message: str) -> None:
    bank = [Question(q.kind, q.text, q.options, q.correct, id=n) for n, q in enumerate(BANK, 1)]
    drawn = draw(bank, 5, random.Random(4))
    single_id = next(q.question_id for q in drawn if q.kind is QuestionKind.SINGLE)
    sheet = {k.replace("QID", str(drawn[0].question_id)).replace("SINGLE", str(single_id)): v
             for k, v in answers.items()}
    with pytest.raises(QuizError, match=message):
        read_answers(drawn, sheet)


def test_art_10e_ten_questions_per_six_hours_and_the_bank_must_hold_them() -> None:
    def errors(programme: Programme, bank: int | None = None) -> list[str]:
        return [f.message for f in check_programme(programme, bank_size=bank)
                if f.article == "art. 10 lit. e"]

    assert errors(online(10, "6")) == []
    assert errors(online(11, "7")) == [  # 7 h: 10 x 7/6 = 11.7, so 12
        "the final test has 11 questions; it needs at least 12 (10 per 6 effective hours, 7 h)"
    ]
    assert errors(online(10, "6"), bank=9) == [
        "the final test draws 10 questions but its bank holds 9: add 1 question(s) to the bank"
    ]
    assert errors(online(10, "6", max_attempts=3), bank=12) == [
        "the test allows 3 attempts; at most 2"
    ]


# -- the store -----------------------------------------------------------------------------


@pytest.fixture
def programme_id(db: Database) -> int:
    info = create_programme(db, online(), by=SYSTEM)
    save_bank(db, info.id, BANK, ORGANISER)
    submit_programme(db, info.id)
    return info.id


def right_answers(attempt: object, right: int) -> dict[str, list[int]]:
    sheet = {}
    for n, q in enumerate(attempt.questions):  # type: ignore[attr-defined]
        wrong = [i for i in range(len(q.options)) if i not in q.correct][:1]
        sheet[str(q.question_id)] = sorted(q.correct) if n < right else wrong
    return sheet


def test_art_10e_two_attempts_then_the_third_is_refused(db: Database, programme_id: int) -> None:
    first = start_attempt(db, programme_id, VLAD, now=NOON, rng=random.Random(5))
    assert start_attempt(db, programme_id, VLAD, now=NOON).id == first.id  # resumed, not new
    done = submit_attempt(db, first.id, VLAD, right_answers(first, 7), now=NOON)
    assert (done.correct, done.passed) == (7, False)
    second = start_attempt(db, programme_id, VLAD, now=NOON)
    submit_attempt(db, second.id, VLAD, right_answers(second, 5), now=NOON)
    with pytest.raises(AttemptRefused, match=r"used every attempt: the test allows at most 2 \(art. 10 lit. e\)"):
        start_attempt(db, programme_id, VLAD, now=NOON)
    [refused] = entries(db, Filter(action="test.refused"))
    assert refused.actor == "dr.vlad" and "at most 2" in refused.detail["reason"]


def test_art_10e_answers_after_the_time_limit_are_refused(db: Database, programme_id: int) -> None:
    attempt = start_attempt(db, programme_id, STAN, now=NOON)
    assert attempt.deadline_at == NOON + timedelta(minutes=30)
    late = attempt.deadline_at + timedelta(seconds=11)
    with pytest.raises(AttemptRefused, match="time is up.*11 seconds later"):
        submit_attempt(db, attempt.id, STAN, right_answers(attempt, 10), now=late)
    # An expired attempt counts as used and as 0 correct in the credits.
    second = start_attempt(db, programme_id, STAN, now=late)
    assert second.number == 2
    # Within the network grace (10 s) answers still count.
    graced = submit_attempt(db, second.id, STAN, right_answers(second, 8),
                            now=second.deadline_at + timedelta(seconds=9))
    assert graced.passed


def test_art_10e_someone_elses_or_a_forged_attempt_is_refused(
    db: Database, programme_id: int
) -> None:
    attempt = start_attempt(db, programme_id, STAN, now=NOON)
    with pytest.raises(NotYourAttempt, match="belongs to someone else"):
        submit_attempt(db, attempt.id, VLAD, {}, now=NOON)
    with pytest.raises(AttemptNotFound, match="no test attempt"):
        submit_attempt(db, "0" * 32, STAN, {}, now=NOON)
    with pytest.raises(AttemptNotFound):
        submit_attempt(db, "x" * 400, STAN, {}, now=NOON)


def test_art_9b_the_test_is_open_only_during_the_programme(db: Database, programme_id: int) -> None:
    before = datetime.combine(DAY, time(0), ZONE).astimezone(UTC) - timedelta(seconds=1)
    with pytest.raises(AttemptRefused, match="open from Mar 2, 2026.*to Mar 4, 2026"):
        start_attempt(db, programme_id, STAN, now=before)
    after = datetime.combine(DAY + timedelta(days=2), time(0), ZONE).astimezone(UTC)
    with pytest.raises(AttemptRefused, match="not open now"):
        start_attempt(db, programme_id, STAN, now=after)


def test_art_10e_pass_at_75_percent_feeds_the_credit_engine(
    db: Database, programme_id: int
) -> None:
    for actor, right in ((STAN, 8), (VLAD, 7)):
        attempt = start_attempt(db, programme_id, actor, now=NOON)
        submit_attempt(db, attempt.id, actor, right_answers(attempt, right), now=NOON)
    info = get_programme(db, programme_id)
    assert info is not None
    presence = presence_for(db, info, now=NOON)
    credits = attendee_credits(info.programme, [p.record for p in presence])
    assert (credits["dr.stan"].credits, credits["dr.stan"].qualified) == (6, True)
    assert (credits["dr.vlad"].credits, credits["dr.vlad"].qualified) == (0, False)
    assert "final test not passed (best 70%, pass at 75%)" in credits["dr.vlad"].explain()


def test_art_10e_editing_the_bank_never_changes_a_result(db: Database, programme_id: int) -> None:
    attempt = start_attempt(db, programme_id, STAN, now=NOON)
    save_bank(db, programme_id, [single(n) for n in range(20, 32)], ORGANISER)
    done = submit_attempt(db, attempt.id, STAN, right_answers(attempt, 10), now=NOON)
    assert done.correct == 10
