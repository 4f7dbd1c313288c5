"""Signed media links, byte ranges, access rules, progress and view logging on a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from library.media_links import MediaLinkSigner
from tests.conftest import Server, start_server

from .lessons import PublishedFixture, login, publish_lesson


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("medroom-media"))


@pytest.fixture(scope="module")
def lesson(server: Server) -> PublishedFixture:
    return publish_lesson(server)


@pytest.fixture(scope="module")
def marko(server: Server, lesson: PublishedFixture) -> Iterator[httpx.Client]:
    with closing(login(server, "marko")) as client:
        yield client


@pytest.fixture(scope="module")
def ivan(server: Server, lesson: PublishedFixture) -> Iterator[httpx.Client]:
    with closing(login(server, "ivan")) as client:
        yield client


def playback(client: httpx.Client, lesson: PublishedFixture) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/api/lessons/{lesson.lesson_id}/playback")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def signer(server: Server) -> MediaLinkSigner:
    return MediaLinkSigner(server.env["MEDROOM_SECRET_KEY"])


def test_media_is_served_with_ranges_and_types(marko: httpx.Client,
                                               lesson: PublishedFixture) -> None:
    info = playback(marko, lesson)
    assert [t["label"] for t in info["tracks"]] == ["Program", "cam1"]
    program = lesson.folder / "program.mp4"
    data, size = program.read_bytes(), program.stat().st_size
    url = info["tracks"][0]["url"]

    whole = marko.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"].startswith("private")

    part = marko.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{size}"
    assert part.headers["content-length"] == "1000"
    tail = marko.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_end = marko.get(url, headers={"Range": f"bytes={size - 5}-"})
    assert open_end.status_code == 206 and open_end.content == data[-5:]

    for bad in (f"bytes={size}-", f"bytes={size + 1000}-{size + 2000}", "bytes=500-100",
                "bytes=abc", "pages=1-2"):
        refused = marko.get(url, headers={"Range": bad})
        assert refused.status_code == 416, bad
        assert refused.headers["content-range"] == f"bytes */{size}"

    head = marko.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)
    assert head.content == b""

    for key, file, kind in (("chapters_url", "chapters.vtt", "text/vtt; charset=utf-8"),
                            ("poster_url", "poster.jpg", "image/jpeg"),
                            ("sprite_url", "thumbnails.jpg", "image/jpeg")):
        response = marko.get(info[key])
        assert response.status_code == 200 and response.headers["content-type"] == kind
        assert response.content == (lesson.folder / file).read_bytes()
    assert "WEBVTT" in marko.get(info["chapters_url"]).text


def test_links_that_are_altered_foreign_or_expired_are_refused(
        server: Server, marko: httpx.Client, ivan: httpx.Client, lesson: PublishedFixture) -> None:
    url = playback(marko, lesson)["tracks"][0]["url"]
    path, query = url.split("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}

    def get(client: httpx.Client, path: str, **changes: str) -> httpx.Response:
        return client.get(path, params={**params, **changes})

    sig = params["sig"]
    tampered = get(marko, path, sig=("A" if sig[0] != "A" else "B") + sig[1:])
    assert tampered.status_code == 403 and "not valid for you" in tampered.json()["detail"]
    longer = get(marko, path, exp=str(int(params["exp"]) + 86400))
    assert longer.status_code == 403 and "not valid" in longer.json()["detail"]
    other_file = get(marko, path.replace("program.mp4", "iso-cam1.mp4"))
    assert other_file.status_code == 403
    assert marko.get(path).status_code == 403  # no signature at all
    # Someone else's link: the signature binds the person.
    foreign = get(ivan, path)
    assert foreign.status_code == 403 and "issued to someone else" in foreign.json()["detail"]
    assert httpx.get(server.url + url).status_code == 401  # no credentials

    expired = signer(server).issue(lesson.lesson_id, "program.mp4", "marko",
                                   now=time.time() - 3600, ttl_seconds=60)
    response = marko.get(expired.url)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"] and "reload the lesson page" in \
        response.json()["detail"]


@pytest.mark.parametrize("name", ["..%2F..%2Fmedroom.db", "..", ".env", "%2e%2e",
                                  "program.mp4%00.jpg", "x.py", "..%5Cmedroom.db"])
def test_path_traversal_is_impossible(server: Server, marko: httpx.Client,
                                      lesson: PublishedFixture, name: str) -> None:
    # Even with a correctly signed link for the strange name, nothing outside the folder.
    link = signer(server).issue(lesson.lesson_id, "program.mp4", "marko")
    query = urlsplit(link.url).query
    response = marko.get(f"/media/lessons/{lesson.lesson_id}/{name}?{query}")
    assert response.status_code in (403, 404), (name, response.status_code)
    assert b"SQLite" not in response.content


def test_student_outside_the_course_gets_403_everywhere(
        server: Server, ivan: httpx.Client, lesson: PublishedFixture) -> None:
    page = ivan.get(f"/library/lessons/{lesson.lesson_id}")
    assert page.status_code == 403 and "not enrolled" in page.text
    api = ivan.get(f"/api/lessons/{lesson.lesson_id}/playback")
    assert api.status_code == 403 and "not enrolled" in api.json()["detail"]
    # A link properly signed for ivan still needs the enrolment.
    own = signer(server).issue(lesson.lesson_id, "program.mp4", "ivan")
    media = ivan.get(own.url)
    assert media.status_code == 403 and "not enrolled" in media.json()["detail"]
    progress = ivan.put(f"/api/lessons/{lesson.lesson_id}/progress",
                        json={"view_id": 1, "position": 1, "watched": 1})
    assert progress.status_code == 403
    assert ivan.get("/api/search", params={"q": "septoplasty"}).json()["total"] == 0
    assert ivan.get("/api/lessons/999999/playback").status_code == 404


def test_progress_resume_and_view_counts(server: Server, marko: httpx.Client,
                                         lesson: PublishedFixture) -> None:
    with closing(login(server, "cura")) as curator:
        before = curator.get(f"/api/lessons/{lesson.lesson_id}/views").json()
        assert marko.get(f"/library/lessons/{lesson.lesson_id}").status_code == 200
        info = playback(marko, lesson)
        assert "counts" not in info or info["counts"] is None  # students do not see counts
        started = time.monotonic()
        ping = marko.put(f"/api/lessons/{lesson.lesson_id}/progress",
                         json={"view_id": info["view_id"], "position": 2.5, "watched": 600})
        assert ping.status_code == 200 and ping.json()["position"] == 2.5
        elapsed = time.monotonic() - started
        assert playback(marko, lesson)["resume_at"] == 2.5
        after = curator.get(f"/api/lessons/{lesson.lesson_id}/views").json()
        assert after["page_views"] == before["page_views"] + 1
        # The page carries a playback of its own, then two more through the API.
        assert after["media_sessions"] == before["media_sessions"] + 3
        # 600 s claimed in a ping that came moments after the start: only the wall time counts.
        gained = after["seconds_watched"] - before["seconds_watched"]
        assert 0 < gained <= elapsed + 2.5
        assert curator.get(f"/api/lessons/{lesson.lesson_id}/playback").json()["counts"][
            "page_views"] == after["page_views"]
    assert marko.get(f"/api/lessons/{lesson.lesson_id}/views").status_code == 403
    # Near the end counts as finished: the next visit starts from the beginning.
    end = marko.put(f"/api/lessons/{lesson.lesson_id}/progress",
                    json={"view_id": info["view_id"], "position": 1e6, "watched": 1})
    assert end.status_code == 200 and end.json()["position"] == 0
    with closing(login(server, "dr-ana")) as other:  # not a member: no access, no foreign view ids
        assert other.put(f"/api/lessons/{lesson.lesson_id}/progress",
                         json={"view_id": info["view_id"], "position": 1,
                               "watched": 1}).status_code == 403
    bad = marko.put(f"/api/lessons/{lesson.lesson_id}/progress",
                    json={"view_id": info["view_id"], "position": -1, "watched": 1})
    assert bad.status_code == 422 and "position" in bad.json()["detail"]
    without_csrf = httpx.put(server.url + f"/api/lessons/{lesson.lesson_id}/progress",
                             cookies=marko.cookies,
                             json={"view_id": info["view_id"], "position": 1, "watched": 1})
    assert without_csrf.status_code == 403


def test_search_api_finds_the_chapter(marko: httpx.Client, lesson: PublishedFixture) -> None:
    title, at = lesson.markers[1]
    found = marko.get("/api/search", params={"q": title.lower()}).json()
    assert found["total"] == 1
    hit = found["hits"][0]
    assert hit["lesson_id"] == lesson.lesson_id and hit["match"]["kind"] == "chapter"
    assert hit["match"]["at"] == pytest.approx(at - lesson.published.start, abs=0.01)
    assert hit["url"] == f"/library/lessons/{lesson.lesson_id}#t={hit['match']['at']:g}"
    assert [f["text"] for f in hit["match"]["snippet"] if f["hit"]] == [title]
    for query in ('"', "*", "OR", "NEAR(", "'; DROP TABLE lessons; --", "-", ":"):
        response = marko.get("/api/search", params={"q": query})
        assert response.status_code == 200, (query, response.text)
    assert marko.get("/api/search", params={"q": "x", "from": "2026-02-01",
                                            "to": "2026-01-01"}).status_code == 422
    page = marko.get("/library/search", params={"q": title})
    assert page.status_code == 200 and f"<mark>{title}</mark>" in page.text
