"""Every route of the app, asked by every kind of caller, answers as this table says (issue 16,
"Proof").

The table is keyed by (METHOD, path template) and the first test compares its keys with the
routes ``create_app`` builds: a new route without an entry fails, and so does an entry whose
route is gone. The second test makes each request, as each of seven callers, against one real
``medroom serve`` with the demo data and a few rows of its own:

- ``anon``: no credentials at all;
- ``student``: enrolled in the course of the published lesson, holder of a demo certificate;
- ``student2``: a student of another course (``ivan``, in gastroenterology only);
- ``curator``: curates every course, organises no programme;
- ``instructor2``: an instructor who teaches no course and organises no programme;
- ``organiser``: the demo ``instructor``: teaches the lesson's course, created the demo CME
  programme (and a draft of his own here), started the demo's live sessions;
- ``admin``.

Answers are classes, not exact codes: ``ok`` is 2xx or a redirect that is not to the login
page; ``denied`` is 401/403 or the login redirect of a page; ``hidden`` is a 404 the app gives on
purpose so as not to tell whether something exists; ``passed`` (for requests that change shared
state or name an id nobody holds) is any answer other than denied or a 5xx: the permission
check let the caller through and the route then said 404/409/415/422 about the request. An int
is an exact status. Denied callers are asked before allowed ones on every row, so that a row
that deletes or revokes cannot turn a 403 into a 404; rows marked ``late`` run after all others
(ending the live session, stopping the recording, revoking, submitting, logging out).
FastAPI runs the dependencies (where every permission check is) before it reports body
validation, so a denied caller gets 401/403 whatever the body; the bodies sent here are valid
where it was cheap to make them so.

Rooms keep no list of their instructors (``library/cme/rights.py``): every instructor controls
every room, so ``instructor2`` is allowed on the room routes by design.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount

from config.settings import Settings
from library.classrooms import create_classroom
from library.cme.demo import DEMO_REF
from library.courses import list_courses, set_member
from library.db import Database
from library.lessons import add_note, create_lesson
from library.users import Role, create_user, get_user_by_username, set_password
from tests.conftest import PASSWORD, Server, start_server
from tests.web.lessons import publish_lesson
from tests.web.test_cme_participants_api import Demo
from tests.web.test_cme_rights_api import programme_body
from web.app import create_app

PRINCIPALS = ("anon", "student", "student2", "curator", "instructor2", "organiser", "admin")
ACCOUNTS = {"student": "student", "student2": "ivan", "curator": "curator",
            "instructor2": "instructor2", "organiser": "instructor", "admin": "admin"}
OK, DENIED, HIDDEN, PASSED = "ok", "denied", "hidden", "passed"
Expected = str | int

# -- who: the groups the rules name ------------------------------------------------------------

EVERYONE = frozenset(PRINCIPALS)
LOGGED_IN = EVERYONE - {"anon"}
CONTROL = frozenset({"instructor2", "organiser", "admin"})  # instructors and admins, any room
REVIEWERS = CONTROL | {"curator"}
STAFF = REVIEWERS  # the library's staff roles, before the course is asked
CURATES_COURSE = frozenset({"curator", "organiser", "admin"})  # curators, the course's teacher
CURATORS = frozenset({"curator", "admin"})
WATCHERS = CURATES_COURSE | {"student"}  # the lesson's course: its students and its curators
ORGANISING_ROLES = REVIEWERS  # may create a programme and list programmes
ORGANISERS = frozenset({"organiser", "admin"})  # of this programme
ADMINS = frozenset({"admin"})


def allow(who: frozenset[str], yes: Expected = OK, no: Expected = DENIED,
          **cells: Expected) -> dict[str, Expected]:
    """The answer of each principal: ``yes`` for those in ``who``, ``no`` for the others
    (anonymous callers are always ``denied`` unless named), then single cells overridden."""
    table = {p: yes if p in who else (no if p != "anon" else DENIED) for p in PRINCIPALS}
    return table | cells


@dataclass(frozen=True)
class Row:
    expect: dict[str, Expected]
    ids: dict[str, str] = field(default_factory=dict)  # placeholders other than the defaults
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    content_type: str | None = None
    late: bool = False
    why: str = ""


# -- the table ---------------------------------------------------------------------------------
# Bodies that need the seeded ids are functions of them (see ``Seed``).

FUTURE = datetime.now(UTC) + timedelta(days=30)
PLAN = {"title": "Matrix", "starts_at": FUTURE.isoformat(),
        "ends_at": (FUTURE + timedelta(minutes=30)).isoformat()}
BANK = {"questions": [{"kind": "single", "text": "Q?", "options": ["a", "b"], "correct": [1]}]}
NO_SUCH = "0123456789abcdef0123456789abcdef"  # a session URL, recording, attempt nobody holds
# A student opening an organiser's page is sent to their own CME page (303 elsewhere).
AWAY = 303
SENT_AWAY = "students are sent to /cme or /cme/me; other roles get 403"
ROOM_CHANGE = "changes the room for everyone: any answer but 401/403 shows the check let it by"

TABLE: dict[tuple[str, str], Row] = {
    # session and docs
    ("GET", "/login"): Row(allow(EVERYONE)),
    ("POST", "/login"): Row({}, why="every principal's client below is made by it; wrong "
                            "passwords: tests/web/test_login_throttle.py"),
    ("POST", "/logout"): Row(allow(LOGGED_IN, 303), late=True,
                             why="303 to the login page; without a session there is no CSRF "
                             "token to send: 403"),
    ("GET", "/openapi.json"): Row(allow(LOGGED_IN)),
    # language (web/routes/language.py)
    ("GET", "/account"): Row(allow(LOGGED_IN)),
    ("POST", "/account"): Row(allow(LOGGED_IN, PASSED), why="one's own settings; no form: 422"),
    ("POST", "/settings/language"): Row(allow(EVERYONE, PASSED),
                                        why="the switcher serves the login page too; no form: 422"),
    ("GET", "/i18n/{locale}.js"): Row(allow(EVERYONE), ids={"locale": "ro"},
                                      why="the page scripts' translations, public like /static"),
    ("GET", "/docs"): Row(allow(LOGGED_IN)),
    # room pages and room API (role-based: rooms name no instructors)
    ("GET", "/"): Row(allow(LOGGED_IN)),
    ("GET", "/rooms/{room_id}/console"): Row(allow(CONTROL, no=303),
                                             why="a student or curator is sent to the watch page"),
    ("GET", "/rooms/{room_id}/watch"): Row(allow(LOGGED_IN)),
    ("GET", "/api/rooms"): Row(allow(LOGGED_IN)),
    ("GET", "/api/rooms/{room_id}"): Row(allow(LOGGED_IN)),
    ("POST", "/api/rooms/{room_id}/program"): Row(allow(CONTROL), json={"source": "endoscope"}),
    ("POST", "/api/rooms/{room_id}/live"): Row(allow(CONTROL, PASSED), json={"title": "Matrix"},
                                               why="the first goes live, the next are 409"),
    ("DELETE", "/api/rooms/{room_id}/live"): Row(allow(CONTROL, PASSED), late=True),
    ("GET", "/api/rooms/{room_id}/sources/{source_id}/thumbnail.jpg"): Row(allow(CONTROL)),
    ("POST", "/api/rooms/{room_id}/token"): Row(allow(LOGGED_IN)),
    ("POST", "/api/rooms/{room_id}/whep"): Row(
        allow(LOGGED_IN, PASSED), content=b"v=0\r\n", content_type="application/sdp",
        why="a broken offer: 400 (or 409 off air) past the check; real joins: test_live_api"),
    ("GET", "/api/rooms/{room_id}/ice-servers"): Row(allow(LOGGED_IN)),
    ("PATCH", "/api/rooms/{room_id}/whep/{viewer_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"viewer_id": NO_SUCH},
        content=b"a=end-of-candidates\r\n", content_type="application/trickle-ice-sdpfrag",
        why="the session URL is the capability (web/session_urls.py): without it, 404"),
    ("DELETE", "/api/rooms/{room_id}/whep/{viewer_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"viewer_id": NO_SUCH}),
    ("POST", "/api/rooms/{room_id}/sources/{source_id}/whip"): Row(
        allow(CONTROL, PASSED), content=b"v=0\r\n", content_type="application/sdp"),
    ("PATCH", "/api/rooms/{room_id}/sources/{source_id}/whip/{publisher_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"publisher_id": NO_SUCH},
        content=b"a=end-of-candidates\r\n", content_type="application/trickle-ice-sdpfrag"),
    ("DELETE", "/api/rooms/{room_id}/sources/{source_id}/whip/{publisher_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"publisher_id": NO_SUCH}),
    ("GET", "/api/rooms/{room_id}/viewers"): Row(allow(CONTROL)),
    # talkback: the instructor grants and revokes, the granted student publishes with the
    # grant's own token (tests/web/test_talkback_api.py)
    ("POST", "/api/rooms/{room_id}/talkback/grants"): Row(
        allow(CONTROL, PASSED), json={"user_id": 1},
        why="201, or 409 when the room is not live: past the check"),
    ("DELETE", "/api/rooms/{room_id}/talkback/grants/{user_id}"): Row(
        allow(CONTROL, PASSED), ids={"user_id": "1"}, why="404 when that user has none"),
    ("GET", "/api/rooms/{room_id}/talkback"): Row(allow(CONTROL)),
    ("GET", "/api/rooms/{room_id}/talkback/grant"): Row(
        allow(LOGGED_IN, PASSED), why="the caller's own grant: 404 when they have none"),
    ("POST", "/api/rooms/{room_id}/talkback/whip"): Row(
        allow(frozenset()), content=b"v=0\r\n", content_type="application/sdp",
        why="only a talkback grant's token publishes: a login or an API token is 401"),
    ("PATCH", "/api/rooms/{room_id}/talkback/whip/{session_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"session_id": NO_SUCH},
        content=b"a=end-of-candidates\r\n", content_type="application/trickle-ice-sdpfrag",
        why="the session URL is the capability (web/session_urls.py): without it, 404"),
    ("DELETE", "/api/rooms/{room_id}/talkback/whip/{session_id}"): Row(
        allow(EVERYONE, HIDDEN, anon=HIDDEN), ids={"session_id": NO_SUCH}),
    ("GET", "/api/diagnostics"): Row(allow(ADMINS)),
    ("GET", "/api/rooms/{room_id}/composition"): Row(allow(CONTROL)),
    ("PUT", "/api/rooms/{room_id}/layout"): Row(allow(CONTROL, PASSED), json={}, why=ROOM_CHANGE),
    ("PUT", "/api/rooms/{room_id}/masks"): Row(allow(CONTROL, PASSED), json=[], why=ROOM_CHANGE),
    ("POST", "/api/rooms/{room_id}/masks"): Row(
        allow(CONTROL, PASSED), json={"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1}, why=ROOM_CHANGE),
    ("PUT", "/api/rooms/{room_id}/title"): Row(allow(CONTROL, PASSED), json={}, why=ROOM_CHANGE),
    ("GET", "/api/rooms/{room_id}/sources/{source_id}/dicom"): Row(allow(CONTROL),
                                                                   ids={"source_id": "ct"}),
    ("PUT", "/api/rooms/{room_id}/sources/{source_id}/dicom/slice"): Row(
        allow(CONTROL, PASSED), ids={"source_id": "ct"}, json={"delta": 1}),
    ("PUT", "/api/rooms/{room_id}/sources/{source_id}/dicom/cine"): Row(
        allow(CONTROL, PASSED), ids={"source_id": "ct"}, json={"playing": False}),
    ("PUT", "/api/rooms/{room_id}/sources/{source_id}/dicom/window"): Row(
        allow(CONTROL, PASSED), ids={"source_id": "ct"}, json={"preset": "brain"}),
    ("POST", "/api/rooms/{room_id}/sources/{source_id}/dicom"): Row(
        allow(CONTROL, PASSED), ids={"source_id": "ct"}, content=b"not a zip",
        content_type="application/zip", why="an upload that is no series: 4xx past the check"),
    ("GET", "/api/rooms/{room_id}/drawers"): Row(allow(CONTROL)),
    ("PUT", "/api/rooms/{room_id}/drawers/{user_id}"): Row(
        allow(CONTROL, PASSED), ids={"user_id": "999999"}, json={"colour": "#35c4ff"},
        why="lets a student draw on the live program (409 when off air); tests/e2e/test_drawing"),
    ("DELETE", "/api/rooms/{room_id}/drawers/{user_id}"): Row(
        allow(CONTROL, PASSED), ids={"user_id": "999999"}, late=True,
        why="404 when that student may not draw"),
    # PACS (issue 15): this server has none configured, so a named PACS or retrieval is 404
    # past the check; the access log gets a line only when a PACS answers.
    ("GET", "/api/rooms/{room_id}/pacs"): Row(allow(CONTROL)),
    ("GET", "/api/rooms/{room_id}/pacs/{pacs_id}/studies"): Row(
        allow(CONTROL, PASSED), query={"patient_id": "P1", "why": "matrix"}),
    ("POST", "/api/rooms/{room_id}/pacs/{pacs_id}/retrievals"): Row(
        allow(CONTROL, PASSED), json={"study_uid": "1.2.3", "series_uid": "1.2.4",
                                      "why": "matrix"}),
    ("GET", "/api/rooms/{room_id}/pacs/retrievals"): Row(allow(CONTROL)),
    ("POST", "/api/rooms/{room_id}/pacs/retrievals/{retrieval_id}/show"): Row(
        allow(CONTROL, PASSED), json={"source_id": "ct"}),
    ("DELETE", "/api/rooms/{room_id}/pacs/retrievals/{retrieval_id}"): Row(
        allow(CONTROL, PASSED), query={"why": "matrix"}),
    ("GET", "/api/rooms/{room_id}/pacs/{pacs_id}/worklist"): Row(
        allow(CONTROL, PASSED), query={"day": "2026-12-05", "why": "matrix"}),
    ("GET", "/api/rooms/{room_id}/pacs/context"): Row(allow(CONTROL)),
    ("PUT", "/api/rooms/{room_id}/pacs/context"): Row(
        allow(CONTROL, PASSED), json={"pacs_id": "nowhere", "accession": "A1",
                                      "day": "2026-12-05", "why": "matrix"}),
    ("DELETE", "/api/rooms/{room_id}/pacs/context"): Row(allow(CONTROL)),
    ("POST", "/api/rooms/{room_id}/pacs/{pacs_id}/exports"): Row(
        allow(REVIEWERS, PASSED), json={"recording_id": NO_SUCH, "track": "iso-endoscope",
                                      "clip_markers": ["m"], "why": "matrix"}),
    ("GET", "/api/rooms/{room_id}/pacs/exports"): Row(allow(REVIEWERS)),
    ("GET", "/api/rooms/{room_id}/ptz"): Row(allow(CONTROL)),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/move"): Row(
        allow(CONTROL, PASSED), json={"pan": 0, "tilt": 0}, why=ROOM_CHANGE),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/zoom"): Row(allow(CONTROL, PASSED),
                                                               json={"speed": 0}),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/keepalive"): Row(allow(CONTROL, PASSED)),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/stop"): Row(allow(CONTROL, PASSED)),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/focus"): Row(allow(CONTROL, PASSED),
                                                                json={"mode": "auto"}),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/home"): Row(allow(CONTROL, PASSED)),
    ("PUT", "/api/rooms/{room_id}/ptz/{camera_id}/presets/{number}"): Row(
        allow(CONTROL, PASSED), ids={"number": "1"}),
    ("POST", "/api/rooms/{room_id}/ptz/{camera_id}/presets/{number}/recall"): Row(
        allow(CONTROL, PASSED), ids={"number": "1"}),
    ("GET", "/api/rooms/{room_id}/ptz/{camera_id}/position"): Row(allow(CONTROL, PASSED)),
    # recordings: the seeded one, started by the admin; stopped last
    ("POST", "/api/rooms/{room_id}/recordings"): Row(allow(CONTROL, PASSED), json={},
                                                     why="already recording: 409"),
    ("GET", "/api/rooms/{room_id}/recordings"): Row(allow(REVIEWERS)),
    ("GET", "/api/recordings/{recording_id}"): Row(allow(REVIEWERS)),
    ("POST", "/api/recordings/{recording_id}/markers"): Row(allow(CONTROL),
                                                            json={"title": "Matrix"}),
    ("PATCH", "/api/recordings/{recording_id}/markers/{marker_id}"): Row(
        allow(CONTROL, PASSED), ids={"marker_id": NO_SUCH}, json={"title": "Renamed"},
        why="a marker nobody made: 404 past the check"),
    ("GET", "/api/recordings/{recording_id}/chapters.vtt"): Row(
        allow(REVIEWERS, PASSED), why="written when it ends: 409 while it records"),
    ("POST", "/api/recordings/{recording_id}/notes"): Row(allow(CONTROL), json={"text": "n"}),
    ("POST", "/api/recordings/{recording_id}/strokes"): Row(
        allow(CONTROL), json={"points": [[0.1, 0.1], [0.2, 0.2]]}),
    ("POST", "/api/recordings/{recording_id}/chat"): Row(
        allow(LOGGED_IN), json={"text": "hello"},
        why="whoever may watch the room may chat in it; rooms are open to every account"),
    ("GET", "/api/recordings/{recording_id}/timeline"): Row(allow(REVIEWERS)),
    ("POST", "/api/recordings/{recording_id}/{action}"): Row(
        allow(CONTROL, PASSED), ids={"action": "stop"}, late=True,
        why="the first stops it, the next are 409"),
    ("POST", "/api/rooms/{room_id}/schedule"): Row(allow(CONTROL, PASSED), json=PLAN,
                                                   why="the same slot twice is 409"),
    ("GET", "/api/rooms/{room_id}/schedule"): Row(allow(CONTROL)),
    ("DELETE", "/api/schedule/{session_id}"): Row(allow(CONTROL, PASSED), late=True,
                                                  why="the first cancels it, the next are 409"),
    # CME programmes: creating takes an organising role, acting on one being its organiser
    ("POST", "/api/cme/programmes"): Row(allow(ORGANISING_ROLES)),  # body: Seed.bodies
    ("GET", "/api/cme/programmes"): Row(allow(ORGANISING_ROLES)),
    ("GET", "/api/cme/programmes/{programme_id}"): Row(allow(ORGANISERS)),
    ("PUT", "/api/cme/programmes/{programme_id}"): Row(allow(ORGANISERS),
                                                       ids={"programme_id": "{draft_id}"}),
    ("POST", "/api/cme/programmes/{programme_id}/submit"): Row(
        allow(ORGANISERS, PASSED), ids={"programme_id": "{draft_id}"}, late=True,
        why="the draft's checker findings (409) or submitted (200), then 409"),
    ("GET", "/api/cme/programmes/{programme_id}/check"): Row(allow(ORGANISERS)),
    ("GET", "/api/cme/programmes/{programme_id}/credits"): Row(allow(ORGANISERS)),
    ("GET", "/api/cme/programmes/{programme_id}/attendance"): Row(allow(ORGANISERS)),
    ("POST", "/api/cme/preview"): Row(allow(ORGANISING_ROLES)),
    ("GET", "/api/cme/me"): Row(allow(LOGGED_IN)),
    ("GET", "/cme"): Row(allow(LOGGED_IN)),
    ("GET", "/cme/programmes/{programme_id}"): Row(allow(ORGANISERS, student=AWAY,
                                                         student2=AWAY), why=SENT_AWAY),
    ("GET", "/cme/new"): Row(allow(ORGANISING_ROLES, student=AWAY, student2=AWAY)),
    ("GET", "/cme/programmes/{programme_id}/edit"): Row(
        allow(ORGANISERS, student=AWAY, student2=AWAY), ids={"programme_id": "{draft_id}"}),
    ("GET", "/api/cme/programmes/{programme_id}/questions"): Row(
        allow(ORGANISERS), ids={"programme_id": "{draft_id}"}, why="the answer key"),
    ("PUT", "/api/cme/programmes/{programme_id}/questions"): Row(
        allow(ORGANISERS), ids={"programme_id": "{draft_id}"}, json=BANK),
    ("GET", "/api/cme/programmes/{programme_id}/attempts"): Row(allow(ORGANISERS)),
    ("GET", "/api/cme/programmes/{programme_id}/test"): Row(
        allow(LOGGED_IN, PASSED), why="the test's rules and one's own attempts, to anyone "
        "with an account (404 when the programme has no final test)"),
    ("POST", "/api/cme/programmes/{programme_id}/test/attempts"): Row(
        allow(LOGGED_IN, PASSED), why="the quiz rules decide (not open, no test: 4xx)"),
    ("GET", "/api/cme/attempts/{attempt_id}"): Row(
        allow(LOGGED_IN, HIDDEN), ids={"attempt_id": NO_SUCH},
        why="an attempt is its taker's: 404 to everyone else"),
    ("POST", "/api/cme/attempts/{attempt_id}/answers"): Row(
        allow(LOGGED_IN, HIDDEN), ids={"attempt_id": NO_SUCH}, json={"answers": {}}),
    ("GET", "/cme/programmes/{programme_id}/test"): Row(allow(LOGGED_IN, PASSED)),
    ("GET", "/cme/programmes/{programme_id}/questions"): Row(
        allow(ORGANISERS, no=303), ids={"programme_id": "{draft_id}"},
        why="anyone else is sent to the test page: the bank holds the answers"),
    ("GET", "/api/cme/audit"): Row(allow(ORGANISING_ROLES),
                                   why="admins all of it, organisers their programmes' part"),
    ("GET", "/api/cme/programmes/{programme_id}/audit-report"): Row(allow(ORGANISERS)),
    ("GET", "/cme/audit"): Row(allow(ORGANISING_ROLES, student=AWAY, student2=AWAY)),
    ("GET", "/api/cme/me/profile"): Row(allow(LOGGED_IN, PASSED),
                                        why="404 for an account with no profile yet"),
    ("PUT", "/api/cme/me/profile"): Row(allow(LOGGED_IN, PASSED), json={},
                                        why="one's own profile; an empty body is 422"),
    ("GET", "/api/cme/me/score"): Row(allow(LOGGED_IN)),
    ("GET", "/api/cme/programmes/{programme_id}/participants"): Row(allow(ORGANISERS)),
    ("GET", "/api/cme/programmes/{programme_id}/participants.{fmt}"): Row(
        allow(ORGANISERS), ids={"fmt": "csv"}, query={"cnp": "full"}),
    ("POST", "/api/cme/programmes/{programme_id}/participants/{person_id}/cnp"): Row(
        allow(ORGANISERS), ids={"person_id": "student"}, why="a full CNP"),
    ("POST", "/api/cme/programmes/{programme_id}/certificates"): Row(allow(ORGANISERS)),
    ("POST", "/api/cme/certificates/{number}/revoke"): Row(
        allow(ORGANISERS, PASSED, no=HIDDEN, student=DENIED, student2=DENIED),
        json={"reason": "matrix test"},
        late=True, why="404 to whoever may not see the certificate; the holder (a student) "
        "is refused by role; revoked once, then 409"),
    ("GET", "/api/cme/programmes/{programme_id}/certificates"): Row(allow(ORGANISERS)),
    ("GET", "/api/cme/certificates/{number}.pdf"): Row(
        allow(ORGANISERS | {"student"}, no=HIDDEN), why="the holder, organisers, admins; "
        "404 to the others"),
    ("GET", "/verify/{number}"): Row(allow(EVERYONE), why="public on purpose, rate-limited"),
    ("GET", "/cme/me"): Row(allow(LOGGED_IN)),
    ("GET", "/cme/programmes/{programme_id}/participants"): Row(
        allow(ORGANISERS, student=AWAY, student2=AWAY), why=SENT_AWAY),
    # the library: staff by role, then the course decides
    ("GET", "/api/library/courses"): Row(allow(LOGGED_IN)),
    ("POST", "/api/library/courses"): Row(allow(CURATORS, PASSED),
                                          why="the slug once, then 409"),  # body: Seed.bodies
    ("GET", "/api/library/courses/{course_id}/members"): Row(allow(CURATES_COURSE)),
    ("PUT", "/api/library/courses/{course_id}/members/{user_id}"): Row(
        allow(CURATORS), json={"role": "student"}),
    ("DELETE", "/api/library/courses/{course_id}/members/{user_id}"): Row(
        allow(CURATORS, PASSED), why="removed once, then 404"),
    ("GET", "/api/library/recordings"): Row(allow(STAFF)),
    ("POST", "/api/library/lessons"): Row(
        allow(CURATES_COURSE, PASSED), why="into the lesson's course, from a recording nobody "
        "made: 404 past the check; an instructor of other courses: 403"),  # body: Seed
    ("GET", "/api/library/lessons"): Row(allow(LOGGED_IN)),
    ("GET", "/api/library/lessons/{lesson_id}"): Row(allow(WATCHERS)),
    ("PATCH", "/api/library/lessons/{lesson_id}"): Row(
        allow(CURATES_COURSE), ids={"lesson_id": "{scratch_id}"}, json={"procedure": "Matrix"}),
    ("DELETE", "/api/library/lessons/{lesson_id}"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{doomed_id}"},
        why="deleted once, then 404"),
    ("PUT", "/api/library/lessons/{lesson_id}/trim"): Row(
        allow(CURATES_COURSE), ids={"lesson_id": "{scratch_id}"}, json={}),
    ("PUT", "/api/library/lessons/{lesson_id}/chapters"): Row(
        allow(CURATES_COURSE), ids={"lesson_id": "{scratch_id}"}, json=[]),
    ("PUT", "/api/library/lessons/{lesson_id}/hidden"): Row(
        allow(CURATES_COURSE), ids={"lesson_id": "{scratch_id}"}, json=[]),
    ("POST", "/api/library/lessons/{lesson_id}/notes"): Row(
        allow(CURATES_COURSE), ids={"lesson_id": "{scratch_id}"}, json={"at": 1.0, "text": "n"}),
    ("DELETE", "/api/library/lessons/{lesson_id}/notes/{note_id}"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{scratch_id}"},
        why="deleted once, then 404"),
    ("PUT", "/api/library/lessons/{lesson_id}/privacy"): Row(
        allow(CURATORS), ids={"lesson_id": "{scratch_id}"},
        json={"consent": True, "deidentified": True}),
    ("POST", "/api/library/lessons/{lesson_id}/publish"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{scratch_id}"},
        why="the scratch draft has no recording: 4xx (or a job that fails) past the check"),
    ("POST", "/api/library/lessons/{lesson_id}/unpublish"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{scratch_id}"},
        why="a draft: 409 past the check"),
    ("GET", "/api/library/lessons/{lesson_id}/job"): Row(
        allow(CURATES_COURSE, PASSED), why="never published by a job: 404 past the check"),
    ("GET", "/api/library/jobs/{job_id}"): Row(
        allow(STAFF, PASSED), ids={"job_id": "999999"},
        why="no such job: 404 to staff before the lesson's course can be asked"),
    ("POST", "/api/library/jobs/{job_id}/retry"): Row(allow(STAFF, PASSED),
                                                      ids={"job_id": "999999"}),
    ("POST", "/api/library/lessons/{lesson_id}/attachments"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{scratch_id}"},
        why="no file: 422 past the check"),
    ("GET", "/api/library/lessons/{lesson_id}/attachments"): Row(allow(CURATES_COURSE)),
    ("GET", "/api/library/lessons/{lesson_id}/curation"): Row(
        allow(CURATES_COURSE, PASSED), why="the lesson's recording is not in this server's "
        "recordings folder: 404 past the check; real opens: tests/web/test_curation_api.py"),
    ("GET", "/api/library/lessons/{lesson_id}/curation/files/{file}"): Row(
        allow(CURATES_COURSE, PASSED), ids={"file": "curation.json"}),
    ("HEAD", "/api/library/lessons/{lesson_id}/curation/files/{file}"): Row(
        allow(CURATES_COURSE, PASSED), ids={"file": "curation.json"}),
    ("PUT", "/api/library/lessons/{lesson_id}/edit"): Row(
        allow(CURATES_COURSE, PASSED), ids={"lesson_id": "{scratch_id}"}, json={},
        why="no If-Match: 428 past the check; saves and conflicts: test_curation_api.py"),
    ("GET", "/library/curate"): Row(allow(STAFF)),
    ("GET", "/library/lessons/{lesson_id}/edit"): Row(
        allow(STAFF), why="the editor's shell; its data comes from the API, which asks the "
        "course"),
    ("GET", "/media/lessons/{lesson_id}/{file}"): Row(
        allow(frozenset({"student"})), why="a link signed for the student: nobody else's"),
    ("HEAD", "/media/lessons/{lesson_id}/{file}"): Row(allow(frozenset({"student"}))),
    ("GET", "/api/lessons/{lesson_id}/playback"): Row(allow(WATCHERS)),
    ("PUT", "/api/lessons/{lesson_id}/progress"): Row(
        allow(WATCHERS, PASSED), json={"view_id": 1, "position": 0, "watched": 0},
        why="a view id of another's: 4xx past the check"),
    ("GET", "/api/lessons/{lesson_id}/views"): Row(allow(CURATES_COURSE)),
    ("GET", "/library/lessons/{lesson_id}"): Row(allow(WATCHERS)),
    ("GET", "/api/search"): Row(allow(LOGGED_IN), query={"q": "septoplasty"}),
    ("GET", "/library/search"): Row(allow(LOGGED_IN), query={"q": "septoplasty"}),
    # classrooms (issue 18): admins register and pair; a screen is its device cookie
    ("GET", "/api/classrooms"): Row(allow(ADMINS)),
    ("POST", "/api/classrooms"): Row(allow(ADMINS), json={
        "name": "Matrix hall", "institution": "Matrix", "city": "Pleven",
        "timezone": "Europe/Sofia", "room_id": "demo"}),
    ("PATCH", "/api/classrooms/{classroom_id}"): Row(allow(ADMINS), json={"city": "Vidin"}),
    ("GET", "/api/classrooms/{classroom_id}/screens"): Row(allow(ADMINS)),
    ("POST", "/api/classrooms/{classroom_id}/screens"): Row(
        allow(ADMINS, PASSED), json={"code": "2345-6789"},
        why="a code no screen shows: 404 past the check"),
    ("DELETE", "/api/classrooms/{classroom_id}/screens/{screen_id}"): Row(
        allow(ADMINS, PASSED), ids={"screen_id": "999999"}, why="no such screen: 404"),
    ("GET", "/classrooms"): Row(allow(ADMINS)),
    ("GET", "/screen"): Row(allow(EVERYONE), why="public on purpose: an unpaired PC shows its "
                            "pairing code (new screens are rate-limited per address)"),
    ("GET", "/api/screen/state"): Row(allow(frozenset()), why="only a paired screen's device "
                                      "cookie (tests/web/test_classrooms_api.py)"),
    ("POST", "/api/screen/whep"): Row(allow(frozenset()), content=b"v=0\r\n",
                                      content_type="application/sdp"),
    ("POST", "/api/checkin"): Row(allow(LOGGED_IN, PASSED), json={"code": "2345-6789"},
                                  why="one's own check-in; a code of no live session: 404"),
    ("GET", "/checkin"): Row(allow(LOGGED_IN)),
    ("GET", "/api/rooms/{room_id}/presence"): Row(allow(CONTROL)),
    ("GET", "/api/cme/programmes/{programme_id}/random-checks"): Row(allow(ORGANISERS)),
    ("PUT", "/api/cme/programmes/{programme_id}/random-checks"): Row(
        allow(ORGANISERS), json={"min_minutes": 20, "max_minutes": 40}),
    ("DELETE", "/api/cme/programmes/{programme_id}/random-checks"): Row(allow(ORGANISERS)),
    ("POST", "/api/rooms/{room_id}/presence-checks"): Row(
        allow(CONTROL, PASSED), why="409 when not live or the last check is under a minute old"),
}

NOT_HTTP = {
    "/static": "files of the pages, public by design",
    "/static-docs": "Swagger UI's files, public (the docs page and /openapi.json need a login)",
    "/api/rooms/{room_id}/events": "a websocket: tests/web/test_room_events.py refuses "
                                   "anonymous (4401) and student (4403) sockets",
    "/api/rooms/{room_id}/interaction": "a websocket: tests/web/test_interaction_api.py refuses "
                                      "anonymous and forged (4401), another room's token (4403),"
                                      " an unknown room (4404), an idle room (4409); every role "
                                      "that may watch joins, instructors and admins moderate",
}


def app_routes(tmp_path: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """(METHOD, path) of every HTTP route of ``create_app``, and the paths of the others."""
    app = create_app(Settings(data_dir=tmp_path, demo=False), [])
    http: set[tuple[str, str]] = set()
    other: set[str] = set()
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, APIRoute):
            http |= {(method, route.path) for method in route.methods or ()}
        elif isinstance(original, APIWebSocketRoute | Mount):
            other.add(route.path)
        else:
            raise TypeError(f"a route of a kind this test does not know: {original!r}")
    return http, other


def test_the_table_names_every_route_and_no_other(tmp_path: Path) -> None:
    http, other = app_routes(tmp_path)
    assert sorted(http - TABLE.keys()) == [], "routes without an entry in TABLE"
    assert sorted(TABLE.keys() - http) == [], "entries in TABLE for routes that are gone"
    assert other == NOT_HTTP.keys()
    for key, row in TABLE.items():
        assert row.expect.keys() == set(PRINCIPALS) or (not row.expect and row.why), key


# -- the server and its data -------------------------------------------------------------------


@dataclass
class Seed:
    server: Server
    ids: dict[str, str]
    bodies: dict[tuple[str, str], Callable[[], Any]]  # made per request, from the seeded ids
    queries: dict[tuple[str, str], dict[str, str]]
    clients: dict[str, httpx.Client]


def _seed_rows(server: Server) -> dict[str, str]:
    """The lesson and its course, a scratch and a doomed draft, the accounts; in the server's
    database, as ``medroom`` commands would."""
    db = Database(f"sqlite:///{server.data_dir / 'medroom.db'}")
    try:
        create_user(db, "marko", PASSWORD, Role.STUDENT)  # publish_lesson enrols him
        fixture = publish_lesson(server, seconds=2.0)  # and creates 'ivan', a student outside
        users = {}
        for name in ("admin", "instructor", "curator", "student", "ivan"):
            user = get_user_by_username(db, name)
            assert user is not None, f"demo account {name} missing"
            set_password(db, user.id, PASSWORD)
            users[name] = user.id
        users["instructor2"] = create_user(db, "instructor2", PASSWORD, Role.INSTRUCTOR).id
        scratch_user = create_user(db, "matrix-scratch", PASSWORD, Role.STUDENT).id
        set_member(db, fixture.course_id, users["student"], "student")
        set_member(db, fixture.course_id, users["instructor"], "instructor")
        set_member(db, fixture.course_id, scratch_user, "student")
        [gastro] = [c.id for c in list_courses(db) if c.slug == "gastroenterology"]
        set_member(db, gastro, users["ivan"], "student")
        drafts = [create_lesson(db, recording_id=f"matrix-{n}", room_id="demo",
                                recording_folder=f"demo/matrix-{n}", title=f"Draft {n}",
                                recording_duration=10.0, markers=[],
                                course_ids=[fixture.course_id]).id for n in ("a", "b")]
        note = add_note(db, drafts[0], 1.0, "a note to delete", "instructor")
        classroom = create_classroom(db, name="Matrix hall", institution="Matrix", city="Pleven",
                                     timezone="Europe/Sofia", room_id="demo", room_ids={"demo"},
                                     created_by=users["admin"])
    finally:
        db.dispose()
    return {"lesson_id": str(fixture.lesson_id), "course_id": str(fixture.course_id),
            "user_id": str(scratch_user), "scratch_id": str(drafts[0]),
            "doomed_id": str(drafts[1]), "note_id": str(note.id),
            "classroom_id": str(classroom.id)}


def _bodies(draft: dict[str, Any], course_id: int) -> dict[tuple[str, str], Callable[[], Any]]:
    """Valid bodies that need the seeded data; a fresh ref or slug each time (taken ones: 409)."""
    n = iter(range(10**6))
    return {
        ("POST", "/api/cme/programmes"): lambda: draft | {"ref": f"MATRIX-{next(n)}"},
        ("POST", "/api/cme/preview"): lambda: draft,
        ("PUT", "/api/cme/programmes/{programme_id}"): lambda: draft,
        ("POST", "/api/library/lessons"): lambda: {"recording_id": NO_SUCH,
                                                   "course_ids": [course_id]},
        ("POST", "/api/library/courses"): lambda: {
            "slug": f"matrix-{next(n)}", "title": "Matrix", "specialty": "ENT"},
    }


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    for server in start_server(tmp_path_factory.mktemp("medroom-matrix"), create_users=False):
        ids = {"room_id": "demo", "source_id": "endoscope", "camera_id": "room-head",
               "pacs_id": "nowhere", "retrieval_id": NO_SUCH,
               **_seed_rows(server)}
        demo = Demo(server, 0)
        clients = {p: demo.login(account) for p, account in ACCOUNTS.items()}
        clients["anon"] = httpx.Client(base_url=server.url, timeout=30)
        admin, organiser, student = clients["admin"], clients["organiser"], clients["student"]
        [programme] = [p for p in admin.get("/api/cme/programmes").json() if p["ref"] == DEMO_REF]
        demo = Demo(server, programme["id"])
        draft = organiser.post("/api/cme/programmes",
                               json=programme_body(demo, "MATRIX-DRAFT", live=False))
        assert draft.status_code == 201, draft.text
        recording = admin.post("/api/rooms/demo/recordings", json={"title": "Matrix"})
        assert recording.status_code == 201, recording.text
        planned = admin.post("/api/rooms/demo/schedule", json=PLAN)
        assert planned.status_code == 201, planned.text
        [cert] = student.get("/api/cme/me/score").json()["certificates"][:1]
        playback = student.get(f"/api/lessons/{ids['lesson_id']}/playback")
        assert playback.status_code == 200, playback.text
        media = re.search(r'/media/lessons/\d+/([^"?]+)\?([^"]+)', playback.text)
        assert media, playback.text
        ids |= {"programme_id": str(programme["id"]), "draft_id": str(draft.json()["id"]),
                "recording_id": recording.json()["id"], "session_id": str(planned.json()["id"]),
                "number": cert["number"], "file": media.group(1)}
        media_query = dict(p.split("=", 1) for p in media.group(2).split("&"))
        bodies = _bodies(programme_body(demo, "MATRIX-DRAFT", live=False), int(ids["course_id"]))
        queries = {("GET", "/media/lessons/{lesson_id}/{file}"): media_query,
                   ("HEAD", "/media/lessons/{lesson_id}/{file}"): media_query}
        yield Seed(server, ids, bodies, queries, clients)
        for client in clients.values():
            client.close()


# -- asking ------------------------------------------------------------------------------------


def classify(answer: httpx.Response) -> str:
    code = answer.status_code
    if code in (401, 403):
        return DENIED
    if 300 <= code < 400:
        return DENIED if answer.headers.get("location", "").startswith("/login") else OK
    if 200 <= code < 300:
        return OK
    if code == 404:
        return HIDDEN
    return f"{code}"


def matches(expected: Expected, answer: httpx.Response) -> bool:
    got = classify(answer)
    if isinstance(expected, int):
        return answer.status_code == expected
    if expected == PASSED:
        return got != DENIED and answer.status_code < 500
    return got == expected


def ask(seed: Seed, method: str, template: str, row: Row, principal: str) -> httpx.Response:
    ids = {k: v.format(**seed.ids) for k, v in (seed.ids | row.ids).items()}
    path = template.format(**ids)
    headers = {}
    if not path.startswith("/api/") and template not in ("/openapi.json",):
        headers["Accept"] = "text/html"  # as a browser asks for a page
    if row.content_type:
        headers["Content-Type"] = row.content_type
    body = seed.bodies.get((method, template))
    query = row.query | seed.queries.get((method, template), {})
    client = seed.clients[principal]
    if template == "/logout":
        return client.post(path, data={"csrf": client.headers.get("X-CSRF-Token", "none")},
                           headers=headers)
    return client.request(method, path, headers=headers, params=query,
                          json=body() if body else row.json, content=row.content)


def test_every_route_answers_every_principal_as_the_table_says(seed: Seed) -> None:
    started = time.monotonic()
    rows = sorted((row.late, key) for key, row in TABLE.items())
    wrong: dict[str, str] = {}
    asked = 0
    for late, (method, template) in rows:
        row = TABLE[(method, template)]
        if not row.expect:
            continue
        # The refused first: a row that deletes must not turn their 403 into a 404.
        order = sorted(PRINCIPALS, key=lambda p: row.expect[p] not in (DENIED, HIDDEN))
        for principal in order:
            answer = ask(seed, method, template, row, principal)
            asked += 1
            expected = row.expect[principal]
            if not matches(expected, answer):
                wrong[f"{method} {template} as {principal}"] = (
                    f"expected {expected}, got {answer.status_code} "
                    f"{answer.headers.get('location', '')}{answer.text[:120]!r}")
    elapsed = time.monotonic() - started
    print(f"permission matrix: {len(TABLE)} routes x {len(PRINCIPALS)} principals, "
          f"{asked} requests in {elapsed:.1f} s")
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items())
