"""Search: ``GET /api/search`` (JSON) and the search page ``/library/search`` (same query)."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import DBAPIError

from library.courses import CourseAccess, access_for, list_courses
from library.db import Database
from library.i18n import lazy, shown
from library.search.query import Filters, SearchError, SearchHit, SearchResults, search
from web.auth import Principal, Viewer, csrf_token, page_user
from web.deps import DbDep, IdQuery, Offset, PageNumber
from web.player_schemas import FragmentOut, MatchOut, SearchHitOut, SearchOut
from web.templates import templates

router = APIRouter(tags=["search"])
MAX_QUERY = 200
# A lesson's status and where the words matched, as the results page names them.
STATUS_NAMES = {
    "draft": lazy("draft"), "publishing": lazy("publishing"), "published": lazy("published"),
    "failed": lazy("failed"), "unpublished": lazy("unpublished"),
}
MATCH_KINDS = {
    "chapter": lazy("chapter"), "note": lazy("note"),
    # Translators: a search result's words matched the lesson's own title or description.
    "lesson": lazy("about"),
}


def lesson_status(value: str) -> str:
    return shown(STATUS_NAMES.get(value, value))


def match_kind(value: str) -> str:
    return shown(MATCH_KINDS.get(value, value))


def hit_url(hit: SearchHit) -> str:
    """The player page; at the matching chapter or note when the words are in one."""
    url = f"/library/lessons/{hit.lesson_id}"
    if hit.match is not None and hit.match.at is not None:
        url += f"#t={hit.match.at:g}"
    return url


def search_out(query: str, results: SearchResults) -> SearchOut:
    return SearchOut(
        query=query, words=list(results.terms.words), total=results.total,
        offset=results.offset, limit=results.limit, took_ms=results.took_ms,
        hits=[SearchHitOut(
            lesson_id=h.lesson_id, title=h.title, url=hit_url(h), specialty=h.specialty,
            language=h.language, status=h.status, instructors=list(h.instructors),
            courses=list(h.courses), duration=h.duration, date=h.date,
            match=None if h.match is None else MatchOut(
                kind=h.match.kind, title=h.match.title, at=h.match.at,
                snippet=[FragmentOut(text=f.text, hit=f.hit) for f in h.match.snippet]))
            for h in results.hits],
    )


async def _run(db: Database, principal: Principal, q: str, filters: Filters, limit: int,
               offset: int) -> tuple[SearchResults, CourseAccess]:
    if len(q) > MAX_QUERY:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            lazy("the search is %(length)s characters long; the limit is "
                                 "%(limit)s", "search_too_long", length=len(q), limit=MAX_QUERY))

    def run() -> tuple[SearchResults, CourseAccess]:
        access = access_for(db, principal.user_id, principal.role)
        return search(db, q, access, filters, limit=limit, offset=offset), access

    try:
        return await asyncio.to_thread(run)
    except SearchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message) from None
    except DBAPIError as exc:  # never expected: the query is always well formed
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                            lazy("the search failed; the server log has the details",
                                 "search_failed")) from exc


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/api/search", response_model=SearchOut,
            summary="Find lessons by words in titles, descriptions, chapters, notes and tags")
async def api_search(
    db: DbDep, principal: Viewer, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    specialty: Text = None, course: IdQuery = None, instructor: Text = None,
    language: Text = None, date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Offset = 0,
) -> SearchOut:
    filters = Filters(specialty or None, course, instructor or None, language or None,
                      date_from, date_to)
    results, _ = await _run(db, principal, q, filters, limit, offset)
    return search_out(q, results)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/library/search", response_class=HTMLResponse, include_in_schema=False)
async def search_page(request: Request, db: DbDep, q: str = "", specialty: str = "",
                      course: str = "",
                      instructor: str = "", language: str = "",
                      date_from: Annotated[str, Query(alias="from")] = "",
                      date_to: Annotated[str, Query(alias="to")] = "",
                      page: PageNumber = 1) -> Response:
    user = page_user(request)
    form = {"q": q[:MAX_QUERY], "specialty": specialty, "course": course,
            "instructor": instructor, "language": language, "from": date_from, "to": date_to}
    # ASCII digits only: str.isdigit() also accepts '²', which int() refuses (a 500).
    course_id = int(course) if re.fullmatch(r"[0-9]{1,18}", course) else None
    filters = Filters(specialty or None, course_id,
                      instructor or None, language or None, _date(date_from), _date(date_to))
    per_page = 20
    error, results = None, None
    try:
        results, access = await _run(db, user, form["q"], filters, per_page,
                                     (page - 1) * per_page)
    except HTTPException as exc:
        error = shown(exc.detail)
        access = await asyncio.to_thread(access_for, db, user.user_id,
                                         user.role)
    only = None if access.everything else access.teaches | access.enrolled
    courses = await asyncio.to_thread(list_courses, db, only)
    pages = {}
    if results is not None:
        base = {k: v for k, v in form.items() if v}
        if page > 1:
            pages["previous"] = "?" + urlencode({**base, "page": page - 1})
        if results.offset + len(results.hits) < results.total:
            pages["next"] = "?" + urlencode({**base, "page": page + 1})
    return templates.TemplateResponse(request, "search.html", {
        "user": user, "csrf": csrf_token(request), "form": form, "results": results,
        "out": search_out(form["q"], results) if results else None, "error": error,
        "courses": courses, "specialties": sorted({c.specialty for c in courses}),
        "pages": pages, "page": page, "lesson_status": lesson_status, "match_kind": match_kind,
    })
