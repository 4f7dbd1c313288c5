"""Classroom participation in the CME credits, against a real `medroom serve`: two students
watch a live session on their own devices (real WHEP peers), the instructor asks a presence
check on the classroom websocket, one answers and the other does not; the programme asks for
half of the presence checks, so the participant list shows both and only one earns credits.
Bad values of the setting are refused with the reason. The participant list and the editor's
setting are photographed in headless Chromium at 1366x768 (test-artifacts/)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from library.users import Role
from tests.conftest import PASSWORD, REPO, Server, start_server
from tests.web.classroom_helpers import add_users
from tests.web.test_cme_api import auth, organiser_token
from tests.web.test_interaction_api import joined
from tests.web.whep_client import WhepClient

BUCHAREST = ZoneInfo("Europe/Bucharest")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(tmp_path_factory.mktemp("cme-participation")):
        add_users(server, ("ioana", Role.STUDENT))
        yield server


def _programme(live_id: int, percent: int) -> dict[str, Any]:
    """A one-hour lecture of a national event today, carried by the live session, from a minute
    ago (local time); the drop tolerance forgives the rest of the hour, so only the presence
    checks can tell the two students apart."""
    now = datetime.now(BUCHAREST)
    # One hour (1 credit), never across midnight; the hour's tolerance covers the rest of it.
    start = min(now - timedelta(minutes=1), now.replace(hour=22, minute=59))
    end = start + timedelta(hours=1)
    return {
        "ref": f"EMC-LIVE-{live_id}", "title": "Endoscopie nazosinusală, live",
        "kind": "scientific_event", "level": "national", "starts_on": start.date().isoformat(),
        "ends_on": start.date().isoformat(), "venue": "MedRoom",
        "organisers": [{"name": "UMF Iasi", "kind": "university"}],
        "agenda": [{"ref": "l1", "kind": "lecture", "day": start.date().isoformat(),
                    "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                    "title": "Meatotomie medie", "live_session_id": live_id,
                    "speaker": {"name": "Ana Popescu", "title": "Prof. dr."}}],
        "drop_tolerance_seconds": 3600, "presence_check_percent": percent,
    }


async def _live_session_with_a_presence_check(server: Server, teacher: str) -> None:
    """Goes live; marko and ioana watch; a presence check: marko answers, ioana does not;
    ioana asks a question instead."""
    async with httpx.AsyncClient(base_url=server.url, headers=auth(teacher)) as http:
        r = await http.post("/api/rooms/demo/live", json={"title": "Endoscopie, live"})
        assert r.status_code == 201, r.text
    viewers = []
    for who in ("marko", "ioana"):
        viewer = WhepClient(server.url, "demo", server.token("student", room="demo", subject=who))
        assert (await viewer.join()).status_code == 201
        viewers.append(viewer)
    try:
        async with joined(server, teacher) as moderator, \
                joined(server, server.token("student", subject="marko")) as marko, \
                joined(server, server.token("student", subject="ioana")) as ioana:
            await moderator.send(type="poll", question="Still with us?", options=["Yes", "Here"],
                                 seconds=60, presence_check=True)
            poll = (await marko.next("poll"))["poll"]
            assert poll["presence_check"]
            await marko.send(type="poll.answer", id=poll["id"], option=0)
            assert (await marko.next("poll.answered"))["id"] == poll["id"]
            await ioana.send(type="question", text="Why a 30° scope here?", anonymous=False)
            await moderator.until("question", lambda m: m["question"]["author"]["key"] == "ioana")
            await moderator.send(type="poll.close", id=poll["id"])
            await moderator.until("poll", lambda m: not m["poll"]["open"])
    finally:
        for viewer in viewers:
            await viewer.pc.close()


def _live_id(server: Server) -> int:
    """The demo room's latest live session (the organiser's editor lists them)."""
    from library.db import Database
    from library.models import LiveSession

    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        with db.session() as session:
            row = session.query(LiveSession).order_by(LiveSession.id.desc()).first()
            assert row is not None
            return int(row.id)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def programme(server: Server) -> dict[str, Any]:
    teacher = organiser_token(server, "dr-ana")

    asyncio.run(_live_session_with_a_presence_check(server, teacher))
    live_id = _live_id(server)
    r = httpx.post(f"{server.url}/api/cme/programmes", json=_programme(live_id, 50),
                   headers=auth(teacher))
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"], "live": live_id, "teacher": teacher, "body": r.json()}


def _participants(server: Server, programme: dict[str, Any]) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}/participants",
                  headers=auth(programme["teacher"]))
    assert r.status_code == 200, r.text
    assert r.json()["presence_check_percent"] == 50
    return {p["person_id"]: p for p in r.json()["participants"]}


def test_presence_check_answered_by_one_student_decides_the_credits(
        server: Server, programme: dict[str, Any]) -> None:
    assert programme["body"]["programme"]["presence_check_percent"] == 50
    people: dict[str, dict[str, Any]] = {}
    for _ in range(50):  # the classroom's writer keeps records within moments
        people = _participants(server, programme)
        if people.get("marko", {}).get("participation"):
            break
        time.sleep(0.1)
    marko, ioana = people["marko"], people["ioana"]
    live = programme["live"]
    [m] = marko["participation"]
    assert (m["live_session_id"], m["checks_answered"], m["checks_asked"], m["checks_met"],
            m["poll_answers"]) == (live, 1, 1, True, 1)
    [i] = ioana["participation"]
    assert (i["checks_answered"], i["checks_asked"], i["checks_met"], i["questions"]) == (
        0, 1, False, 1)
    assert marko["qualified"] and marko["credits"] > 0
    assert not ioana["qualified"] and ioana["credits"] == 0
    assert (f"answered 0 of 1 presence checks in live session {live}; the programme asks for"
            " 50 %") in ioana["explanation"]
    assert "presence check in live session" in ioana["note"]
    # The CSV for the College (in Romanian) says the same in its own column.
    r = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}/participants.csv",
                  params={"lang": "ro"}, headers=auth(programme["teacher"]))
    rows = {row[1]: row for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))}
    assert rows["ioana"][-1].endswith("verificări ale prezenței: 0 din 1 (cerut 50\u00a0%: neîndeplinit)")
    assert rows["marko"][6] != "0" and rows["ioana"][6] == "0"
    # The audit report lists the participation beside its mismatches.
    r = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}/audit-report",
                  headers=auth(programme["teacher"]))
    assert r.status_code == 200, r.text
    entries = {e["person_id"]: e for e in r.json()["participation"]}
    assert entries["marko"]["checks_met"] is True and entries["ioana"]["checks_met"] is False
    # With the setting off, both earn the credits: it is the organiser's choice.
    body = {**_programme(live, 0), "ref": programme["body"]["ref"]}
    r = httpx.put(f"{server.url}/api/cme/programmes/{programme['id']}", json=body,
                  headers=auth(programme["teacher"]))
    assert r.status_code == 200, r.text
    r = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}/participants",
                  headers=auth(programme["teacher"]))
    both = {p["person_id"]: p for p in r.json()["participants"]}
    assert both["ioana"]["qualified"] and both["ioana"]["credits"] == both["marko"]["credits"]
    r = httpx.put(f"{server.url}/api/cme/programmes/{programme['id']}",
                  json={**body, "presence_check_percent": 50},
                  headers=auth(programme["teacher"]))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("bad", [101, -1, 12.5, "half", True, None])
def test_a_bad_share_is_refused_with_the_reason(server: Server, programme: dict[str, Any],
                                                bad: object) -> None:
    body = {**_programme(programme["live"], 50), "ref": programme["body"]["ref"],
            "presence_check_percent": bad}
    for method, path in (("PUT", f"/api/cme/programmes/{programme['id']}"),
                         ("POST", "/api/cme/preview")):
        r = httpx.request(method, server.url + path, json=body, headers=auth(programme["teacher"]))
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == (
            f"presence_check_percent: presence checks to answer: {bad!r} must be a whole"
            " percentage from 0 (not required) to 100 (every presence check)")
    stored = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}",
                       headers=auth(programme["teacher"])).json()
    assert stored["programme"]["presence_check_percent"] == 50


@pytest.mark.browser
def test_participant_list_and_editor_setting_in_headless_chromium(
        server: Server, programme: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--headless"])
        try:
            # The pages' own Content-Security-Policy stays on: the scripts must work under it.
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            page.goto(server.url + "/login")
            page.fill("input[name=username]", "dr-ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")
            context_state = context.storage_state()
            page.goto(f"{server.url}/cme/programmes/{programme['id']}/participants")
            assert "at least 50%" in page.inner_text("#checks-rule")
            ioana = page.locator("tr[data-person='ioana']")
            assert "presence checks 0 of 1" in ioana.locator(".checks-no").inner_text()
            assert "1 question" in ioana.locator("td.live-part").inner_text()
            marko = page.locator("tr[data-person='marko']")
            assert "presence checks 1 of 1" in marko.locator(".checks-ok").inner_text()
            page.screenshot(path=str(ARTIFACTS / "cme_participants_presence_checks.png"))
            page.goto(f"{server.url}/cme/audit?programme_id={programme['id']}")
            audit = page.locator("#audit-participation")
            assert "0 of 1" in audit.locator("tr[data-person='ioana']").inner_text()
            audit.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cme_audit_participation.png"))
            page.goto(f"{server.url}/cme/programmes/{programme['id']}/edit")
            field = page.locator("input[name=presence_check_percent]")
            assert field.input_value() == "50"
            field.fill("150")
            page.wait_for_selector("#ed-checks-error:not([hidden])")
            assert "whole percentage from 0 (not required) to 100" in page.inner_text(
                "#ed-checks-error")
            page.click("#ed-save")
            assert "whole percentage" in page.inner_text("#ed-message")
            field.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cme_editor_presence_checks_error.png"))
            field.fill("75")
            page.wait_for_selector("#ed-checks-error", state="hidden")
            page.click("#ed-save")
            page.wait_for_selector("#ed-message.message-ok")
            field.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cme_editor_presence_checks.png"))
            context.close()
            # A phone: the same page and setting, looked at.
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        storage_state=context_state)
            page = phone.new_page()
            page.goto(f"{server.url}/cme/programmes/{programme['id']}/participants")
            page.locator("tr[data-person='ioana'] td.live-part").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cme_participants_presence_checks_phone.png"))
            page.goto(f"{server.url}/cme/programmes/{programme['id']}/edit")
            page.locator("input[name=presence_check_percent]").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "cme_editor_presence_checks_phone.png"))
            phone.close()
        finally:
            browser.close()
    stored = httpx.get(f"{server.url}/api/cme/programmes/{programme['id']}",
                       headers=auth(programme["teacher"])).json()
    assert stored["programme"]["presence_check_percent"] == 75
