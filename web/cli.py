"""The ``medroom`` command: serve a room, manage users, print tokens, run benchmarks."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from config.rooms import RoomFileError, load_rooms
from config.settings import Settings
from library.courses import ensure_demo_courses
from library.db import Database, DatabaseError
from library.users import (
    Role,
    UserError,
    UserInfo,
    create_user,
    ensure_demo_users,
    get_user_by_username,
    set_active,
    set_password,
    sign_out_everywhere,
)
from web.auth import TokenSigner


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MEDROOM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise SystemExit(f"medroom: bad setting: {problems}") from None


def _database(settings: Settings) -> Database:
    db = Database(settings.resolved_database_url)
    db.migrate()
    return db


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import create_app

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    specs = load_rooms(settings.room_files)
    db = _database(settings)
    if settings.demo:
        created = ensure_demo_users(db)
        if created:
            print("\n  Demo accounts (shown once; reset with `medroom user passwd NAME`):")
            for username, password, role in created:
                print(f"    {role.value:<11} {username:<11} {password}")
            print()
        ensure_demo_courses(db)
    db.dispose()
    app = create_app(settings, specs)
    print(f"  MedRoom: open http://{settings.host}:{settings.port}/ "
          f"(rooms: {', '.join(s.id for s in specs)})\n", flush=True)
    # Websocket frames are bounded at the edge: the console's and the classroom's messages are
    # small (uvicorn's default would let one frame hold 16 MiB); a bigger one closes with 1009.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                ws_max_size=64 * 1024)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = _settings()
    password = args.password or getpass.getpass(f"password for {args.username}: ")
    db = _database(settings)
    user = create_user(db, args.username, password, Role(args.role), args.display_name)
    print(f"created {user.role.value} '{user.username}' ({user.display_name})")
    return 0


def _named_user(args: argparse.Namespace) -> tuple[Database, UserInfo]:
    db = _database(_settings())
    user = get_user_by_username(db, args.username)
    if user is None:
        raise UserError(f"no user '{args.username}'")
    return db, user


def cmd_user_passwd(args: argparse.Namespace) -> int:
    db, user = _named_user(args)
    password = args.password or getpass.getpass(f"new password for {args.username}: ")
    set_password(db, user.id, password)
    print(f"password of '{user.username}' changed; their sessions and tokens are ended")
    return 0


def cmd_user_active(args: argparse.Namespace) -> int:
    db, user = _named_user(args)
    set_active(db, user.id, args.active)
    print(f"'{user.username}' enabled" if args.active
          else f"'{user.username}' disabled; their sessions and tokens are ended")
    return 0


def cmd_user_signout(args: argparse.Namespace) -> int:
    db, user = _named_user(args)
    ended = sign_out_everywhere(db, user.id)
    print(f"'{user.username}' signed out everywhere: {ended} sessions ended, tokens revoked")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    settings = _settings()
    specs = load_rooms(settings.room_files)
    if args.room != "*" and args.room not in {s.id for s in specs}:
        raise SystemExit(
            f"medroom: no room '{args.room}' (rooms: {', '.join(s.id for s in specs)})"
        )
    signer = TokenSigner(settings.resolve_secret_key())
    print(signer.issue(subject=args.subject or f"script-{args.role}", role=Role(args.role),
                       room=args.room, ttl_seconds=args.ttl))
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from room_controller.video_devices import find_v4l2_ctl, format_devices, list_video_devices

    v4l2_ctl = find_v4l2_ctl()
    devices = list_video_devices(v4l2_ctl=v4l2_ctl)
    print(format_devices(devices, modes_listed=v4l2_ctl is not None))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from web.bench import run_bench

    return run_bench(args)


def build_parser(with_benchmarks: bool = True) -> argparse.ArgumentParser:
    """The command line; ``with_benchmarks=False`` leaves out the benchmarks' options, whose
    modules import the whole media stack (a second of start-up every other command can skip)."""
    parser = argparse.ArgumentParser(prog="medroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the server with the rooms of MEDROOM_ROOM_FILES")
    serve.add_argument("--host", help="listen address (default MEDROOM_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default MEDROOM_PORT or 8000)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--display-name")
    add.add_argument("--password", help="default: asked for on the terminal")
    add.set_defaults(func=cmd_user_add)
    passwd = user.add_parser("passwd", help="set a user's password")
    passwd.add_argument("username")
    passwd.add_argument("--password", help="default: asked for on the terminal")
    passwd.set_defaults(func=cmd_user_passwd)
    disable = user.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(func=cmd_user_active, active=False)
    enable = user.add_parser("enable", help="enable a disabled account again")
    enable.add_argument("username")
    enable.set_defaults(func=cmd_user_active, active=True)
    signout = user.add_parser("signout", help="end every session and token of an account")
    signout.add_argument("username")
    signout.set_defaults(func=cmd_user_signout)

    token = sub.add_parser("token", help="print a bearer token for scripts and WHEP players")
    token.add_argument("--room", required=True, help="room id, or * for every room")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--subject", help="who the token is for (default script-ROLE)")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds (default 12 h)")
    token.set_defaults(func=cmd_token)

    devices = sub.add_parser(
        "devices", help="list the local video devices (cameras, capture cards) and their modes"
    )
    devices.set_defaults(func=cmd_devices)

    bench = sub.add_parser("bench", help="benchmarks that print figures and ratios")
    if not with_benchmarks:
        return parser
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    fanout = bench_sub.add_parser("fanout", help="server CPU per WHEP viewer")
    fanout.add_argument("--viewers", type=int, nargs="+", default=[1, 10])
    fanout.add_argument("--seconds", type=float, default=10.0)
    fanout.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure aiortc's stock path (encode per viewer)")
    fanout.set_defaults(func=cmd_bench)
    latency = bench_sub.add_parser(
        "latency", help="glass-to-glass and first-frame time at decoding WHEP viewers"
    )
    latency.add_argument("--viewers", type=int, default=1, help="decoding viewers (default 1)")
    latency.add_argument("--seconds", type=float, default=10.0)
    latency.add_argument(
        "--receiver", choices=["marker", "aiortc"], default="marker",
        help="close received frames at the RTP marker bit as browsers do (default), or use "
        "aiortc's jitter buffer, which waits for the next frame's first packet (+1 frame)",
    )
    latency.set_defaults(func=cmd_bench)
    from web.bench import links as links_bench

    links = bench_sub.add_parser(
        "links", help="a viewer across shaped links (delay, loss, bottleneck, outage) between "
        "network namespaces: freezes, glass-to-glass, recovery, rendition (root)"
    )
    links_bench.add_arguments(links)
    links.set_defaults(func=cmd_bench)
    churn = bench_sub.add_parser(
        "churn", help="viewers join and leave through WHEP; checks tasks and memory come back"
    )
    churn.add_argument("--cycles", type=int, default=1000)
    churn.set_defaults(func=cmd_bench)
    from web.bench import checkin as checkin_bench

    checkin = bench_sub.add_parser(
        "checkin", help="phones checking in within one 30 s window (p95 answer, none lost)")
    checkin_bench.add_arguments(checkin)
    checkin.set_defaults(func=cmd_bench)
    from web.bench import idle as idle_bench

    idle = bench_sub.add_parser(
        "idle", help="server CPU with the demo room idle, live with no viewer, and with one"
    )
    idle_bench.add_arguments(idle)
    idle.set_defaults(func=cmd_bench)
    from web.bench import chat as chat_bench

    chat = bench_sub.add_parser(
        "chat", help="a live classroom's chat to 200 websocket participants: delivery p50/p95/"
        "max, server CPU per participant quiet and chatting"
    )
    chat_bench.add_arguments(chat)
    chat.set_defaults(func=cmd_bench)
    from recorder import bench as recorder_bench

    recording = bench_sub.add_parser(
        "recording", help="CPU of recording program + ISO tracks, against re-encoding them"
    )
    recorder_bench.add_arguments(recording)
    recording.set_defaults(func=lambda args: recorder_bench.run_from_args(args))
    from room_controller import composition_bench
    from room_controller.dicom import bench as dicom_bench

    composition = bench_sub.add_parser(
        "composition", help="cores to compose a 1080p30 program (PiP, 2x2 of three sources), "
        "against naive composition",
    )
    composition_bench.add_arguments(composition)
    composition.set_defaults(func=lambda args: composition_bench.run_from_args(args))
    dicom = bench_sub.add_parser(
        "dicom", help="CT slice to frame (ms) and 300-slice series load (s), against pydicom's "
        "plain path",
    )
    dicom_bench.add_arguments(dicom)
    dicom.set_defaults(func=lambda args: dicom_bench.run_from_args(args))
    from web.bench import talkback as talkback_bench

    talkback = bench_sub.add_parser(
        "talkback", help="mouth-to-ear of a talkback voice at a WHEP viewer (p50/p95/max) and "
        "its absence from the speaker's own program sound (mix-minus)",
    )
    talkback_bench.add_arguments(talkback)
    talkback.set_defaults(func=lambda args: talkback_bench.run_from_args(args))
    player = bench_sub.add_parser(
        "player", help="first frame of a published lesson in headless Chromium (p50/p95)"
    )
    player.add_argument("--loads", type=int, default=20, help="page loads measured")
    player.add_argument("--minutes", type=float, default=10.0,
                        help="length of the published recording")
    player.set_defaults(func=cmd_bench)
    from web.bench import draw as draw_bench

    draw = bench_sub.add_parser(
        "draw", help="a stroke drawn on the console, on a viewer's screen on its frame, in "
        "headless Chromium (p50/p95)"
    )
    draw_bench.add_arguments(draw)
    draw.set_defaults(func=lambda args: draw_bench.run_from_args(args))
    from web.bench import curate as curate_bench

    curate = bench_sub.add_parser(
        "curate", help="curation editor on a long 3-track recording (first picture, waveform "
        "and thumbnails, seeks) and a 30 s masked publish against a whole re-encode",
    )
    curate_bench.add_arguments(curate)
    curate.set_defaults(func=lambda args: curate_bench.run_from_args(args))
    from library.publishing import bench as publishing_bench

    publishing = bench_sub.add_parser(
        "publishing", help="publishing a 60-minute 3-track 720p recording, against re-encoding "
        "it with PyAV",
    )
    publishing_bench.add_arguments(publishing)
    publishing.set_defaults(func=lambda args: publishing_bench.run_from_args(args))
    from library.search import bench as search_bench

    search_bench_parser = bench_sub.add_parser(
        "search", help="search latency (p50/p95) with 10,000 generated lessons"
    )
    search_bench.add_arguments(search_bench_parser)
    search_bench_parser.set_defaults(func=lambda args: search_bench.run_from_args(args))
    from web.bench import pacs as pacs_bench

    pacs = bench_sub.add_parser(
        "pacs", help="retrieval of a 300-slice CT from a loopback Orthanc (DICOMweb, C-GET) and "
        "export of a 60 s 720p clip as DICOM video (STOW-RS, C-STORE)",
    )
    pacs_bench.add_arguments(pacs)
    pacs.set_defaults(func=lambda args: pacs_bench.run_from_args(args))
    from streaming import codec_bench

    vp8 = bench_sub.add_parser(
        "vp8", help="cores per VP8 output (browsers without H.264) against H.264, per rendition"
    )
    codec_bench.add_arguments(vp8)
    vp8.set_defaults(func=lambda args: codec_bench.run_from_args(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    words = list(sys.argv[1:] if argv is None else argv)
    commands = [w for w in words if not w.startswith("-")]
    args = build_parser(with_benchmarks=not commands or commands[0] == "bench").parse_args(words)
    try:
        return int(args.func(args))
    except RoomFileError as exc:
        print(f"medroom: {exc}", file=sys.stderr)
        return 2
    except (UserError, DatabaseError) as exc:
        print(f"medroom: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
