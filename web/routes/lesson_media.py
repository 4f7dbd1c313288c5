"""A published lesson's files, only through signed, expiring links, with byte ranges.

``GET /media/lessons/{id}/{file}?exp=..&sig=..``: the link must carry a valid signature for
this lesson, this file and the person presenting it (session cookie or bearer token), must not
have expired, and the person must still be allowed to watch the lesson. Range requests get 206
with ``Content-Range`` (so seeking fetches only what it needs); a range outside the file or a
malformed one gets 416 with ``Content-Range: bytes */size``.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from library.media_links import MediaLinkError, media_type
from web.auth import Viewer
from web.deps import DbDep, IdPath, MediaLinksDep, SettingsDep, lesson_folder, lesson_for
from web.media_files import MediaFileResponse

router = APIRouter(tags=["media"])
# Browsers may keep a media file while the link is valid, shared caches never (links are
# personal); at most an hour, so a revoked enrolment does not live on in a cache for long.
MAX_CACHE_SECONDS = 3600


@router.head("/media/lessons/{lesson_id}/{file}", include_in_schema=False)
@router.get("/media/lessons/{lesson_id}/{file}",
            summary="A published lesson's file, by signed link (byte ranges supported)",
            response_class=Response,
            responses={206: {"description": "Partial content"},
                       403: {"description": "Link expired, altered or not yours"},
                       416: {"description": "Range not satisfiable"}})
async def lesson_file(db: DbDep, settings: SettingsDep, links: MediaLinksDep, lesson_id: IdPath,
                      file: str, principal: Viewer,
                      exp: str | None = None, sig: str | None = None) -> Response:
    try:
        links.verify(lesson_id, file, principal.subject, exp, sig)
    except MediaLinkError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    lesson = await lesson_for(db, principal, lesson_id)
    path = lesson_folder(settings, str(lesson.media_path)) / file
    stat = await asyncio.to_thread(lambda: path.stat() if path.is_file() else None)
    if stat is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"lesson {lesson_id} has no file {file!r}")
    left = max(0, int(exp or 0) - int(time.time()))
    return MediaFileResponse(
        path, media_type=media_type(file), stat_result=stat,
        headers={"Cache-Control": f"private, max-age={min(left, MAX_CACHE_SECONDS)}",
                 "X-Content-Type-Options": "nosniff"},
    )
