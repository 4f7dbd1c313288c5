"""VISCA over IP against a fake camera head answering over a real UDP socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from room_controller.ptz import (
    PtzController,
    PtzDevice,
    UnknownCameraError,
    ViscaBufferFull,
    ViscaCamera,
    ViscaNotExecutable,
    ViscaNotStarted,
    ViscaSyntaxError,
    ViscaTimeout,
)
from room_controller.ptz.simulated import ViscaPeer
from room_controller.ptz.visca import PT_COMMAND, PT_CONTROL, PT_INQUIRY


@pytest.fixture
async def peer() -> AsyncIterator[ViscaPeer]:
    p = await ViscaPeer.start()
    yield p
    p.close()


@pytest.fixture
async def camera(peer: ViscaPeer) -> AsyncIterator[ViscaCamera]:
    cam = ViscaCamera("127.0.0.1", peer.port, timeout=0.3, retries=1)
    await cam.start()
    yield cam
    await cam.close()


def h(text: str) -> bytes:
    return bytes.fromhex(text)


async def test_start_sends_the_sequence_reset_as_a_control_command(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    first = peer.received[0]
    assert (first.payload_type, first.length, first.payload) == (PT_CONTROL, 1, b"\x01")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.pan_tilt(1, 0), "81 01 06 01 18 01 02 03 ff"),
        (lambda c: c.pan_tilt(-0.5, 0), "81 01 06 01 0c 01 01 03 ff"),
        (lambda c: c.pan_tilt(0, 1), "81 01 06 01 01 14 03 01 ff"),
        (lambda c: c.pan_tilt(0.25, -0.5), "81 01 06 01 06 0a 02 02 ff"),
        (lambda c: c.pan_tilt(0, 0), "81 01 06 01 01 01 03 03 ff"),
        (lambda c: c.zoom(1), "81 01 04 07 27 ff"),
        (lambda c: c.zoom(-1), "81 01 04 07 37 ff"),
        (lambda c: c.zoom(0.3), "81 01 04 07 22 ff"),
        (lambda c: c.zoom(0), "81 01 04 07 00 ff"),
        (lambda c: c.focus("auto"), "81 01 04 38 02 ff"),
        (lambda c: c.focus("manual"), "81 01 04 38 03 ff"),
        (lambda c: c.focus("stop"), "81 01 04 08 00 ff"),
        (lambda c: c.home(), "81 01 06 04 ff"),
        (lambda c: c.preset_store(5), "81 01 04 3f 01 05 ff"),
        (lambda c: c.preset_store(127), "81 01 04 3f 01 7f ff"),
        (lambda c: c.move_to(-2, 0x1234, 1.0), "81 01 06 02 18 14 0f 0f 0f 0e 01 02 03 04 ff"),
    ],
)
async def test_each_command_reaches_the_camera_as_visca_bytes(
    peer: ViscaPeer, camera: ViscaCamera, call: object, expected: str
) -> None:
    await call(camera)  # type: ignore[operator]
    last = peer.received[-1]
    assert last.payload_type == PT_COMMAND
    assert last.payload == h(expected)
    assert last.length == len(last.payload)


async def test_focus_near_and_far_take_focus_over_from_auto(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    await camera.focus("near")
    await camera.focus("far")
    assert peer.commands() == [h("81 01 04 38 03 ff"), h("81 01 04 08 03 ff"),
                               h("81 01 04 08 02 ff")]
    assert peer.state.focus_drive == 0x02 and not peer.state.auto_focus
    await camera.focus("auto")
    assert peer.state.auto_focus


async def test_stop_halts_pan_tilt_and_zoom(peer: ViscaPeer, camera: ViscaCamera) -> None:
    await camera.stop()
    assert peer.commands() == [h("81 01 06 01 01 01 03 03 ff"), h("81 01 04 07 00 ff")]


async def test_presets_round_trip_and_position_inquiry(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    await camera.move_to(-1200, 300)
    peer.state.zoom = 0x2000
    await camera.preset_store(3)
    await camera.home()
    assert await camera.position() == (0, 0, 0x2000)
    await camera.preset_recall(3)
    assert await camera.position() == (-1200, 300, 0x2000)
    inquiries = [r.payload for r in peer.received if r.payload_type == PT_INQUIRY]
    assert inquiries[:2] == [h("81 09 06 12 ff"), h("81 09 04 47 ff")]


async def test_completion_is_awaited_for_moves_that_take_time(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    peer.state.presets[1] = (10, 20, 30)
    peer.completion_delay = 0.4  # longer than the ACK timeout: completion has its own
    started = time.monotonic()
    await camera.preset_recall(1)
    assert time.monotonic() - started >= 0.35
    # A continuous move returns on the ACK, without waiting for completion.
    started = time.monotonic()
    await camera.pan_tilt(0.5, 0)
    assert time.monotonic() - started < 0.2


async def test_preset_numbers_are_range_checked(camera: ViscaCamera) -> None:
    for bad in (-1, 128, 1.5, True):
        with pytest.raises(ValueError, match="preset must be an integer from 0 to 127"):
            await camera.preset_recall(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pan_speed must be a number from -1 to 1"):
        await camera.pan_tilt(1.5, 0)
    with pytest.raises(ValueError, match="focus mode must be one of"):
        await camera.focus("sideways")  # type: ignore[arg-type]


async def test_error_replies_map_to_exceptions(peer: ViscaPeer, camera: ViscaCamera) -> None:
    with pytest.raises(ViscaNotExecutable, match=r"127\.0\.0\.1:\d+ refused preset recall 9"):
        await camera.preset_recall(9)  # the peer has nothing stored there
    peer.mode = "busy"
    with pytest.raises(ViscaBufferFull, match="buffer full"):
        await camera.home()
    peer.mode = "normal"
    # Garbage a real camera cannot parse: syntax error, as the camera says it.
    with pytest.raises(ViscaSyntaxError, match="syntax error") as info:
        await camera._command(h("81 01 7e 7e ff"), "garbage", wait="completion")
    assert info.value.socket_no == 0
    await camera.home()  # and the camera still works


async def test_sequence_numbers_increase_and_match_replies(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    for _ in range(3):
        await camera.pan_tilt(0.1, 0)
    await camera.position()
    seqs = [r.seq for r in peer.received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[0] == 0 and seqs[1:] == list(range(1, len(seqs)))


async def test_concurrent_requests_each_get_their_own_reply(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    peer.state.presets[2] = (5, 6, 7)
    peer.completion_delay = 0.1
    _, pos, _ = await asyncio.gather(
        camera.preset_recall(2), camera.position(), camera.zoom(0.5)
    )
    assert len(pos) == 3


async def test_a_lost_datagram_is_resent_with_the_same_sequence_number(
    peer: ViscaPeer, camera: ViscaCamera
) -> None:
    peer.drop_next = 1
    await camera.home()
    last_two = peer.received[-2:]
    assert [r.payload for r in last_two] == [h("81 01 06 04 ff")] * 2
    assert last_two[0].seq == last_two[1].seq


async def test_a_mute_camera_times_out_naming_its_address(peer: ViscaPeer) -> None:
    peer.mode = "mute"
    cam = ViscaCamera("127.0.0.1", peer.port, timeout=0.2, retries=2)
    started = time.monotonic()
    with pytest.raises(ViscaTimeout, match=rf"127\.0\.0\.1:{peer.port} did not answer "
                                           r"sequence reset \(3 attempts of 0\.2 s\)"):
        await cam.start()
    elapsed = time.monotonic() - started
    assert 0.55 <= elapsed < 0.9
    started = time.monotonic()
    with pytest.raises(ViscaTimeout):
        await cam.pan_tilt(1, 0)
    assert time.monotonic() - started < 0.9
    assert len(peer.received) == 6  # 3 resets, then 3 resets again before the move
    # The camera comes back: the next command resynchronises and goes through.
    peer.mode = "normal"
    await cam.pan_tilt(1, 0)
    assert peer.received[-2].payload_type == PT_CONTROL
    assert peer.received[-1].payload == h("81 01 06 01 18 01 02 03 ff")
    await cam.close()


async def test_a_closed_port_times_out_with_the_socket_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cam = ViscaCamera("127.0.0.1", port, timeout=0.1, retries=0)
    with pytest.raises(ViscaTimeout, match=f"127.0.0.1:{port}"):
        await cam.start()
    await cam.close()


async def test_use_before_start_is_a_clear_error() -> None:
    cam = ViscaCamera("127.0.0.1", 9)
    with pytest.raises(ViscaNotStarted, match="before start"):
        await cam.home()


# -- controller ----------------------------------------------------------------------------------


async def test_controller_coalesces_a_held_key_last_wins(peer: ViscaPeer) -> None:
    ptz = PtzController([PtzDevice("room", "127.0.0.1", peer.port)], timeout=0.3,
                        min_interval=0.05)
    await ptz.start()
    try:
        started = time.monotonic()
        for i in range(100):  # a key held for ~0.5 s, repeating every 5 ms
            ptz.move("room", 0.5 + i / 400, 0)
            await asyncio.sleep(0.005)
        ptz.move("room", 0, 0)  # released
        await ptz.drain()
        elapsed = time.monotonic() - started
        drives = [c for c in peer.commands() if c[2:4] == b"\x06\x01"]
        submitted, sent = ptz.coalescer_stats("room")["pan_tilt"]
        assert submitted == 101
        assert sent == len(drives)
        # At most one per 50 ms (+1 for the first, sent at once).
        assert len(drives) <= elapsed / 0.05 + 1
        assert len(drives) >= 3
        assert drives[-1] == h("81 01 06 01 01 01 03 03 ff")  # the stop is never dropped
        assert ptz.health()[0].reachable is True
    finally:
        await ptz.stop()


async def test_controller_reports_a_dead_camera_without_raising(peer: ViscaPeer) -> None:
    peer.mode = "mute"
    ptz = PtzController([PtzDevice("dead", "127.0.0.1", peer.port),
                         PtzDevice("dead2", "127.0.0.1", peer.port)],
                        timeout=0.1, retries=0)
    await ptz.start()  # does not raise
    try:
        health = ptz.health()
        assert [x.reachable for x in health] == [False, False]
        assert f"127.0.0.1:{peer.port} did not answer" in (health[0].last_error or "")
        ptz.move("dead", 1, 0)  # fire and forget: the failure lands in health, not here
        await ptz.drain("dead")
        assert ptz.health()[0].reachable is False
        with pytest.raises(ViscaTimeout):
            await ptz.preset_recall("dead", 1)
        peer.mode = "normal"
        await ptz.home("dead")
        assert ptz.health()[0].reachable is True and ptz.health()[0].last_error is None
    finally:
        await ptz.stop()


async def test_controller_refusals_keep_the_camera_reachable(peer: ViscaPeer) -> None:
    ptz = PtzController([PtzDevice("cam", "127.0.0.1", peer.port)], timeout=0.3)
    await ptz.start()
    try:
        with pytest.raises(ViscaNotExecutable):
            await ptz.preset_recall("cam", 40)
        health = ptz.health()[0]
        assert health.reachable is True and "not executable" in (health.last_error or "")
        await ptz.preset_store("cam", 40)
        await ptz.preset_recall("cam", 40)
        assert await ptz.position("cam") == (0, 0, 0)
        with pytest.raises(UnknownCameraError, match="no PTZ camera 'nope'.*cameras: cam"):
            ptz.move("nope", 0, 0)
        with pytest.raises(ValueError):
            ptz.zoom("cam", 2)
    finally:
        await ptz.stop()


async def test_controller_stop_halts_a_moving_head(peer: ViscaPeer) -> None:
    ptz = PtzController([PtzDevice("cam", "127.0.0.1", peer.port)], timeout=0.3)
    await ptz.start()
    ptz.move("cam", 1, 0)
    await ptz.drain()
    await ptz.stop()
    assert peer.commands()[-2:] == [h("81 01 06 01 01 01 03 03 ff"), h("81 01 04 07 00 ff")]


async def test_controller_stops_a_move_nobody_renews(peer: ViscaPeer) -> None:
    stop = h("81 01 06 01 01 01 03 03 ff")
    ptz = PtzController([PtzDevice("cam", "127.0.0.1", peer.port)], timeout=0.3, deadman=0.4)
    await ptz.start()
    try:
        ptz.move("cam", 1, 0)
        # Held: the console renews the move; no stop is sent however long it is held.
        for _ in range(10):
            await asyncio.sleep(0.1)
            assert ptz.keepalive("cam") is True
        await ptz.drain()
        assert stop not in peer.commands() and ptz.driving("cam")
        # The console vanishes: the controller stops the head by itself.
        deadline = time.monotonic() + 5
        while stop not in peer.commands():
            assert time.monotonic() < deadline, "the head was never stopped"
            await asyncio.sleep(0.05)
        assert not ptz.driving("cam") and ptz.keepalive("cam") is False
    finally:
        await ptz.stop()


async def test_an_idle_head_that_falls_silent_is_noticed_and_its_return_too(
        peer: ViscaPeer) -> None:
    # Default timeout and retries (1 s, one retry): what a room runs with.
    ptz = PtzController([PtzDevice("idle", "127.0.0.1", peer.port)], probe_interval=2.0)
    await ptz.start()
    try:
        assert ptz.health()[0].reachable is True
        tasks = len(asyncio.all_tasks())
        # Nobody drives the head, yet it is asked (power inquiry) and its answer stays fresh.
        await asyncio.sleep(4.5)
        health = ptz.health()[0]
        assert health.reachable is True and health.last_answer_age is not None
        assert health.last_answer_age < 2.5
        inquiries = [r.payload for r in peer.received if r.payload_type == PT_INQUIRY]
        assert inquiries == [h("81 09 04 00 ff")] * 2  # one every 2 s, nothing more
        assert peer.commands() == []  # a probe moves nothing

        peer.mode = "mute"  # unplugged while idle: no command will notice
        silent_at = time.monotonic()
        while ptz.health()[0].reachable:
            assert time.monotonic() - silent_at < 5.0, "the silent head still shows answering"
            await asyncio.sleep(0.05)
        health = ptz.health()[0]
        assert f"127.0.0.1:{peer.port} did not answer" in (health.last_error or "")
        assert health.last_answer_age is not None and health.last_answer_age >= 2.0

        peer.mode = "normal"  # plugged back in
        back_at = time.monotonic()
        while not ptz.health()[0].reachable:
            assert time.monotonic() - back_at < 5.0, "the head answers again but shows silent"
            await asyncio.sleep(0.05)
        assert ptz.health()[0].last_error is None and ptz.health()[0].last_answer_age < 1.0
        assert peer.commands() == []
        assert len(asyncio.all_tasks()) == tasks  # probing holds one task per head, no more
    finally:
        await ptz.stop()


async def test_a_driven_head_is_not_probed(peer: ViscaPeer) -> None:
    ptz = PtzController([PtzDevice("busy", "127.0.0.1", peer.port)], timeout=0.3,
                        probe_interval=0.5, min_interval=0.05)
    await ptz.start()
    try:
        for _ in range(30):  # a key held for 1.5 s: a move renewed every 50 ms
            ptz.move("busy", 0.5, 0)
            await asyncio.sleep(0.05)
        ptz.move("busy", 0, 0)
        await ptz.drain()
        assert not [r for r in peer.received if r.payload_type == PT_INQUIRY]
    finally:
        await ptz.stop()
    # Stopped means stopped: no probe after stop(), and the socket is closed.
    count = len(peer.received)
    await asyncio.sleep(0.8)
    assert len(peer.received) == count


def test_the_probe_interval_is_bounded() -> None:
    for interval in (0.0, 0.1, 600.0):
        with pytest.raises(ValueError, match="probe_interval must be 0.5 to 30 s"):
            PtzController([PtzDevice("cam", "127.0.0.1", 52381)], probe_interval=interval)
