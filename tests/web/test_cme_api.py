"""CME API and pages against a real `medroom serve`: roles, engine messages, check, credits,
attendance from recorded viewer sessions, a doctor's own credits, and the programme page in
headless Chromium.

The course is a realistic two-day hands-on course. Its live sessions and viewer sessions are
recorded into the server's own database with ``library.attendance`` (only its clock is set, so
two days pass in milliseconds); everything else goes through HTTP.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from library import attendance
from library.db import Database
from library.users import Role, create_user, get_user_by_username
from tests.conftest import PASSWORD, REPO, Server
from web.auth import TokenSigner

BUCHAREST = ZoneInfo("Europe/Bucharest")
DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
ROOM = "or-1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(server: Server, role: str, subject: str) -> str:
    """What `medroom token` prints, signed here: a CLI process per token costs seconds."""
    signer = TokenSigner(server.env["MEDROOM_SECRET_KEY"])
    return signer.issue(subject=subject, role=Role(role), room="*", ttl_seconds=3600)


def organiser_token(server: Server, username: str) -> str:
    """A token of the account ``username`` (a programme's organisers are accounts, not roles)."""
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        user = get_user_by_username(db, username)
    finally:
        db.dispose()
    assert user is not None, f"no account {username}"
    signer = TokenSigner(server.env["MEDROOM_SECRET_KEY"])
    return signer.issue(subject=user.username, role=user.role, room="*", ttl_seconds=3600,
                        user_id=user.id)


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=BUCHAREST).astimezone(UTC)


def lecture(ref: str, day: date, start: str, end: str, title: str, speaker: tuple[str, str],
            live: int, session: str | None = None) -> dict[str, Any]:
    return {"ref": ref, "kind": "lecture", "day": day.isoformat(), "start": start, "end": end,
            "title": title, "speaker": {"title": speaker[0], "name": speaker[1]},
            "session": session, "live_session_id": live}


def slot(ref: str, kind: str, day: date, start: str, end: str, title: str = "",
         live: int | None = None, session: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"ref": ref, "kind": kind, "day": day.isoformat(), "start": start, "end": end,
            "title": title, "live_session_id": live, "session": session, **extra}


MURESAN = ("Prof. dr.", "Andrei Mureșan")
DRAGOMIR = ("Conf. dr.", "Ioana Dragomir")
STOICA = ("Dr., medic primar ORL", "Radu Stoica")
BIANCHI = ("Prof. dr.", "Luca Bianchi (Napoli)")


def skull_base_course(d1am: int, d1pm: int, d2: int) -> dict[str, Any]:
    """Two days: lectures with their discussions, breaks, a live operation, a hands-on lab.

    Filed: the request 40 days ahead (art. 6 alin. (2) asks 30), the final programme only
    3 days ahead (5 needed: an error). Day 2's lab runs 3 h without a break (art. 5 lit. d).
    """
    return {
        "ref": "EMC-TM-2026-041",
        "title": "Endoscopic endonasal skull base surgery — hands-on course, Timișoara",
        "kind": "continuing_education_course",
        "level": "national",
        "starts_on": DAY1.isoformat(),
        "ends_on": DAY2.isoformat(),
        "venue": "Timișoara, UMF „Victor Babeș”, Centrul de anatomie și chirurgie experimentală",
        "organisers": [
            {"name": "UMF „Victor Babeș” Timișoara", "kind": "university"},
            {"name": "Colegiul Medicilor Timiș", "kind": "territorial_college", "scope": "local"},
        ],
        "sponsors": [{"name": "Karl Storz Endoskope"}],
        "request_filed_on": "2026-10-10",
        "final_programme_filed_on": "2026-11-16",
        "agenda": [
            slot("open", "opening", DAY1, "08:30", "09:00", "Opening of the course", d1am,
                 speaker={"title": "Prof. dr.", "name": "Andrei Mureșan"}),
            lecture("l1", DAY1, "09:00", "10:30", "Endoscopic anatomy of the ventral skull base",
                    MURESAN, d1am, "s1"),
            slot("d1", "discussion", DAY1, "10:30", "11:00", "Questions and discussion", d1am, "s1"),
            slot("b1", "break", DAY1, "11:00", "11:15", "Coffee break"),
            lecture("l2", DAY1, "11:15", "12:45",
                    "Expanded endonasal approaches: transplanum and transtuberculum",
                    BIANCHI, d1am, "s2"),
            slot("d2", "discussion", DAY1, "12:45", "13:15", "Case discussion", d1am, "s2"),
            slot("lunch1", "break", DAY1, "13:15", "14:00", "Lunch"),
            slot("live", "practical_demonstration", DAY1, "14:00", "15:30",
                 "Live surgery from OR 1: pituitary macroadenoma, endoscopic transsphenoidal"
                 " resection", d1pm, speaker={"title": "Conf. dr.", "name": "Ioana Dragomir"}),
            slot("ann", "announcement", DAY1, "15:30", "15:40",
                 "Hands-on lab: stations, instruments and safety", d1pm,
                 speaker={"title": "", "name": "Mihai Pop",
                          "represents_sponsor": "Karl Storz Endoskope"}),
            lecture("l3", DAY2, "08:30", "10:00",
                    "Skull base reconstruction: nasoseptal flap and multilayer closure",
                    STOICA, d2, "s3"),
            slot("d3", "discussion", DAY2, "10:00", "10:30", "Questions and discussion", d2, "s3"),
            slot("b2", "break", DAY2, "10:30", "10:45", "Coffee break"),
            slot("lab1", "practical_stage", DAY2, "10:45", "13:45",
                 "Hands-on dissection: sphenoidotomy, sellar and parasellar exposure", d2,
                 speaker={"title": "Conf. dr.", "name": "Ioana Dragomir"}),
            slot("lunch2", "break", DAY2, "13:45", "14:30", "Lunch"),
            slot("lab2", "practical_stage", DAY2, "14:30", "16:00",
                 "Hands-on: nasoseptal flap harvest and reconstruction", d2,
                 speaker={"title": "Dr., medic primar ORL", "name": "Radu Stoica"}),
            slot("close", "closing", DAY2, "16:00", "16:15", "Closing and certificates", d2,
                 speaker={"title": "Prof. dr.", "name": "Andrei Mureșan"}),
        ],
    }


DOCTORS = {
    "dr.ionescu": "Maria Ionescu",
    "dr.georgescu": "Tudor Georgescu",
    "dr.marin": "Elena Marin",
    "dr.popa": "Vlad Popa",
    "dr.stan": "Andreea Stan",
    "dr.rusu": "Cosmin Rusu",
}


@dataclass
class Course:
    id: int
    body: dict[str, Any]
    live: tuple[int, int, int]
    organiser: dict[str, str]


class Clock:
    now = datetime(2026, 11, 19, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def record_the_course(db: Database) -> tuple[int, int, int]:
    """Live sessions and viewers as the room would record them; returns the live session ids."""
    clock = Clock()
    saved = attendance.utcnow
    attendance.utcnow = clock  # type: ignore[assignment]
    users = {name: create_user(db, name, PASSWORD, "student", display).id
             for name, display in DOCTORS.items()}
    # dr-ana goes live, so she may link these sessions into her programme.
    dr_ana = get_user_by_username(db, "dr-ana")
    assert dr_ana is not None
    instructor = dr_ana.id

    def go_live(day: date, hhmm: str, title: str) -> int:
        clock.now = at(day, hhmm)
        return attendance.start_live_session(db, ROOM, title, instructor)

    def join(live: int, who: str, day: date, hhmm: str) -> str:
        clock.now = at(day, hhmm)
        vid = str(uuid.uuid4())
        attendance.viewer_joined(db, live, ROOM, vid, users[who], who, "student")
        return vid

    def leave(vid: str, day: date, hhmm: str, reason: str = "closed") -> None:
        clock.now = at(day, hhmm)
        attendance.viewer_left(db, vid, reason)

    def end(live: int, day: date, hhmm: str) -> None:
        clock.now = at(day, hhmm)
        attendance.end_live_session(db, live)

    try:
        d1am = go_live(DAY1, "08:20", "Day 1 · lectures")
        for who in DOCTORS:
            if who != "dr.stan":
                join(d1am, who, DAY1, "08:25")
        join(d1am, "dr.georgescu", DAY1, "10:00")  # a second device, overlapping
        join(d1am, "dr.stan", DAY1, "09:20")  # missed the opening and 20 min of a lecture
        marin = next(v.id for v in attendance.list_viewer_sessions(db, d1am)
                     if v.subject == "dr.marin")
        leave(marin, DAY1, "10:12", "ice failed")
        join(d1am, "dr.marin", DAY1, "10:16")  # 4 minutes of the lecture lost
        end(d1am, DAY1, "13:20")
        d1pm = go_live(DAY1, "13:55", "Day 1 · live surgery, OR 1")
        for who in DOCTORS:
            join(d1pm, who, DAY1, "13:57")
        end(d1pm, DAY1, "15:45")
        d2 = go_live(DAY2, "08:20", "Day 2 · reconstruction and hands-on lab")
        for who in DOCTORS:
            join(d2, who, DAY2, "08:26")
        popa = next(v.id for v in attendance.list_viewer_sessions(db, d2) if v.subject == "dr.popa")
        leave(popa, DAY2, "16:05")  # left 10 minutes before the end of the closing
        end(d2, DAY2, "16:20")
        return d1am, d1pm, d2
    finally:
        attendance.utcnow = saved  # type: ignore[assignment]


@pytest.fixture(scope="module")
def course(server: Server) -> Iterator[Course]:
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        live = record_the_course(db)
    finally:
        db.dispose()
    organiser = auth(organiser_token(server, "dr-ana"))
    body = skull_base_course(*live)
    r = httpx.post(f"{server.url}/api/cme/programmes", json=body, headers=organiser)
    assert r.status_code == 201, r.text
    yield Course(r.json()["id"], body, live, organiser)


def test_roles(server: Server, course: Course) -> None:
    student = auth(token(server, "student", "dr.popa"))
    r = httpx.post(f"{server.url}/api/cme/programmes", json=course.body, headers=student)
    assert r.status_code == 403 and "needs: admin, instructor, curator" in r.json()["detail"]
    for path in ("", f"/{course.id}", f"/{course.id}/check", f"/{course.id}/attendance"):
        assert httpx.get(f"{server.url}/api/cme/programmes{path}", headers=student).status_code == 403
    # A script token could name anyone: credits are only shown to a logged-in account.
    assert httpx.get(f"{server.url}/api/cme/me", headers=student).status_code == 403
    assert httpx.get(f"{server.url}/api/cme/me").status_code == 401
    with httpx.Client(base_url=server.url) as page:
        csrf = page.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        page.post("/login", data={"username": "marko", "password": PASSWORD, "csrf": csrf})
        assert page.get("/api/cme/me").status_code == 200
    curator = auth(token(server, "curator", "cura"))
    r = httpx.get(f"{server.url}/api/cme/programmes", headers=curator)
    assert r.status_code == 200 and [p["ref"] for p in r.json()] == ["EMC-TM-2026-041"]


def test_bad_programmes_are_refused_with_the_engine_message(server: Server, course: Course) -> None:
    url = f"{server.url}/api/cme/programmes"

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(url, json=body, headers=course.organiser)

    bad = copy.deepcopy(course.body)
    bad["ref"] = "bad-1"
    bad["agenda"][1]["end"] = "08:45"  # lecture l1 09:00-08:45
    r = post(bad)
    assert r.status_code == 422
    assert "agenda item 'l1' on 2026-11-19: ends at 08:45, not after its start at 09:00" in (
        r.json()["detail"]
    )
    bad = copy.deepcopy(course.body)
    bad["ref"] = "bad-2"
    bad["agenda"][2]["start"] = "10:15"  # the discussion starts inside the lecture
    r = post(bad)
    assert r.status_code == 422 and "overlaps" in r.json()["detail"]
    assert "put parallel sessions on their own track" in r.json()["detail"]
    bad = copy.deepcopy(course.body)
    bad["ref"] = "bad-3"
    bad["agenda"][1]["live_session_id"] = 9999
    r = post(bad)
    assert r.status_code == 422 and "live session(s) 9999, which do not exist" in r.json()["detail"]
    bad = copy.deepcopy(course.body)
    bad["kind"] = "webinar"
    r = post(bad)
    assert r.status_code == 422 and r.json()["detail"].startswith("kind:")
    assert post(course.body).status_code == 409  # the ref is taken
    r = httpx.put(f"{url}/4040", json=course.body, headers=course.organiser)
    assert r.status_code == 404


def test_check_lists_findings_with_articles(server: Server, course: Course) -> None:
    r = httpx.get(f"{server.url}/api/cme/programmes/{course.id}/check", headers=course.organiser)
    assert r.status_code == 200
    check = r.json()
    found = {(f["severity"], f["article"]) for f in check["findings"]}
    assert ("error", "art. 6 alin. (2)") in found  # final programme 3 days ahead, not 5
    assert ("warning", "art. 5 lit. d") in found  # day 2: 3 h lab without a break
    assert ("warning", "art. 26 alin. (2)") in found  # a course without a final test
    assert check["errors"] == 1
    [late] = [f for f in check["findings"] if f["severity"] == "error"]
    assert "final scientific programme filed on 2026-11-16, 3 days before" in late["message"]
    # The sponsor's representative only makes an announcement: allowed (art. 17 alin. (1)).
    assert not any(f["article"] == "art. 17 alin. (1)" for f in check["findings"])


def test_credits_with_their_steps(server: Server, course: Course) -> None:
    r = httpx.get(f"{server.url}/api/cme/programmes/{course.id}/credits", headers=course.organiser)
    assert r.status_code == 200
    credits = r.json()
    # Day 1: 5.5 effective h, less 30 min: the opening runs into a 2.5 h stretch without a
    # break (art. 5 lit. d) = 5 h, all theory. Day 2: 6.5 h, capped at 6, less 45 min for the
    # 3 h lab = 5.25 h, of which 2/6.5 theory. Theory 5 + 5.25 x 2/6.5 = 6.62 h, x 125% for
    # the associated practical stage (art. 8 lit. c) = 8.27 -> 8 (art. 5 lit. h).
    assert credits["credits"] == 8
    assert credits["creditable_hours"] == 10.25
    articles = [s["article"] for s in credits["steps"]]
    assert articles[-2:] == ["art. 8 lit. c", "art. 5 lit. h"]
    assert "art. 8 lit. a" in articles and "art. 5 lit. d" in articles
    assert credits["exact"] == 8.27 and "125% of the theory" in credits["explain"]


def test_attendance_from_the_recorded_viewer_sessions(server: Server, course: Course) -> None:
    r = httpx.get(f"{server.url}/api/cme/programmes/{course.id}/attendance",
                  headers=course.organiser)
    assert r.status_code == 200
    body = r.json()
    people = {a["person_id"]: a for a in body["attendees"]}
    assert {p: a["credits"] for p, a in people.items()} == {
        "dr.ionescu": 8, "dr.rusu": 8,
        "dr.georgescu": 8,  # two devices at once: counted once
        "dr.marin": 0,  # dropped for 4 minutes (art. 5 lit. a, strict by default)
        "dr.popa": 0,  # left 10 minutes early
        "dr.stan": 0,  # joined at 09:20: missed the opening and 20 minutes
    }
    assert body["qualified"] == 3 and body["drop_tolerance_seconds"] == 0
    assert people["dr.ionescu"]["display_name"] == "Maria Ionescu"
    assert people["dr.georgescu"]["connections"] == 4
    [gap] = people["dr.marin"]["gaps"]
    assert (gap["unit"], gap["missing_seconds"]) == (str(course.live[0]), 240)
    [absence] = gap["absences"]
    assert (absence["start"], absence["end"]) == ("2026-11-19T08:12:00Z", "2026-11-19T08:16:00Z")
    assert gap["label"] == f"live session {course.live[0]} · Day 1 · lectures"
    [gap] = people["dr.popa"]["gaps"]
    assert gap["missing_seconds"] == 600
    assert any("art. 5 lit. a" in s["text"] for s in people["dr.popa"]["steps"])


def logged_in(server: Server, username: str) -> httpx.Client:
    """A doctor's own browser session (credits are shown to accounts, not script tokens)."""
    server.cli("user", "add", username, "--role", "student", "--password", PASSWORD, check=False)
    client = httpx.Client(base_url=server.url)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 303, r.text
    return client


def test_a_doctor_sees_own_credits_and_the_total(server: Server, course: Course) -> None:
    url = f"{server.url}/api/cme"
    ionescu = logged_in(server, "dr.ionescu")
    mine = ionescu.get("/api/cme/me").json()
    [p] = mine["programmes"]
    assert (p["ref"], p["credits"], p["counted"], mine["total"]) == ("EMC-TM-2026-041", 8, False, 0)
    assert p["note"].startswith("draft")
    # Submitting is refused while the checker finds an error ...
    r = httpx.post(f"{url}/programmes/{course.id}/submit", headers=course.organiser)
    assert r.status_code == 409 and "art. 6 alin. (2)" in r.json()["detail"]
    # ... a second edition, filed in time, goes through and counts.
    fixed = {**course.body, "ref": "EMC-TM-2026-041-B", "final_programme_filed_on": "2026-11-10"}
    r = httpx.post(f"{url}/programmes", json=fixed, headers=course.organiser)
    assert r.status_code == 201, r.text
    second = r.json()["id"]
    r = httpx.post(f"{url}/programmes/{second}/submit", headers=course.organiser)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = httpx.put(f"{url}/programmes/{second}", json=fixed, headers=course.organiser)
    assert r.status_code == 409 and "cannot be edited" in r.json()["detail"]
    mine = ionescu.get("/api/cme/me").json()
    assert mine["total"] == 8
    assert {p["ref"]: p["counted"] for p in mine["programmes"]} == {
        "EMC-TM-2026-041": False, "EMC-TM-2026-041-B": True,
    }
    popa = logged_in(server, "dr.popa").get("/api/cme/me").json()
    assert popa["total"] == 0 and all(p["credits"] == 0 for p in popa["programmes"])
    assert "art. 5 lit. a" in popa["programmes"][0]["steps"][0]["article"]


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"


@pytest.mark.browser
def test_pages_in_headless_chromium(server: Server, course: Course) -> None:
    """The programme page shows agenda, findings (errors red, warnings amber), credits with
    their steps and attendance; a doctor sees their own credits. Screenshots in test-artifacts/."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--headless"]
        )
        try:
            for username, shots in (
                ("dr-ana", [("/cme", "cme_list"), (f"/cme/programmes/{course.id}", "cme_programme")]),
                ("dr.ionescu", [("/cme", "cme_me")]),
            ):
                context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True,
                                              timezone_id="Europe/Bucharest")
                page = context.new_page()
                page.goto(server.url + "/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server.url + "/")
                assert page.locator("a[href='/cme']").count() == 1  # the rooms page links CME
                for path, name in shots:
                    page.goto(server.url + path)
                    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                    if name == "cme_programme":
                        error = page.locator(".finding-error")
                        assert error.count() == 1 and "art. 6 alin. (2)" in error.inner_text()
                        colour = error.evaluate("e => getComputedStyle(e).borderColor")
                        assert colour == "rgb(229, 72, 77)"  # red
                        assert page.locator(".finding-warning").count() == 4
                        assert page.locator(".agenda tr").count() == 16
                        assert page.locator(".credit-box .big").inner_text() == "8"
                        assert page.locator("text=✓ present throughout").count() == 3
                        assert re.search(r"10:12:00\sAM–10:16:00\sAM", page.inner_text("body"))  # Marin's drop
                    if name == "cme_me":
                        assert page.locator(".credit-box .big").inner_text() in ("0", "8")
                context.close()
        finally:
            browser.close()
