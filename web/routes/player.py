"""The lesson player: its page, the playback description with signed links, progress pings.

Opening the page logs a page view; asking for the playback (which hands out the media links)
starts a media session, the unit progress pings add watched seconds to.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from library.i18n import gettext, lazy, shown
from library.lessons import LessonInfo
from library.media_links import MediaLinkSigner
from library.publishing.conversation import ANONYMOUS
from library.publishing.conversation import MAX_ITEMS as MAX_CONVERSATION
from library.publishing.pipeline import (
    CHAPTERS_VTT,
    LESSON_JSON,
    POSTER_JPEG,
    SPRITE_JPEG,
    THUMBNAILS_VTT,
    TIMELINE_JSON,
)
from library.viewing import (
    ViewCounts,
    WatchError,
    get_progress,
    may_see_counts,
    record_ping,
    start_view,
    view_counts,
    watchable_lesson,
)
from web.auth import Principal, Viewer, csrf_token, page_user
from web.deps import DbDep, IdPath, StateDep, lesson_folder, lesson_for, watcher
from web.player_schemas import (
    ChapterOut,
    NoteOut,
    PlaybackOut,
    PlaybackTrackOut,
    ProgressIn,
    ProgressOut,
    SegmentOut,
)
from web.state import AppState
from web.templates import templates

router = APIRouter(tags=["player"])


def _lesson_seconds(lesson: LessonInfo, session_seconds: float) -> float:
    return round(max(0.0, session_seconds - float(lesson.published_start or 0.0)), 3)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def playback(lesson: LessonInfo, folder: Path, signer: MediaLinkSigner, subject: str,
             view_id: int, resume_at: float) -> PlaybackOut:
    """What the player needs, read from the published folder, every file behind a fresh link."""
    meta = _read_json(folder / LESSON_JSON)
    if not isinstance(meta, dict):
        raise WatchError(lazy("lesson %(id)s's media is missing: ask a curator to publish it "
                              "again", "lesson_media_missing", id=lesson.id), 409)
    published = _read_json(folder / TIMELINE_JSON) or {}
    events = published.get("events", [])

    def link(file: str) -> str:
        return signer.issue(lesson.id, file, subject).url

    tracks = [
        PlaybackTrackOut(
            name=t["name"], kind=t["kind"],
            label=gettext("Program") if t["kind"] == "program"
            else str(t.get("source_id") or t["name"]),
            url=link(t["file"]), offset=float(t.get("offset") or 0.0), width=int(t["width"]),
            height=int(t["height"]), duration=float(t["duration"]))
        for t in meta.get("tracks", []) if t.get("kind") != "audio"
    ]
    sound = next((t for t in meta.get("tracks", []) if t.get("kind") == "audio"), None)
    notes = [NoteOut(at=float(e["at"]), text=e["text"], author=e.get("author", ""))
             for e in events if e.get("type") == "note"]
    notes += [NoteOut(at=_lesson_seconds(lesson, n.at), text=n.text, author=n.author)
              for n in lesson.notes]
    # What was hidden when the lesson was published, and what a curator has hidden since.
    hidden = [SegmentOut(start=float(h["start"]), end=float(h["end"]))
              for h in meta.get("hidden", [])]
    hidden += [SegmentOut(start=_lesson_seconds(lesson, s.start), end=_lesson_seconds(lesson, s.end))
               for s in lesson.hidden_segments]
    duration = float(meta.get("duration") or lesson.duration or 0.0)
    expires = signer.issue(lesson.id, LESSON_JSON, subject).expires
    return PlaybackOut(
        lesson_id=lesson.id, title=lesson.title, duration=duration, view_id=view_id,
        resume_at=resume_at, links_expire_at=datetime.fromtimestamp(expires, UTC),
        tracks=tracks, poster_url=link(POSTER_JPEG),
        audio_url=link(sound["file"]) if sound else None,
        audio_offset=float(sound.get("offset") or 0.0) if sound else 0.0, chapters_url=link(CHAPTERS_VTT),
        thumbnails_url=link(THUMBNAILS_VTT) if (folder / THUMBNAILS_VTT).exists() else None,
        sprite_url=link(SPRITE_JPEG) if (folder / SPRITE_JPEG).exists() else None,
        chapters=[ChapterOut(title=c["title"], start=c["start"], end=c["end"])
                  for c in meta.get("chapters", {}).get("items", [])],
        notes=sorted(notes, key=lambda n: n.at),
        strokes=[e for e in events if e.get("type") == "stroke"],
        conversation=_conversation(published.get("conversation"), hidden),
        hidden=sorted((h for h in hidden if h.end > h.start), key=lambda h: h.start),
    )


def _conversation(items: object, hidden: list[SegmentOut]) -> list[dict[str, Any]]:
    """The published conversation, less what lies in a part a curator hid after publishing
    (the player skips those parts: what was said there is not shown either)."""
    if not isinstance(items, list):
        return []
    return [{**item, "author": _author(item.get("author"))}
            for item in items[:MAX_CONVERSATION]
            if isinstance(item, dict) and isinstance(item.get("at"), int | float)
            and not any(h.start <= item["at"] < h.end for h in hidden)]


_PARTICIPANT = re.compile(r"Participant ([0-9]{1,6})")


def _author(author: object) -> object:
    """A student's published name ("Participant 3", "Anonymous", written in English into the
    lesson's files by library.publishing.conversation) in the viewer's language; staff names
    as they are."""
    if author == ANONYMOUS:
        return gettext("Anonymous")
    numbered = _PARTICIPANT.fullmatch(author) if isinstance(author, str) else None
    return gettext("Participant %(number)s", number=numbered.group(1)) if numbered else author


def start_playback(state: AppState, lesson: LessonInfo, principal: Principal) -> PlaybackOut:
    """A new media session of ``lesson`` for ``principal`` (blocking: call off the loop)."""
    db = state.db
    who = watcher(principal)
    view_id = start_view(db, lesson.id, who, "media")
    progress = get_progress(db, lesson.id, who.user_id)
    out = playback(lesson, lesson_folder(state.settings, str(lesson.media_path)),
                   state.media_links, principal.subject, view_id,
                   progress.position if progress else 0.0)
    if may_see_counts(db, lesson, who):
        out.counts = view_counts(db, lesson.id)
    return out


@router.get("/api/lessons/{lesson_id}/playback", response_model=PlaybackOut,
            summary="Start watching: signed media links, chapters, notes, drawings, resume point")
async def get_playback(state: StateDep, lesson_id: IdPath, principal: Viewer) -> PlaybackOut:
    lesson = await lesson_for(state.db, principal, lesson_id)
    try:
        return await asyncio.to_thread(start_playback, state, lesson, principal)
    except WatchError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.put("/api/lessons/{lesson_id}/progress", response_model=ProgressOut,
            summary="Progress ping: position and seconds watched since the last ping")
async def put_progress(db: DbDep, lesson_id: IdPath, body: ProgressIn,
                       principal: Viewer) -> ProgressOut:
    lesson = await lesson_for(db, principal, lesson_id)
    try:
        progress = await asyncio.to_thread(
            record_ping, db, lesson, watcher(principal), body.view_id,
            position=body.position, watched=body.watched)
    except WatchError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return ProgressOut(position=progress.position, duration=progress.duration)


@router.get("/api/lessons/{lesson_id}/views", response_model=ViewCounts,
            summary="How often a lesson was opened and watched (curators, its instructors)")
async def get_view_counts(db: DbDep, lesson_id: IdPath, principal: Viewer) -> ViewCounts:
    try:
        lesson = await asyncio.to_thread(watchable_lesson, db, lesson_id, watcher(principal),
                                         need_media=False)
    except WatchError as exc:
        raise HTTPException(exc.status, exc.message) from None
    if not await asyncio.to_thread(may_see_counts, db, lesson, watcher(principal)):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            lazy("view counts are for curators and the course's instructors",
                                 "counts_forbidden"))
    return await asyncio.to_thread(view_counts, db, lesson_id)


@router.get("/library/lessons/{lesson_id}", response_class=HTMLResponse, include_in_schema=False)
async def player_page(request: Request, state: StateDep, lesson_id: IdPath) -> Response:
    user = page_user(request)
    db = state.db
    who = watcher(user)
    try:
        lesson = await asyncio.to_thread(watchable_lesson, db, lesson_id, who)
    except WatchError as exc:
        return templates.TemplateResponse(
            request, "lesson_player.html",
            {"user": user, "csrf": csrf_token(request), "lesson": None, "error": shown(exc.message)},
            status_code=exc.status)
    await asyncio.to_thread(start_view, db, lesson.id, who, "page")
    # The playback goes into the page itself: the video starts loading without waiting for
    # another round trip (first frame within a second on loopback).
    try:
        started = await asyncio.to_thread(start_playback, state, lesson, user)
    except WatchError as exc:
        return templates.TemplateResponse(
            request, "lesson_player.html",
            {"user": user, "csrf": csrf_token(request), "lesson": None, "error": shown(exc.message)},
            status_code=exc.status)
    return templates.TemplateResponse(
        request, "lesson_player.html",
        {"user": user, "csrf": csrf_token(request), "lesson": lesson, "error": None,
         "playback": started.model_dump_json()})
