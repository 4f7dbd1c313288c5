"""The CME documents and pages in the reader's language, against a real `medroom serve` with the
demo programme: certificates are Romanian whatever the page's language (the College's
document), bilingual on the holder's choice (Romanian and the holder's language, Cyrillic
included, read back with pypdf); the public verification page follows the browser; the
participant list follows its viewer (Serbian headings and Serbian dates), with a Romanian copy
for the College."""

from __future__ import annotations

import csv
import io
import re

import httpx
from pypdf import PdfReader

from tests.web import test_cme_participants_api as demo_api
from tests.web.test_cme_participants_api import Demo

demo = demo_api.demo  # the demo server (`medroom serve` with the demo programme), this module's own

CYRILLIC = re.compile("[\u0400-\u04ff]")


def speaking(demo: Demo, username: str, accept: str) -> httpx.Client:
    client = demo.login(username)
    client.headers["Accept-Language"] = accept
    return client


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def my_certificate(client: httpx.Client) -> dict[str, str]:
    [cert] = client.get("/api/cme/me/score").json()["certificates"]
    return cert


def test_a_certificate_is_romanian_whatever_the_pages_language(demo: Demo) -> None:
    for accept in ("bg", "sr-RS", "en"):
        student = speaking(demo, "student", accept)
        cert = my_certificate(student)
        r = student.get(cert["download"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = pdf_text(r.content)
        assert "CERTIFICAT DE " in text and f"Nr. de înregistrare: {cert['number']}" in text
        assert "Se certifică faptul că" in text and "credite EMC" in text
        assert "Verificați acest certificat:" in text
        assert not CYRILLIC.search(text), text  # no line in the page's language
        assert "CERTIFICATE OF" not in text and "credits" not in text


def test_a_bilingual_certificate_carries_romanian_and_the_holders_language(demo: Demo) -> None:
    student = speaking(demo, "student", "bg")
    cert = my_certificate(student)
    text = pdf_text(student.get(cert["download"], params={"also": "bg"}).content)
    for romanian, bulgarian in (
        ("CERTIFICAT DE ", "СЕРТИФИКАТ ЗА "),
        (f"Nr. de înregistrare: {cert['number']}", f"Регистрационен №: {cert['number']}"),
        ("Se certifică faptul că", "С настоящото се удостоверява, че"),
        ("credite EMC", "кредита за ПМО"),
        ("Furnizorul de EMC (semnătura, ștampila)", "Доставчик на ПМО (подпис, печат)"),
    ):
        assert romanian in text and bulgarian in text, (romanian, bulgarian, text)
        assert text.index(romanian) < text.index(bulgarian)  # the translation under the original
    serbian = pdf_text(student.get(cert["download"], params={"also": "sr_Cyrl"}).content)
    assert "СЕРТИФИКАТ О " in serbian and "бода КМЕ" in serbian and "credite EMC" in serbian
    latin = pdf_text(student.get(cert["download"], params={"also": "sr_Latn"}).content)
    assert "SERTIFIKAT O " in latin and not CYRILLIC.search(latin)
    # The page offers it in the holder's language, next to the Romanian one.
    page = student.get("/cme/me").text
    assert "PDF, румънски + Български" in page and f'{cert["download"]}?also=bg' in page
    assert student.get(cert["download"], params={"also": "klingon"}).status_code == 422


def test_the_verification_page_speaks_bulgarian_to_a_bulgarian_browser(demo: Demo) -> None:
    number = my_certificate(demo.login("student"))["number"]
    r = httpx.get(f"{demo.server.url}/verify/{number}",
                  headers={"Accept-Language": "bg-BG,bg"}, timeout=60)
    assert r.status_code == 200 and '<html lang="bg"' in r.text
    for bulgarian in ("Валиден сертификат", "Сертификат за участие", "Притежател",
                      "кредита за ПМО", "Колегията на лекарите в Румъния"):
        assert bulgarian in r.text, bulgarian
    assert "Valid certificate" not in r.text and "Holder" not in r.text
    assert re.search(r"\d{1,2}\.\d{2}\.\d{4}\u202fг\.", r.text)  # a Bulgarian date: 23.11.2026 г.
    unknown = httpx.get(f"{demo.server.url}/verify/MR-2026-999999",
                        headers={"Accept-Language": "bg"}, timeout=60)
    assert unknown.status_code == 404 and "Сертификатът не е намерен" in unknown.text


def test_the_participant_list_follows_a_serbian_viewer_and_a_college_copy_is_romanian(
        demo: Demo) -> None:
    organiser = speaking(demo, "instructor", "sr-RS")
    base = f"/api/cme/programmes/{demo.programme_id}/participants"
    rows = list(csv.reader(io.StringIO(organiser.get(base + ".csv").content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Бр.", "Име и презиме"] and rows[0][6] == "Бодови КМЕ"
    remarks = " ".join(row[7] for row in rows[1:])
    assert "присутан у целости" in remarks and "prezent" not in remarks
    pdf = organiser.get(base + ".pdf")
    text = pdf_text(pdf.content)
    assert "Списак учесника" in text
    assert re.search(r"\b\d{1,2}\. \d{1,2}\. \d{4}\.", text), text[:500]  # 23. 11. 2026.
    assert "spisak-ucesnika-" in pdf.headers["content-disposition"]
    college = organiser.get(base + ".csv", params={"lang": "ro"})
    head = next(csv.reader(io.StringIO(college.content.decode("utf-8-sig"))))
    assert head[:2] == ["Nr.", "Nume și prenume"] and "lista-participanti-" in college.headers[
        "content-disposition"]
    page = organiser.get(f"/cme/programmes/{demo.programme_id}/participants").text
    assert '<html lang="sr-Cyrl"' in page and "Списак учесника" in page
    assert "?cnp=full&amp;lang=ro" in page
