"""A socket's outbox: bounded, and a client that cannot keep up is closed, not waited for."""

from __future__ import annotations

from library.cme import audit
from room_controller.interaction.participants import Participant
from web.interaction import CLOSE_TOO_SLOW, Connection


async def test_a_full_outbox_closes_only_that_connection_with_a_reason() -> None:
    slow = Connection(Participant("slow", "Slow"), audit.Actor("slow", "student"), size=3)
    fast = Connection(Participant("fast", "Fast"), audit.Actor("fast", "student"), size=3)
    for i in range(3):
        slow.offer(f"m{i}")
        fast.offer(f"m{i}")
    assert fast.queue.get_nowait() == "m0"
    slow.offer("one too many")
    fast.offer("m3")
    assert slow.close_code == CLOSE_TOO_SLOW and "keep up" in slow.close_reason
    assert slow.queue.get_nowait() is None and slow.queue.empty()  # nothing stale is sent
    slow.offer("after closing")
    assert slow.queue.empty()
    assert [fast.queue.get_nowait() for _ in range(3)] == ["m1", "m2", "m3"]
    assert fast.close_reason == ""
