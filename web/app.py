"""The FastAPI application: ``create_app(settings)`` wires the room, the database and the routes.

The lifespan migrates the database, closes what a crash left open, prepares the demo data when
asked, starts the rooms' sources, and on shutdown ends live sessions and releases everything.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from config.rooms import RoomSpec, load_rooms
from config.settings import Settings
from library import attendance
from library.cme.demo import ensure_demo_programme
from library.cme.vault import CnpVault
from library.db import Database
from library.i18n import SOURCE_LOCALE, current, gettext, shown
from library.login_throttle import LoginThrottle
from library.media_links import MediaLinkSigner
from recorder.registry import Recorder
from streaming.ice import set_ice_addresses
from streaming.limits import TokenBuckets
from web.auth import Principal, TokenSigner, get_principal
from web.classroom_kit import ClassroomKit
from web.cors import WebRtcCors
from web.demo import DemoLibrary, prepare_demo_media
from web.deps import validation_status
from web.i18n import LocaleMiddleware, error_code
from web.interaction import Interactions
from web.live import LiveRooms
from web.presence_timer import PresenceTimer
from web.publisher import PublishRunner
from web.room_feed import RoomFeed
from web.room_pacs import RoomPacs
from web.room_recordings import RoomRecordings
from web.routes import (
    checkin,
    classrooms,
    cme_audit,
    cme_certificates,
    cme_pages,
    cme_participant_pages,
    cme_participants,
    cme_tests,
    composition,
    diagnostics,
    dicom,
    drawing,
    events,
    interaction,
    language,
    lesson_media,
    library_pages,
    pacs,
    pages,
    player,
    presence,
    ptz,
    rooms,
    screen,
    search,
    session,
    talkback,
    viewers,
    whep,
    whip,
)
from web.routes import cme as cme_routes
from web.routes import curation as curation_routes
from web.routes import library as library_routes
from web.routes import recordings as recording_routes
from web.routes import schedule as schedule_routes
from web.scheduler import ScheduleRunner
from web.security_headers import SecurityHeaders, inline_script_hashes, policy_allowing
from web.session_cookie import SessionCookies
from web.speaker_rights import SpeakerRights
from web.startup import running
from web.state import AppState

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent
# The files of Swagger UI 5 that the fastapi-swagger package ships (its code is not used).
_SWAGGER_SPEC = importlib.util.find_spec("fastapi_swagger")
SWAGGER_UI_FILES = Path((_SWAGGER_SPEC and _SWAGGER_SPEC.origin) or "").parent / "resources"


def create_app(settings: Settings, room_specs: list[RoomSpec] | None = None) -> FastAPI:
    """Build the app; room files are read now so that a bad one stops start-up at once."""
    specs = room_specs if room_specs is not None else load_rooms(settings.room_files)
    set_ice_addresses(settings.ice_addresses)
    secret = settings.resolve_secret_key()
    db = Database(settings.resolved_database_url)
    cnp_vault = CnpVault(settings.resolve_cnp_key())
    verify_limits = TokenBuckets(settings.verify_lookups_per_minute)
    # Signed, expiring links to published lesson files (web/routes/lesson_media.py).
    media_links = MediaLinkSigner(secret, ttl_seconds=settings.media_link_ttl_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every part is started under one exit stack: when one fails, the parts already
        # running are stopped in reverse order and the error names the part that failed.
        async with AsyncExitStack() as stack:
            stack.push_async_callback(asyncio.to_thread, db.dispose)
            await asyncio.to_thread(db.migrate)
            closed = await asyncio.to_thread(attendance.close_dangling, db)
            if closed:
                logger.warning("closed %d sessions left open by an earlier stop", closed)
            if settings.demo:
                await asyncio.to_thread(prepare_demo_media, specs, settings.data_dir)
                await asyncio.to_thread(ensure_demo_programme, db, cnp_vault)
            recorder = Recorder(
                settings.resolved_recordings_dir,
                max_duration_seconds=settings.recording_max_seconds,
            )
            recovered = await recorder.recover()
            if recovered:
                logger.warning("recovered %d recordings cut off by an earlier stop: %s",
                               len(recovered), ", ".join(recovered))
            live = LiveRooms(specs, settings, db)
            recordings = RoomRecordings(live, recorder)
            publisher = PublishRunner(db, settings.resolved_recordings_dir,
                                      settings.resolved_library_dir)
            state = AppState(settings, db, TokenSigner(secret), live, recordings, publisher,
                             cnp_vault, verify_limits, media_links,
                             LoginThrottle.from_settings(settings),
                             ClassroomKit.build(secret, settings.secure_cookies))
            app.state.medroom = state
            feed = state.feed = RoomFeed(
                {room_id: room.events for room_id, room in live.rooms.items()},
                partial(events.room_state, state),
            )
            scheduler = ScheduleRunner(db, recordings)
            interactions = state.interactions = Interactions(live, recorder, db)
            SpeakerRights(live, interactions).attach()  # an accepted hand: talkback + drawing
            await stack.enter_async_context(running("the rooms", live.start, live.stop))
            # After the rooms: stopped before them, so ending the sessions finds it gone.
            await stack.enter_async_context(
                running("the interactions", interactions.start, interactions.stop))
            await stack.enter_async_context(
                running("the recorder", recordings.start, recordings.stop_all))
            await stack.enter_async_context(running("the room feed", feed.start, feed.stop))
            room_pacs = state.pacs = RoomPacs(settings, live)
            await stack.enter_async_context(running("the PACS", room_pacs.start, room_pacs.stop))
            await stack.enter_async_context(
                running("the schedule runner", scheduler.start, scheduler.stop))
            await stack.enter_async_context(
                running("the publishing runner", publisher.start, publisher.stop))
            timer = PresenceTimer(db, state.classrooms.random_secret)
            await stack.enter_async_context(
                running("the presence check timer", timer.start, timer.stop))
            if settings.demo and settings.demo_library:
                demo_library = DemoLibrary(db, settings.resolved_recordings_dir, publisher.wake)
                await stack.enter_async_context(
                    running("the demo library", demo_library.start, demo_library.stop))
            yield

    app = FastAPI(
        title="MedRoom",
        version="0.1.0",
        summary="Telemedicine training room: live surgical video over WebRTC (WHEP).",
        lifespan=lifespan,
        # Served below, for logged-in callers only, from local files (a room PC may have no
        # internet access).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # Inside the session middleware: the account's language comes with its session.
    app.add_middleware(LocaleMiddleware, default_locale=settings.language,
                       default_zone=settings.time_zone)
    # The cookie carries a signed random key; the session lives in the database.
    app.add_middleware(
        SessionCookies, db=db, secret=secret, max_age=settings.token_ttl_seconds,
        secure=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.mount("/static-docs", StaticFiles(directory=SWAGGER_UI_FILES), name="static-docs")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_schema(principal: Annotated[Principal, Depends(get_principal)]) -> Response:
        return JSONResponse(app.openapi())

    def docs_page() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="MedRoom API",
            swagger_js_url="/static-docs/swagger-ui-bundle.js",
            swagger_css_url="/static-docs/swagger-ui.css",
            swagger_favicon_url="/static-docs/favicon-32x32.png",
        )

    @app.get("/docs", include_in_schema=False)
    async def api_docs(principal: Annotated[Principal, Depends(get_principal)]) -> Response:
        return docs_page()

    # Every answer carries the security headers; the docs page may run its one inline script.
    docs_html = bytes(docs_page().body).decode("utf-8")
    app.add_middleware(
        SecurityHeaders, hsts=settings.secure_cookies,
        exceptions={"/docs": policy_allowing(inline_script_hashes(docs_html))},
    )
    app.add_middleware(WebRtcCors, origins=settings.cors_origins)
    app.include_router(session.router)
    app.include_router(language.router)
    app.include_router(pages.router)
    app.include_router(rooms.router)
    app.include_router(whep.router)
    app.include_router(whip.router)
    app.include_router(talkback.router)
    app.include_router(events.router)
    app.include_router(interaction.router)
    app.include_router(viewers.router)
    app.include_router(diagnostics.router)
    app.include_router(composition.router)
    app.include_router(dicom.router)
    app.include_router(pacs.router)
    app.include_router(ptz.router)
    app.include_router(drawing.router)
    app.include_router(recording_routes.router)
    app.include_router(schedule_routes.router)
    app.include_router(cme_routes.router)
    app.include_router(cme_pages.router)
    app.include_router(library_routes.router)
    app.include_router(curation_routes.router)
    app.include_router(library_pages.router)
    app.include_router(lesson_media.router)
    app.include_router(player.router)
    app.include_router(search.router)
    app.include_router(cme_tests.router)
    app.include_router(cme_audit.router)
    app.include_router(cme_participants.router)
    app.include_router(cme_certificates.router)
    app.include_router(cme_participant_pages.router)
    app.include_router(classrooms.router)
    app.include_router(screen.router)
    app.include_router(checkin.router)
    app.include_router(presence.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A person in a browser who is not logged in goes to the login page, not to JSON.
        wants_page = not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
            "accept", ""
        )
        if exc.status_code == 401 and wants_page:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        # The text in the request's language, beside a code that never changes with it.
        return JSONResponse(
            {"detail": shown(exc.detail), "code": error_code(exc)},
            status_code=exc.status_code, headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # "field: what is wrong" per problem, as pydantic says it (English: the field names are
        # the API's), behind "invalid request" in the request's language. English keeps the
        # bare list that clients and tests already read.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        )
        detail = problems if current().locale == SOURCE_LOCALE else gettext(
            "invalid request: %(problems)s", problems=problems)
        return JSONResponse({"detail": detail, "code": "invalid_request"},
                            status_code=validation_status(exc))

    return app
