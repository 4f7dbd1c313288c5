"""Who may act on a CME programme, as an attacker with an ordinary account would try it
(issue 16, items 1 and 2), against a real `medroom serve` built like `make run`: the demo CME
programme is organised by ``instructor``, who started its live sessions; ``mallory`` is another
instructor who organises nothing of it, ``bob`` an instructor ``instructor`` names as a
co-organiser of a draft.

Each attack is a real request; the answers are collected and compared all at once, so a
failure lists every door that opened, not only the first.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from library.cme.demo import DEMO_REF
from library.db import Database
from library.users import Role, create_user, get_user_by_username, set_password
from tests.conftest import PASSWORD, start_server
from tests.web.test_cme_participants_api import CNP_RE, Demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir: Path = tmp_path_factory.mktemp("medroom-rights")
    for server in start_server(data_dir, create_users=False):
        db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
        try:
            for name in ("admin", "instructor", "curator", "demo.ionescu"):
                user = get_user_by_username(db, name)
                assert user is not None, f"demo account {name} missing"
                set_password(db, user.id, PASSWORD)
            create_user(db, "mallory", PASSWORD, Role.INSTRUCTOR)
            create_user(db, "bob", PASSWORD, Role.INSTRUCTOR)
        finally:
            db.dispose()
        admin = Demo(server, 0).login("admin")
        [programme] = [p for p in admin.get("/api/cme/programmes").json() if p["ref"] == DEMO_REF]
        yield Demo(server, programme["id"])


def programme_body(demo: Demo, ref: str, *, live: bool) -> dict[str, Any]:
    """The demo programme as the API takes it, under another ref; with or without the demo's
    live sessions in its agenda."""
    stored = demo.login("admin").get(f"/api/cme/programmes/{demo.programme_id}").json()
    body: dict[str, Any] = copy.deepcopy(stored["programme"])
    body.update(ref=ref, timezone=stored["timezone"])
    if not live:
        for item in body["agenda"]:
            item["live_session_id"] = None
    return body


def test_issue_16_1_a_programme_cannot_borrow_another_instructors_live_sessions(
    demo: Demo,
) -> None:
    """The bypass: create a programme whose agenda links someone else's live sessions, become
    its creator, download the attendees' full CNPs."""
    answers: dict[str, Any] = {}
    for who in ("mallory", "curator"):
        client = demo.login(who)
        r = client.post("/api/cme/programmes", json=programme_body(demo, f"STEAL-{who}", live=True))
        answers[f"{who} creates with the demo's live sessions"] = r.status_code
        if r.status_code == 201:
            stolen = client.get(f"/api/cme/programmes/{r.json()['id']}/participants.csv",
                                params={"cnp": "full"})
            answers[f"{who} full CNPs"] = len(CNP_RE.findall(stolen.text))
        # The same through an edit of an innocent draft of one's own.
        draft = client.post("/api/cme/programmes",
                            json=programme_body(demo, f"DRAFT-{who}", live=False))
        answers[f"{who} creates without"] = draft.status_code
        r = client.put(f"/api/cme/programmes/{draft.json()['id']}",
                       json=programme_body(demo, f"DRAFT-{who}", live=True))
        answers[f"{who} links by an edit"] = r.status_code
        if r.status_code == 403:
            assert "started by someone else" in r.json()["detail"]
        # The editor offers only the live sessions one may link.
        page = client.get("/cme/new").text
        answers[f"{who} editor offers"] = re.findall(r'"room": "demo"', page).__len__()
    # Their starter and an admin may link them.
    r = demo.login("admin").post("/api/cme/programmes",
                                 json=programme_body(demo, "ADMIN-COPY", live=True))
    answers["admin creates with them"] = r.status_code
    r = demo.login("instructor").post("/api/cme/programmes",
                                      json=programme_body(demo, "OWN-COPY", live=True))
    answers["their starter creates with them"] = r.status_code
    assert answers == {
        "mallory creates with the demo's live sessions": 403,
        "mallory creates without": 201, "mallory links by an edit": 403,
        "mallory editor offers": 0,
        "curator creates with the demo's live sessions": 403,
        "curator creates without": 201, "curator links by an edit": 403,
        "curator editor offers": 0,
        "admin creates with them": 201, "their starter creates with them": 201,
    }


def test_issue_16_2_organiser_is_a_relation_not_a_role(demo: Demo) -> None:
    owner, mallory, bob = demo.login("instructor"), demo.login("mallory"), demo.login("bob")
    demo_id = demo.programme_id
    r = owner.post("/api/cme/programmes", json=programme_body(demo, "OWNER-DRAFT", live=False))
    assert r.status_code == 201, r.text
    draft_id = r.json()["id"]
    bank = {"questions": [{"kind": "single", "text": "Q?", "options": ["a", "b"], "correct": [1]}]}
    assert owner.put(f"/api/cme/programmes/{draft_id}/questions", json=bank).status_code == 200
    cert = demo.login("demo.ionescu").get("/api/cme/me/score").json()["certificates"][0]

    def attacks(client: httpx.Client) -> dict[str, int]:
        p, d = f"/api/cme/programmes/{demo_id}", f"/api/cme/programmes/{draft_id}"
        edited = programme_body(demo, "OWNER-DRAFT", live=False) | {"title": "Mine now"}
        return {
            "read": client.get(p).status_code,
            "attendance": client.get(f"{p}/attendance").status_code,
            "edit": client.put(d, json=edited).status_code,
            "answer key": client.get(f"{d}/questions").status_code,
            "bank edit": client.put(f"{d}/questions", json=bank).status_code,
            "attempts": client.get(f"{p}/attempts").status_code,
            "participants": client.get(f"{p}/participants").status_code,
            "export": client.get(f"{p}/participants.csv").status_code,
            "reveal": client.post(f"{p}/participants/demo.ionescu/cnp").status_code,
            "issue": client.post(f"{p}/certificates").status_code,
            "certificates": client.get(f"{p}/certificates").status_code,
            "certificate pdf": client.get(cert["download"]).status_code,
            "revoke": client.post(f"/api/cme/certificates/{cert['number']}/revoke",
                                  json={"reason": "because I can"}).status_code,
            "audit report": client.get(f"{p}/audit-report").status_code,
            "programme page": client.get(f"/cme/programmes/{demo_id}").status_code,
            "edit page": client.get(f"/cme/programmes/{draft_id}/edit").status_code,
            "participants page": client.get(f"/cme/programmes/{demo_id}/participants").status_code,
            "bank page": client.get(f"/cme/programmes/{draft_id}/questions",
                                    follow_redirects=False).status_code,
        }

    refused = {"read": 403, "attendance": 403, "edit": 403, "answer key": 403,
               "bank edit": 403, "attempts": 403, "participants": 403, "export": 403,
               "reveal": 403, "issue": 403, "certificates": 403, "certificate pdf": 404,
               "revoke": 404, "audit report": 403, "programme page": 403, "edit page": 403,
               "participants page": 403, "bank page": 303}
    assert attacks(mallory) == refused
    assert attacks(demo.login("curator")) == refused
    # The whole access log: mallory sees the entries of his own programmes only.
    log = mallory.get("/api/cme/audit", params={"limit": 1000}).json()
    own = {p["id"] for p in mallory.get("/api/cme/programmes").json() if p["may_organise"]}
    assert log and {e["programme_id"] for e in log} <= own and demo_id not in own, log[:3]
    assert mallory.get("/api/cme/audit", params={"programme_id": demo_id}).json() == []
    assert "mallory" not in demo.login("admin").get("/api/cme/audit", params={
        "programme_id": demo_id, "actor": "mallory", "action": "certificate.revoke"}).text
    # The /cme list: no way into another's programme, an edit button on one's own draft.
    listing = mallory.get("/cme").text
    assert f'href="/cme/programmes/{draft_id}' not in listing
    assert f'href="/cme/programmes/{draft_id}/edit"' in owner.get("/cme").text
    assert [p["may_organise"] for p in mallory.get("/api/cme/programmes").json()
            if p["id"] in (demo_id, draft_id)] == [False, False]

    # Named by the creator, bob organises the draft: he edits it and reads its answer key.
    named = programme_body(demo, "OWNER-DRAFT", live=False) | {"organiser_usernames": ["bob"]}
    r = owner.put(f"/api/cme/programmes/{draft_id}", json=named)
    assert r.status_code == 200 and r.json()["organiser_usernames"] == ["bob"]
    assert bob.get(f"/api/cme/programmes/{draft_id}/questions").status_code == 200
    assert bob.put(f"/api/cme/programmes/{draft_id}", json=named).status_code == 200
    assert bob.get(f"/cme/programmes/{draft_id}/edit").status_code == 200
    assert [e["programme_id"] for e in bob.get("/api/cme/audit").json()] and all(
        e["programme_id"] == draft_id for e in bob.get("/api/cme/audit").json())
    assert bob.get(f"/api/cme/programmes/{demo_id}/participants").status_code == 403
    for bad, why in ((["nobody.here"], "no account"), (["demo.ionescu"], "student")):
        r = owner.put(f"/api/cme/programmes/{draft_id}", json=named | {"organiser_usernames": bad})
        assert r.status_code == 422 and why in r.json()["detail"], r.text
    # The holder and the organisers still get the certificate; an admin reads the whole log.
    assert demo.login("demo.ionescu").get(cert["download"]).status_code == 200
    assert owner.get(cert["download"]).status_code == 200
    actions = {e["action"] for e in demo.login("admin").get("/api/cme/audit").json()}
    assert "auth.login" in actions
