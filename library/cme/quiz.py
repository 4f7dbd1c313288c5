"""The final test (testul de evaluare): question banks, drawing an attempt, scoring it.

Pure domain code. A bank holds single- and multiple-answer questions. An attempt draws the
programme's number of questions from the bank in a random order, each with its options in a
random order, and keeps that draw with the correct answers (a snapshot: editing the bank later
never changes a result). The participant sees the draw without the answers; scoring happens
here, on the server. A question counts as correct only when exactly the right options are
chosen. The rules cite the procedure: at least 10 questions (per 6 effective hours online),
pass at 75% correct, at most two attempts (art. 10 lit. c, e).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from library.cme.errors import ProgrammeError
from library.cme.limits import MAX_TEST_ATTEMPTS

MIN_OPTIONS = 2
MAX_OPTIONS = 8
MAX_TEXT = 2000
MAX_OPTION_TEXT = 500
# Answers that left the browser before the deadline may arrive a little after it.
NETWORK_GRACE_SECONDS = 10


class QuizError(ProgrammeError):
    """A question, an answer sheet or an attempt is refused; the message says why."""


class QuestionKind(str, Enum):
    SINGLE = "single"
    """Exactly one option is right; the participant picks one."""
    MULTIPLE = "multiple"
    """One or more options are right; the participant must pick exactly those."""


@dataclass(frozen=True)
class Question:
    kind: QuestionKind
    text: str
    options: tuple[str, ...]
    correct: frozenset[int]
    """Indexes into ``options`` (as written in the bank)."""
    id: int | None = None

    def __post_init__(self) -> None:
        where = f"question {self.id}" if self.id is not None else "a question"
        if not self.text.strip():
            raise QuizError(f"{where}: the question text is empty")
        if len(self.text) > MAX_TEXT:
            raise QuizError(f"{where}: the text is longer than {MAX_TEXT} characters")
        if not MIN_OPTIONS <= len(self.options) <= MAX_OPTIONS:
            raise QuizError(
                f"{where}: {len(self.options)} options; give between {MIN_OPTIONS} and"
                f" {MAX_OPTIONS}"
            )
        cleaned = [o.strip().casefold() for o in self.options]
        if any(not o for o in cleaned):
            raise QuizError(f"{where}: an option is empty")
        if any(len(o) > MAX_OPTION_TEXT for o in self.options):
            raise QuizError(f"{where}: an option is longer than {MAX_OPTION_TEXT} characters")
        if len(set(cleaned)) != len(cleaned):
            raise QuizError(f"{where}: two options say the same thing")
        if any(not 0 <= i < len(self.options) for i in self.correct):
            raise QuizError(f"{where}: a correct answer points at no option")
        if self.kind is QuestionKind.SINGLE and len(self.correct) != 1:
            raise QuizError(
                f"{where}: a single-answer question needs exactly one correct option, it has"
                f" {len(self.correct)}"
            )
        if self.kind is QuestionKind.MULTIPLE and not self.correct:
            raise QuizError(f"{where}: mark at least one correct option")


@dataclass(frozen=True)
class DrawnQuestion:
    """One question as an attempt shows it: options in the attempt's own order."""

    question_id: int
    kind: QuestionKind
    text: str
    options: tuple[str, ...]
    correct: frozenset[int]
    """Indexes into the shown ``options``: never sent to the participant."""

    def to_json(self) -> dict[str, Any]:
        return {"question_id": self.question_id, "kind": self.kind.value, "text": self.text,
                "options": list(self.options), "correct": sorted(self.correct)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrawnQuestion:
        return cls(int(data["question_id"]), QuestionKind(data["kind"]), str(data["text"]),
                   tuple(str(o) for o in data["options"]),
                   frozenset(int(i) for i in data["correct"]))


@dataclass(frozen=True)
class Score:
    correct: int
    total: int
    per_question: tuple[bool, ...]


def draw(bank: Sequence[Question], count: int, rng: random.Random) -> list[DrawnQuestion]:
    """``count`` questions of ``bank`` in a random order, each with its options shuffled."""
    if count <= 0:
        raise QuizError("the test must draw at least one question")
    if len(bank) < count:
        raise QuizError(
            f"the question bank has {len(bank)} question(s) and the test draws {count}: add"
            f" {count - len(bank)} more to the bank"
        )
    drawn = []
    for question in rng.sample(list(bank), count):
        if question.id is None:
            raise QuizError("only stored questions (with an id) can be drawn")
        order = list(range(len(question.options)))
        rng.shuffle(order)
        drawn.append(
            DrawnQuestion(
                question_id=question.id, kind=question.kind, text=question.text,
                options=tuple(question.options[i] for i in order),
                correct=frozenset(order.index(i) for i in question.correct),
            )
        )
    return drawn


def read_answers(
    drawn: Sequence[DrawnQuestion], answers: Mapping[str, Sequence[int]]
) -> dict[int, frozenset[int]]:
    """Check an answer sheet against the draw: only drawn questions, only shown options.

    Keys are question ids as the attempt showed them; an unanswered question is simply left
    out (it scores as wrong). Anything else is refused, never silently dropped, because a
    sheet naming other questions was not produced by the test page.
    """
    shown = {q.question_id: q for q in drawn}
    sheet: dict[int, frozenset[int]] = {}
    for key, chosen in answers.items():
        try:
            question_id = int(key)
        except (TypeError, ValueError):
            raise QuizError(f"answer key {key!r} is not a question id") from None
        question = shown.get(question_id)
        if question is None:
            raise QuizError(
                f"question {question_id} is not part of this attempt; answer only the"
                " questions the attempt showed"
            )
        picks = frozenset(chosen)
        if len(picks) != len(chosen):
            raise QuizError(f"question {question_id}: an option is chosen twice")
        if any(not isinstance(i, int) or not 0 <= i < len(question.options) for i in picks):
            raise QuizError(
                f"question {question_id}: options are numbered 0 to"
                f" {len(question.options) - 1}; got {sorted(chosen)}"
            )
        if question.kind is QuestionKind.SINGLE and len(picks) > 1:
            raise QuizError(f"question {question_id} takes one answer, got {len(picks)}")
        sheet[question_id] = picks
    return sheet


def score(drawn: Sequence[DrawnQuestion], sheet: Mapping[int, frozenset[int]]) -> Score:
    """Correct when exactly the right options were chosen (no partial credit)."""
    marks = tuple(sheet.get(q.question_id, frozenset()) == q.correct for q in drawn)
    return Score(sum(marks), len(drawn), marks)


def allowed_attempts(max_attempts: int) -> int:
    """At most two attempts (art. 10 lit. e), fewer if the organiser allows fewer."""
    return min(max_attempts, MAX_TEST_ATTEMPTS)


def accepts_answers(deadline: datetime, now: datetime) -> bool:
    """Answers count until the deadline plus a few seconds for the network."""
    return now <= deadline + timedelta(seconds=NETWORK_GRACE_SECONDS)
