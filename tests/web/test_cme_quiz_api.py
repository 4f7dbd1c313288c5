"""The final test and the access log against a real `medroom serve`, over HTTP.

An online (EMCD) programme of 6 learning hours, running today: the organiser fills a bank of
12 questions, participants take the 10-question test from logged-in accounts. Only one thing
is done behind the server's back: moving an attempt's deadline into the past (the clock), and
writing one attempt straight into the database, which the audit report must then flag.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from library.cme_models import CmeTestAttempt
from library.db import Database
from library.models import utcnow
from library.users import Role, create_user, get_user_by_username
from tests.conftest import PASSWORD, Server
from tests.web.test_cme_api import auth, organiser_token, token

TODAY = datetime.now(ZoneInfo("Europe/Bucharest")).date()


def question(n: int) -> dict[str, Any]:
    """Question n: single answer (right option 'yes n') or, every third, multiple answers."""
    if n % 3 == 0:
        return {"kind": "multiple", "text": f"Which are true for case {n}?",
                "options": [f"true {n}a", f"false {n}b", f"true {n}c", f"false {n}d"],
                "correct": [0, 2]}
    return {"kind": "single", "text": f"Question {n}: which is right?",
            "options": [f"no {n}", f"yes {n}", f"never {n}"], "correct": [1]}


BANK = [question(n) for n in range(1, 13)]


def emcd(today: date) -> dict[str, Any]:
    return {
        "ref": f"EMCD-{secrets.token_hex(3)}", "title": "Endoscopic anatomy of the sinuses, online",
        "kind": "distance_online", "level": "national",
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=1)).isoformat(),
        "organisers": [{"name": "UMF Iasi", "kind": "university"}],
        "learning_hours": "6", "material": {"pages": 36, "characters_per_page": 2500},
        "request_filed_on": (today - timedelta(days=90)).isoformat(),
        "final_test": {"question_count": 10, "max_attempts": 2, "time_limit_minutes": 20},
    }


_clients: dict[str, httpx.Client] = {}


def account(server: Server, username: str) -> httpx.Client:
    """A participant's logged-in browser session (one per name and test module)."""
    if username in _clients:
        return _clients[username]
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        if get_user_by_username(db, username) is None:
            create_user(db, username, PASSWORD, Role.STUDENT)
    finally:
        db.dispose()
    client = _clients[username] = httpx.Client(base_url=server.url)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 303, r.text
    # Login starts a fresh session with a fresh CSRF token: read it off a page.
    page = client.get("/cme").text
    client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
    return client


def sheet(attempt: dict[str, Any], right: int) -> dict[str, list[int]]:
    """Answers with exactly ``right`` correct ones, worked out from the bank's texts."""
    answers = {}
    for n, q in enumerate(attempt["questions"]):
        options = q["options"]
        correct = sorted(i for i, o in enumerate(options) if o.startswith(("yes", "true")))
        wrong = [i for i in range(len(options)) if i not in correct][:1]
        answers[str(q["question_id"])] = correct if n < right else wrong
    return answers


@dataclass
class Quiz:
    id: int
    organiser: dict[str, str]
    db: Database


@pytest.fixture(scope="module")
def quiz(server: Server) -> Iterator[Quiz]:
    organiser = auth(organiser_token(server, "dr-ana"))
    r = httpx.post(f"{server.url}/api/cme/programmes", json=emcd(TODAY), headers=organiser)
    assert r.status_code == 201, r.text
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    yield Quiz(r.json()["id"], organiser, db)
    db.dispose()


def test_art_10e_bank_checked_then_test_opens_after_submission(server: Server, quiz: Quiz) -> None:
    url = f"{server.url}/api/cme/programmes/{quiz.id}"
    check = httpx.get(f"{url}/check", headers=quiz.organiser).json()
    [finding] = [f for f in check["findings"] if f["severity"] == "error"]
    assert finding["article"] == "art. 10 lit. e" and "bank holds 0" in finding["message"]
    bad = [{**question(1), "correct": [0, 1]}]
    r = httpx.put(f"{url}/questions", json={"questions": bad}, headers=quiz.organiser)
    assert r.status_code == 422 and "question 1" in r.json()["detail"]
    assert "exactly one correct" in r.json()["detail"]
    r = httpx.put(f"{url}/questions", json={"questions": BANK}, headers=quiz.organiser)
    assert r.status_code == 200 and len(r.json()["questions"]) == 12
    student = account(server, "dr.stan")
    r = student.post(f"/api/cme/programmes/{quiz.id}/test/attempts")
    assert r.status_code == 409 and "draft" in r.json()["detail"]
    r = httpx.post(f"{url}/submit", headers=quiz.organiser)
    assert r.status_code == 200, r.text
    # A student may not read the bank (it holds the answers); a script token may not test.
    assert student.get(f"/api/cme/programmes/{quiz.id}/questions").status_code == 403
    r = httpx.get(f"{url}/test", headers=auth(token(server, "student", "dr.stan")))
    assert r.status_code == 403 and "logged-in account" in r.json()["detail"]


def test_art_10e_shuffled_attempt_without_answers_scored_on_server(
    server: Server, quiz: Quiz
) -> None:
    stan = account(server, "dr.stan")
    r = stan.post(f"/api/cme/programmes/{quiz.id}/test/attempts")
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["number"] == 1 and len(first["questions"]) == 10 and first["state"] == "running"
    assert 1190 <= first["seconds_left"] <= 1200
    assert "correct" not in str(first["questions"]) and "yes" in str(first["questions"])
    # Shuffled: the bank's order of questions or of options is not what the attempt shows.
    shown = [(q["text"], q["options"]) for q in first["questions"]]
    in_bank = [(q["text"], q["options"]) for q in BANK]
    assert shown != in_bank[:10]
    # Starting again hands back the running attempt, not a new one.
    assert stan.post(f"/api/cme/programmes/{quiz.id}/test/attempts").json()["id"] == first["id"]
    # Tampered sheets are refused and leave the attempt running.
    answers = sheet(first, 5)
    r = stan.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": {"999999": [0]}})
    assert r.status_code == 422 and "not part of this attempt" in r.json()["detail"]
    some = first["questions"][0]["question_id"]
    r = stan.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": {str(some): [7]}})
    assert r.status_code == 422 and "options are numbered" in r.json()["detail"]
    # Someone else's attempt, a forged id.
    other = account(server, "dr.vlad")
    r = other.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": answers})
    assert r.status_code == 403 and "belongs to someone else" in r.json()["detail"]
    assert other.get(f"/api/cme/attempts/{first['id']}").status_code == 403
    r = other.post(f"/api/cme/attempts/{'0' * 32}/answers", json={"answers": answers})
    assert r.status_code == 404 and "no test attempt" in r.json()["detail"]
    # 5 of 10: not passed; 8 of 10 on the second attempt: passed (75% is the mark).
    r = stan.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": answers})
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["correct"], result["percent"], result["passed"]) == (5, 50.0, False)
    assert result["questions"] == []
    r = stan.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": answers})
    assert r.status_code == 409 and "already submitted" in r.json()["detail"]
    second = stan.post(f"/api/cme/programmes/{quiz.id}/test/attempts").json()
    assert second["number"] == 2 and second["id"] != first["id"]
    r = stan.post(f"/api/cme/attempts/{second['id']}/answers", json={"answers": sheet(second, 8)})
    assert (r.json()["correct"], r.json()["passed"]) == (8, True)
    r = stan.post(f"/api/cme/programmes/{quiz.id}/test/attempts")
    assert r.status_code == 409 and "already passed" in r.json()["detail"]


def test_art_10e_answers_after_the_time_limit_and_a_third_attempt_refused(
    server: Server, quiz: Quiz
) -> None:
    vlad = account(server, "dr.vlad")
    first = vlad.post(f"/api/cme/programmes/{quiz.id}/test/attempts").json()
    r = vlad.post(f"/api/cme/attempts/{first['id']}/answers", json={"answers": sheet(first, 7)})
    assert (r.json()["correct"], r.json()["passed"]) == (7, False)  # 70% < 75%
    page = vlad.get("/cme/me").text.split('id="my-tests"')[1].split("</section>")[0]
    assert "attempt 1: 70%" in page and "1 attempt left" in page
    assert f'href="/cme/programmes/{quiz.id}/test">Take the test' in page
    second = vlad.post(f"/api/cme/programmes/{quiz.id}/test/attempts").json()
    # Twenty minutes pass (the only thing moved behind the server's back: the deadline).
    with quiz.db.session() as session:
        row = session.get(CmeTestAttempt, second["id"])
        assert row is not None
        row.deadline_at = utcnow() - timedelta(minutes=1)
    r = vlad.post(f"/api/cme/attempts/{second['id']}/answers", json={"answers": sheet(second, 10)})
    assert r.status_code == 409 and "time is up" in r.json()["detail"]
    assert vlad.get(f"/api/cme/attempts/{second['id']}").json()["state"] == "expired"
    r = vlad.post(f"/api/cme/programmes/{quiz.id}/test/attempts")
    assert r.status_code == 409 and "at most 2 (art. 10 lit. e)" in r.json()["detail"]
    info = vlad.get(f"/api/cme/programmes/{quiz.id}/test").json()
    assert [a["state"] for a in info["attempts"]] == ["submitted", "expired"]


def test_art_10e_the_result_feeds_the_credits(server: Server, quiz: Quiz) -> None:
    r = httpx.get(f"{server.url}/api/cme/programmes/{quiz.id}/attendance", headers=quiz.organiser)
    people = {a["person_id"]: a for a in r.json()["attendees"]}
    assert (people["dr.stan"]["credits"], people["dr.stan"]["qualified"]) == (6, True)
    assert (people["dr.vlad"]["credits"], people["dr.vlad"]["qualified"]) == (0, False)
    assert any("final test not passed (best 70%" in s["text"] for s in people["dr.vlad"]["steps"])
    mine = account(server, "dr.stan").get("/api/cme/me").json()
    assert mine["total"] == 6 and mine["programmes"][0]["counted"] is True
    # Each doctor's own page says where their test stands, with a way in only while one is left.
    stan_page = account(server, "dr.stan").get("/cme/me").text
    tests = stan_page.split('id="my-tests"')[1].split("</section>")[0]
    assert "passed with 80%" in tests and "/test\"" not in tests
    vlad_page = account(server, "dr.vlad").get("/cme/me").text
    tests = vlad_page.split('id="my-tests"')[1].split("</section>")[0]
    assert "not passed; no attempt left" in tests and "Take the test" not in tests


def test_art_12_2a_log_and_report_over_http(server: Server, quiz: Quiz) -> None:
    url = f"{server.url}/api/cme"
    log = httpx.get(f"{url}/audit", params={"programme_id": quiz.id},
                    headers=quiz.organiser).json()
    actions = [e["action"] for e in log]
    for action in ("programme.create", "programme.submit", "test.bank_edit", "test.start",
                   "test.submit", "test.refused", "attendance.view"):
        assert action in actions, action
    refused = [e for e in log if e["action"] == "test.refused"]
    assert any("at most 2" in e["detail"]["reason"] for e in refused)
    # Logins belong to no programme: an organiser does not see them, an admin does.
    params = {"action": "auth.login", "actor": "dr.stan"}
    assert httpx.get(f"{url}/audit", params=params, headers=quiz.organiser).json() == []
    logins = httpx.get(f"{url}/audit", params=params,
                       headers=auth(token(server, "admin", "root"))).json()
    assert logins and logins[0]["target"] == "account"
    r = httpx.get(f"{url}/audit", params={"action": "nonsense"}, headers=quiz.organiser)
    assert r.status_code == 422 and "unknown" in r.json()["detail"]
    student = account(server, "dr.stan")
    assert student.get("/api/cme/audit").status_code == 403
    report = httpx.get(f"{url}/programmes/{quiz.id}/audit-report", headers=quiz.organiser).json()
    assert report["mismatches"] == [] and report["attempts_checked"] == 4
    # An attempt written straight into the database, past the application and its log.
    now = utcnow()
    with quiz.db.session() as session:
        session.add(CmeTestAttempt(
            id="f" * 32, programme_id=quiz.id, person_id="dr.ghost", number=1, started_at=now,
            deadline_at=now + timedelta(minutes=20), drawn=[], total=10, correct=10,
            submitted_at=now,
        ))
    report = httpx.get(f"{url}/programmes/{quiz.id}/audit-report", headers=quiz.organiser).json()
    kinds = {(m["kind"], m["person_id"]) for m in report["mismatches"]}
    assert kinds == {("attempt_not_logged", "dr.ghost")}
    assert len(report["mismatches"]) == 2  # neither its start nor its submission is logged
    # The log itself cannot be rewritten, not even through the server's own database file.
    with pytest.raises(Exception, match="append-only"), quiz.db.session() as session:
        session.execute(text("DELETE FROM cme_audit_log WHERE action = 'test.start'"))
