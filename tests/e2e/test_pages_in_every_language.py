"""Every page in every language, as a browser shows it (issue 13): headless Chromium opens the
console, the watch page, the lesson player, the library search, the curation page, the CME pages
and the remote classroom pages in Romanian, Serbian (Cyrillic and Latin) and Bulgarian, and
checks what a reader would notice:

- the page says which language it is in (``<html lang>``, which screen readers and hyphenation
  follow);
- no button, label, table header or navigation item has text running out of its box (Romanian
  and Bulgarian words are long);
- in a Cyrillic page, no Latin word of three letters or more is left in the visible text outside
  user content (``translate="no"``) and names that are the same everywhere (MedRoom, DICOM...).

One server, one browser, one context per person and language, pages reused. Screenshots in a
temporary folder, and in $MEDROOM_SHOTS/pages/ when MEDROOM_SHOTS is set ("1": /work/wt/shots).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from library.users import Role
from tests.conftest import PASSWORD, Server, start_server
from tests.e2e.test_browser import browser  # noqa: F401  (fixture)
from tests.i18n.untranslated import SAME_EVERYWHERE
from tests.web.classroom_helpers import add_users, login, register
from tests.web.lessons import publish_lesson
from tests.web.test_cme_api import auth, organiser_token
from tests.web.test_cme_quiz_api import TODAY, emcd

pytestmark = pytest.mark.browser

# Playwright's locale (it sets Accept-Language) -> the tag the page must carry.
LOCALES = {"ro-RO": "ro", "sr-Cyrl-RS": "sr-Cyrl", "sr-Latn-RS": "sr-Latn", "bg-BG": "bg"}
CYRILLIC = {"sr-Cyrl", "bg"}
# More names that stay as they are in a Cyrillic page: standards, units, products.
ALSO_SAME = {"WebRTC", "HLS", "JPEG", "PNG", "SVG", "MPEG", "HEVC", "AV1", "Opus", "AAC",
             "IANA", "NTP", "NAT", "LAN", "Wi", "Fi", "USB", "HDMI", "SDI", "NDI", "GPU",
             "CPU", "kbps", "Mbps", "MiB", "GiB", "KiB", "MB", "GB", "kB", "Hz", "kHz", "dB",
             "EET", "EEST", "CET", "CEST", "GMT",
             # Citations of the Romanian CME procedure keep its own abbreviations ("art. 10
             # lit. a", "alin. (1)"), so a reader finds them in the Romanian text.
             "art", "lit", "alin"}
ALLOWED = SAME_EVERYWHERE | ALSO_SAME


@dataclass(frozen=True)
class PageSpec:
    name: str
    user: str | None  # who opens it (None: nobody logged in)
    path: str  # may name {lesson}, {programme}, {classroom}
    owner: str  # the part of the catalogs that translates it


PAGES = [
    PageSpec("console", "dr-ana", "/rooms/demo/console", "console"),
    PageSpec("watch", "marko", "/rooms/demo/watch", "watch"),
    PageSpec("player", "marko", "/library/lessons/{lesson}", "library"),
    PageSpec("search", "marko", "/library/search", "library"),
    PageSpec("curate", "cura", "/library/curate", "library"),
    PageSpec("cme-list", "dr-ana", "/cme", "cme"),
    PageSpec("cme-programme", "dr-ana", "/cme/programmes/{programme}", "cme"),
    PageSpec("cme-edit", "dr-ana", "/cme/programmes/{programme}/edit", "cme"),
    PageSpec("cme-participants", "dr-ana", "/cme/programmes/{programme}/participants", "cme"),
    PageSpec("cme-me", "marko", "/cme/me", "cme"),
    PageSpec("cme-verify", None, "/verify/MR-0000-0000", "cme"),
    PageSpec("login", None, "/login", "login page"),
    PageSpec("account", "marko", "/account", "common"),
    PageSpec("classrooms", "root", "/classrooms", "classrooms"),
    PageSpec("checkin", "marko", "/checkin?at={classroom}", "classrooms"),
    PageSpec("screen-pairing", None, "/screen", "classrooms"),
]
# Boxes whose text must fit; inline elements have no box of their own and are skipped.
OVERFLOW = """() => {
  const out = [];
  const boxes = document.querySelectorAll(
    'button, .btn, label, th, nav a, nav button, .crumbs a, .tabs a, [role=tab], summary, .badge');
  for (const el of boxes) {
    if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
    const style = getComputedStyle(el);
    if (style.display === 'inline' || style.visibility === 'hidden') continue;
    if (el.closest('.visually-hidden')) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push(`${el.tagName.toLowerCase()}.${el.className}: "${el.textContent.trim().slice(0, 60)}" `
               + `(${el.scrollWidth} > ${el.clientWidth} px)`);
    }
  }
  return out;
}"""

# The text a person sees, outside user content and outside elements in another language (the
# language switcher names each language in itself), and the placeholders of empty fields.
# (Tooltips and labels for screen readers are left out: they often carry a name, which an
# attribute cannot mark as content; the catalog check covers their words.)
VISIBLE_TEXT = """() => {
  const out = [];
  const page = document.documentElement.lang;
  const skip = (el) => !el || el.closest('[translate="no"], kbd, script, style, noscript, template, [hidden]')
    || (el.closest('[lang]') && el.closest('[lang]').lang !== page)
    || (!el.offsetParent && getComputedStyle(el).position !== 'fixed');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if (text && !skip(node.parentElement)) out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (!skip(el) && !el.value) out.push(el.getAttribute('placeholder'));
  }
  return out;
}"""
LATIN_WORD = re.compile(r"(?<![\w./:@-])[A-Za-z][A-Za-z'’]{2,}(?![\w/@-])")


def latin_words(texts: list[str]) -> list[str]:
    """Words of three Latin letters or more that are not names kept in every language."""
    found = []
    for text in texts:
        for word in LATIN_WORD.findall(text):
            if word not in ALLOWED:
                found.append(f"{word!r} in {text[:80]!r}")
    return found


def shots_dirs() -> list[Path]:
    dirs = []
    value = os.environ.get("MEDROOM_SHOTS", "")
    if value:
        root = Path("/work/wt/shots") if value.lower() in ("1", "true", "yes") else Path(value)
        (root / "pages").mkdir(parents=True, exist_ok=True)
        dirs.append(root / "pages")
    return dirs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for server in start_server(tmp_path_factory.mktemp("pages-in-every-language")):
        add_users(server, ("root", Role.ADMIN))
        yield server


@pytest.fixture(scope="module")
def site(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the pages need: a published lesson, a CME programme, a classroom."""
    lesson = publish_lesson(server, seconds=2.0)
    organiser = auth(organiser_token(server, "dr-ana"))
    made = httpx.post(f"{server.url}/api/cme/programmes", json=emcd(TODAY), headers=organiser)
    assert made.status_code == 201, made.text
    classroom = register(login(server, "root"), "Amfiteatrul 2", "Craiova")
    return {"lesson": lesson.lesson_id, "programme": made.json()["id"],
            "classroom": classroom, "shots": tmp_path_factory.mktemp("page-shots")}


@pytest.fixture(scope="module")
def tabs(browser, server: Server) -> Iterator[dict[tuple[str, str | None], Any]]:  # type: ignore[no-untyped-def]  # noqa: F811
    """One page per language and person, logged in once and reused for every page."""
    opened: dict[tuple[str, str | None], Any] = {}
    contexts = []

    def tab(locale: str, user: str | None) -> Any:
        if (locale, user) not in opened:
            context = browser.new_context(viewport={"width": 1366, "height": 900},
                                          locale=locale, timezone_id="Europe/Bucharest",
                                          bypass_csp=True)
            contexts.append(context)
            page = context.new_page()
            if user is not None:
                page.goto(server.url + "/login")
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server.url + "/")
            opened[(locale, user)] = page
        return opened[(locale, user)]

    yield tab  # type: ignore[misc]
    for context in contexts:
        context.close()


def _cases() -> list[Any]:
    return [pytest.param(locale, spec, id=f"{tag}-{spec.name}")
            for locale, tag in LOCALES.items() for spec in PAGES]


@pytest.mark.parametrize(("locale", "spec"), _cases())
def test_the_page_reads_in_the_language(locale: str, spec: PageSpec, server: Server,  # type: ignore[no-untyped-def]
                                        site: dict[str, Any], tabs) -> None:
    tag = LOCALES[locale]
    page = tabs(locale, spec.user)
    page.goto(server.url + spec.path.format(**site), wait_until="load")
    # Lists and panels fill in from the API after load.
    page.wait_for_timeout(400)
    for folder in [site["shots"], *shots_dirs()]:
        page.screenshot(path=str(folder / f"{tag}-{spec.name}.png"))
    problems = []
    lang = page.get_attribute("html", "lang")
    if lang != tag:
        problems.append(f"<html lang={lang!r}>, expected {tag!r}")
    problems += [f"overflows: {o}" for o in page.evaluate(OVERFLOW)]
    if tag in CYRILLIC:
        problems += [f"Latin text: {w}" for w in latin_words(page.evaluate(VISIBLE_TEXT))]
    assert not problems, f"{spec.path} in {tag}:\n" + "\n".join(problems[:40])
